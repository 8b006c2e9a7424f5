"""SQL for the raw callback requests (every notification as received, with our verdict)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.tables import callback_requests

Verdict = Literal["accepted", "duplicate", "rejected"]
STORED_BODY_BYTES_MAX = 64 * 1024  # an oversized body is stored truncated
HEADER_VALUE_CHARS_MAX = 2048


@dataclass(frozen=True, kw_only=True)
class CallbackRecord:
    """One received notification and what we made of it."""

    channel: ChannelCode
    received_at: datetime
    headers: Mapping[str, str]
    body: bytes
    body_bytes: int
    verdict: Verdict
    reason: str | None = None
    notification_id: str | None = None
    out_trade_no: str | None = None
    payment_id: uuid.UUID | None = None
    refund_id: uuid.UUID | None = None


def record_row(record: CallbackRecord) -> dict[str, Any]:
    """The callback_requests row of a record (bounded sizes)."""
    return {
        "channel": record.channel,
        "received_at": record.received_at,
        "headers": {k.lower(): v[:HEADER_VALUE_CHARS_MAX] for k, v in record.headers.items()},
        "body": record.body[:STORED_BODY_BYTES_MAX],
        "body_bytes": record.body_bytes,
        "verdict": record.verdict,
        "reason": record.reason,
        "notification_id": (record.notification_id or "")[:128] or None,
        "out_trade_no": (record.out_trade_no or "")[:64] or None,
        "payment_id": record.payment_id,
        "refund_id": record.refund_id,
    }


class CallbackLog:
    """Appends raw callback requests."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, record: CallbackRecord) -> None:
        """Store one request (in the caller's transaction)."""
        await self._session.execute(sa.insert(callback_requests).values(record_row(record)))

    async def count(self, channel: ChannelCode, verdict: Verdict | None = None) -> int:
        """How many requests of a channel (and verdict) were stored."""
        query = sa.select(sa.func.count()).where(callback_requests.c.channel == channel)
        if verdict is not None:
            query = query.where(callback_requests.c.verdict == verdict)
        return int(await self._session.scalar(query) or 0)
