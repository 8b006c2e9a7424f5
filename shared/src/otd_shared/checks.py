"""Input checks shared by the services' domains: money in fen, UTC timestamps, text.

A domain never reads a clock: every timestamp is passed in and must be aware UTC. Each
check returns its value or raises InvalidField / InvalidAmount (422) naming the field.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from otd_shared.errors import InvalidAmount, InvalidField
from otd_shared.money import MAX_AMOUNT_FEN

MAX_TEXT_CHARS = 200


def require_utc(at: datetime, field: str = "at") -> datetime:
    """Return ``at`` if it is a timezone-aware UTC timestamp; raise InvalidField otherwise."""
    if at.tzinfo is None or at.utcoffset() != timedelta(0):
        raise InvalidField(field, "must be a timezone-aware UTC timestamp")
    return at


def require_text(value: str, field: str) -> str:
    """Return ``value`` if it is non-blank and of sane length."""
    if not value.strip():
        raise InvalidField(field, "must not be blank")
    if len(value) > MAX_TEXT_CHARS:
        raise InvalidField(field, f"must be at most {MAX_TEXT_CHARS} characters")
    return value


def require_fen(value: int, field: str, *, minimum_fen: int = 1) -> int:
    """Return ``value`` if it is an integer amount in fen of at least ``minimum_fen``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(field, "must be an integer amount in fen")
    if value < minimum_fen:
        raise InvalidAmount(field, f"must be at least {minimum_fen} fen")
    if value > MAX_AMOUNT_FEN:
        raise InvalidAmount(field, "is out of range")
    return value
