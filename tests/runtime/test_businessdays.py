"""Refund due dates count Indonesian business days: weekends and public holidays are skipped."""

from datetime import date

import pytest

from aturan.runtime.businessdays import add_business_days, is_business_day


@pytest.mark.parametrize("start, days, due", [
    pytest.param(date(2024, 3, 1), 14, date(2024, 3, 22), id="skips-nyepi-2024-03-11"),
    pytest.param(date(2024, 12, 20), 14, date(2025, 1, 13), id="skips-christmas-and-new-year"),
    pytest.param(date(2024, 3, 8), 3, date(2024, 3, 14), id="weekend-and-holiday-together"),
    pytest.param(date(2024, 3, 9), 0, date(2024, 3, 12), id="zero-days-from-a-saturday"),
    pytest.param(date(2024, 3, 12), 0, date(2024, 3, 12), id="zero-days-on-a-business-day"),
])
def test_add_business_days(start, days, due):
    assert add_business_days(start, days) == due


def test_holidays_and_weekends_are_not_business_days():
    assert not is_business_day(date(2024, 8, 17))  # Independence Day (a Saturday too)
    assert not is_business_day(date(2025, 12, 25))  # Christmas, a Thursday
    assert not is_business_day(date(2024, 3, 10))  # Sunday
    assert is_business_day(date(2024, 3, 13))
