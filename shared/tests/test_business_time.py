"""Business dates are Asia/Shanghai days; the two conversions agree."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from otd_shared.business_time import business_date, start_of_business_day


def test_the_shanghai_day_starts_at_16_utc_the_evening_before() -> None:
    assert business_date(datetime(2024, 3, 31, 16, 30, tzinfo=UTC)) == date(2024, 4, 1)
    assert business_date(datetime(2024, 3, 31, 15, 59, tzinfo=UTC)) == date(2024, 3, 31)
    assert start_of_business_day(date(2024, 4, 1)) == datetime(2024, 3, 31, 16, tzinfo=UTC)


def test_a_naive_timestamp_is_refused() -> None:
    with pytest.raises(ValueError, match="no timezone"):
        business_date(datetime(2024, 4, 1))  # noqa: DTZ001  (the case under test)


@given(st.dates(min_value=date(2000, 1, 1), max_value=date(2100, 1, 1)))
def test_the_start_of_a_day_lies_in_that_day(day: date) -> None:
    assert business_date(start_of_business_day(day)) == day
