"""Indonesian business days: weekends and holidays (the `holidays` package) excluded.

Which holidays depends on the ruleset's `calendar`: `public_holidays` (the default: hari libur
nasional, the package's `public` category) or `public_and_joint_leave` (also cuti bersama, the
joint leave days of the government decree: its `government` category). See docs/authoring.md
for why the default is public holidays only."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from ..language.model import DEFAULT_CALENDAR

_CATEGORIES = {"public_holidays": ("public",), "public_and_joint_leave": ("public", "government")}


@lru_cache(maxsize=128)
def _holidays(year: int, calendar: str = DEFAULT_CALENDAR) -> frozenset[date]:
    return frozenset(holidays.country_holidays("ID", years=year,
                                               categories=_CATEGORIES[calendar]).keys())


def is_business_day(day: date, calendar: str = DEFAULT_CALENDAR) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year, calendar)


def add_business_days(start: date, days: int, calendar: str = DEFAULT_CALENDAR) -> date:
    """The `days`-th business day after `start` (start itself not counted); 0 -> `start` if it is a
    business day, else the next business day."""
    current = start
    if days == 0:
        while not is_business_day(current, calendar):
            current += timedelta(days=1)
        return current
    remaining = days
    while remaining:
        current += timedelta(days=1)
        if is_business_day(current, calendar):
            remaining -= 1
    return current
