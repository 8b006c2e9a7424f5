"""SQL for consumed events the posting rules refused (kept for finance to resolve)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from ledger_service.adapters.tables import unposted_events

MAX_REASON_CHARS = 2000


@dataclass(frozen=True)
class UnpostedEvent:
    """An event that posted nothing because its content broke a posting rule."""

    event_id: uuid.UUID
    event_type: str
    order_id: str | None
    code: str
    reason: str
    body: str
    recorded_at: datetime


class UnpostedRepository:
    """Unposted events inside the caller's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        event_id: uuid.UUID,
        event_type: str,
        order_id: str | None,
        code: str,
        reason: str,
        body: str,
    ) -> None:
        """Record the event once (a redelivery keeps the first record)."""
        await self._session.execute(
            pg_insert(unposted_events)
            .values(
                event_id=event_id,
                event_type=event_type,
                order_id=order_id,
                code=code,
                reason=reason[:MAX_REASON_CHARS],
                body=body,
            )
            .on_conflict_do_nothing(index_elements=[unposted_events.c.event_id])
        )

    async def recent(self, *, limit: int) -> list[UnpostedEvent]:
        """The most recent unposted events first."""
        rows = await self._session.execute(
            sa.select(unposted_events).order_by(unposted_events.c.recorded_at.desc()).limit(limit)
        )
        return [UnpostedEvent(**row._mapping) for row in rows]
