"""Business dates: the Asia/Shanghai calendar day of a UTC instant.

China has kept UTC+8 without daylight saving since 1991, so when the host has no tz database
(slim images without ``tzdata``) a fixed +08:00 offset gives the same dates for every instant
this system will see.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Final
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from ledger_service.domain.errors import InvalidEvent

BUSINESS_TZ_NAME: Final = "Asia/Shanghai"


def _business_tz() -> tzinfo:
    try:
        return ZoneInfo(BUSINESS_TZ_NAME)
    except ZoneInfoNotFoundError:
        return timezone(timedelta(hours=8), BUSINESS_TZ_NAME)


BUSINESS_TZ: Final = _business_tz()


def business_date_of(instant: datetime) -> date:
    """The Asia/Shanghai date of a timezone-aware instant; naive datetimes raise `InvalidEvent`.

    Example: 2024-03-31T16:30:00Z is 2024-04-01 00:30 in Shanghai, so business date 2024-04-01.
    """
    if not isinstance(instant, datetime):
        raise InvalidEvent("a business date needs a datetime")
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise InvalidEvent(f"timestamp {instant.isoformat()} has no timezone; expected UTC")
    return instant.astimezone(BUSINESS_TZ).date()
