"""Business dates: the Asia/Shanghai calendar day of a UTC instant, and back.

Storage is UTC; business dates (statement days, due dates of installments, the 14:30 cut) are
Asia/Shanghai. China has kept UTC+8 without daylight saving since 1991, so when the host has
no tz database (slim images without ``tzdata``) a fixed +08:00 offset gives the same answers.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

BUSINESS_TZ_NAME: Final = "Asia/Shanghai"


def _business_tz() -> tzinfo:
    try:
        return ZoneInfo(BUSINESS_TZ_NAME)
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=8), BUSINESS_TZ_NAME)


BUSINESS_TZ: Final = _business_tz()


def business_date(instant: datetime) -> date:
    """The Asia/Shanghai date of an aware instant (2024-03-31T16:30Z → 2024-04-01).

    A naive datetime raises ValueError: nothing in this system has a local wall time.
    """
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"timestamp {instant.isoformat()} has no timezone; expected UTC")
    return instant.astimezone(BUSINESS_TZ).date()


def start_of_business_day(day: date) -> datetime:
    """00:00 Asia/Shanghai of ``day``, as aware UTC (2024-04-01 → 2024-03-31T16:00Z)."""
    return datetime.combine(day, time(0), tzinfo=BUSINESS_TZ).astimezone(UTC)
