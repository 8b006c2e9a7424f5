"""SQL of leases beyond the fund order aggregate: which leases the job must look at, and
the schedule change log."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.tables import billings, lease_schedule_changes

CHANGES_LIMIT_MAX = 1000


@dataclass(frozen=True)
class ScheduleChangeRecord:
    """One stored change of a lease's schedule."""

    seq: int
    billing_id: str | None
    change: str
    detail: str
    actor: str
    changed_at: datetime


class LeaseRepository:
    """Reads for the lease job and the lease API."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def leases_needing_attention(
        self, *, now: datetime, grace: timedelta, limit: int
    ) -> list[str]:
        """Order ids of leases with an installment to fall due or to mark overdue at ``now``
        (the partial index on open installments keeps this a range scan)."""
        b = billings
        open_installment = sa.and_(
            b.c.stage == "installment", b.c.cancelled_at.is_(None), b.c.scheduled_due_at <= now
        )
        late_and_unpaid = sa.and_(
            b.c.overdue_at.is_(None),
            b.c.paid_fen < b.c.amount_fen,
            b.c.scheduled_due_at <= now - grace,
        )
        rows = await self._session.execute(
            sa.select(b.c.order_id)
            .where(open_installment, sa.or_(b.c.due_at.is_(None), late_and_unpaid))
            .group_by(b.c.order_id)
            .order_by(sa.func.min(b.c.scheduled_due_at))
            .limit(limit)
        )
        return [str(order_id) for (order_id,) in rows]

    async def changes(self, order_id: uuid.UUID, *, limit: int) -> list[ScheduleChangeRecord]:
        """The schedule changes of one lease, oldest first."""
        t = lease_schedule_changes
        rows = await self._session.execute(
            sa.select(t).where(t.c.order_id == order_id).order_by(t.c.seq).limit(limit)
        )
        return [
            ScheduleChangeRecord(
                seq=r.seq,
                billing_id=r.billing_id,
                change=r.change,
                detail=r.detail,
                actor=r.actor,
                changed_at=r.changed_at,
            )
            for r in rows
        ]
