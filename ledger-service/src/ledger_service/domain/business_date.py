"""Business dates: the Asia/Shanghai calendar day of a UTC instant (``otd_shared.business_time``),
with the ledger's own error for inputs an event should never carry."""

from __future__ import annotations

from datetime import date, datetime

from ledger_service.domain.errors import InvalidEvent
from otd_shared.business_time import business_date


def business_date_of(instant: datetime) -> date:
    """The Asia/Shanghai date of a timezone-aware instant; naive datetimes raise `InvalidEvent`.

    Example: 2024-03-31T16:30:00Z is 2024-04-01 00:30 in Shanghai, so business date 2024-04-01.
    """
    if not isinstance(instant, datetime):
        raise InvalidEvent("a business date needs a datetime")
    try:
        return business_date(instant)
    except ValueError as exc:
        raise InvalidEvent(
            f"timestamp {instant.isoformat()} has no timezone; expected UTC"
        ) from exc
