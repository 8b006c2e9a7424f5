"""SQL of reminders: which orders have a billing to remind now, and the steps sent.

The due-ness is read from ``billings.next_reminder_at`` (written with every save of the fund
order from the named schedule); the decision itself is the domain's ``reminders_due``, taken
under the fund order lock.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.tables import billing_reminders, billings


class ReminderRepository:
    """Reminder bookkeeping inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def billings_to_remind(self, *, now: datetime, limit: int) -> list[str]:
        """Orders with a billing whose next reminder time has come (oldest first)."""
        t = billings
        rows = await self._session.execute(
            sa.select(t.c.order_id, sa.func.min(t.c.next_reminder_at).label("first"))
            .where(t.c.next_reminder_at <= now, t.c.status.in_(("due", "partially_paid")))
            .group_by(t.c.order_id)
            .order_by("first")
            .limit(limit)
        )
        return [str(row.order_id) for row in rows]

    async def record_reminder(
        self, *, billing_id: str, step: int, schedule: str, remind_at: datetime,
        sent_at: datetime, event_id: uuid.UUID,
    ) -> None:  # fmt: skip
        """Record that a reminder step was sent (the caller holds the fund order lock)."""
        await self._session.execute(
            sa.insert(billing_reminders).values(
                billing_id=uuid.UUID(billing_id),
                step=step,
                schedule=schedule,
                remind_at=remind_at,
                sent_at=sent_at,
                event_id=event_id,
            )
        )
