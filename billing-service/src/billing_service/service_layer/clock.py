"""Time at the service layer: the domain never reads a clock, this module does."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    """The current time, aware UTC."""
    return datetime.now(UTC)


def utc(at: datetime) -> datetime:
    """An event time as aware UTC (a naive time is taken as UTC: storage is UTC)."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)
