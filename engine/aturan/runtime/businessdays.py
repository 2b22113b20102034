"""Business days: weekends and a calendar's holidays (the `holidays` package) excluded.

The calendar is a platform's (`Platform.calendar`): ID, Indonesia's, for the bundled ones; ""
for weekends only. Which of its holidays depends on the ruleset's `holidays`: `public` (the
default: hari libur nasional, the package's `public` category) or `public_and_joint_leave` (also
cuti bersama, the joint leave days of the Indonesian government decree: its `government`
category; a country without such a category has public holidays only). See docs/authoring.md for
why the default is public holidays only."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from ..language.catalogue import BUNDLED_CALENDAR
from ..language.model import DEFAULT_HOLIDAYS

# a ruleset's `holidays` -> the `holidays` package categories it skips
CATEGORIES = {"public": ("public",), "public_and_joint_leave": ("public", "government")}


@lru_cache(maxsize=256)
def _holidays(year: int, calendar: str = BUNDLED_CALENDAR,
              kinds: str = DEFAULT_HOLIDAYS) -> frozenset[date]:
    if not calendar:
        return frozenset()
    supported = holidays.country_holidays(calendar).supported_categories
    categories = tuple(c for c in CATEGORIES[kinds] if c in supported)
    return frozenset(holidays.country_holidays(calendar, years=year,
                                               categories=categories).keys())


def is_business_day(day: date, calendar: str = BUNDLED_CALENDAR,
                    kinds: str = DEFAULT_HOLIDAYS) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year, calendar, kinds)


def add_business_days(start: date, days: int, calendar: str = BUNDLED_CALENDAR,
                      kinds: str = DEFAULT_HOLIDAYS) -> date:
    """The `days`-th business day after `start` (start itself not counted); 0 -> `start` if it is a
    business day, else the next business day. `kinds`: a ruleset's `holidays`."""
    current = start
    if days == 0:
        while not is_business_day(current, calendar, kinds):
            current += timedelta(days=1)
        return current
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current, calendar, kinds):
            remaining -= 1
    return current
