"""Business days: weekends and a calendar's public holidays (the `holidays` package) excluded.
The calendar is a platform's (`Platform.calendar`): ID, Indonesia's, for the bundled ones; ""
for weekends only."""

from __future__ import annotations

from datetime import date, timedelta
from functools import lru_cache

import holidays

from ..language.catalogue import BUNDLED_CALENDAR


@lru_cache(maxsize=256)
def _holidays(year: int, calendar: str = BUNDLED_CALENDAR) -> frozenset[date]:
    if not calendar:
        return frozenset()
    return frozenset(holidays.country_holidays(calendar, years=year).keys())


def is_business_day(day: date, calendar: str = BUNDLED_CALENDAR) -> bool:
    return day.weekday() < 5 and day not in _holidays(day.year, calendar)


def add_business_days(start: date, days: int, calendar: str = BUNDLED_CALENDAR) -> date:
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
