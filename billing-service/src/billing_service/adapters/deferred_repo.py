"""SQL of payment outcomes not applied yet (``waiting``: a refund before its payment's
success) or refused (``conflict``: contradicts what was applied, unknown billing...).

Waiting rows are retried after the next success on their billing, in arrival order, in
the same transaction; conflicts stay for finance and recon to look at. Neither ever
changes a billing on its own, and neither blocks later events of the order.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.tables import deferred_outcomes
from otd_shared.events import PaymentCallback, PaymentCorrected

WAITING, APPLIED, CONFLICT = "waiting", "applied", "conflict"
DEFERRED_STATUSES = (WAITING, APPLIED, CONFLICT)


@dataclass(frozen=True, kw_only=True)
class DeferredOutcome:
    """A payment outcome kept aside, with why."""

    id: int
    event_id: uuid.UUID
    order_id: str
    billing_id: str
    payment_id: str
    refund_id: str | None
    outcome: str
    channel: str
    amount_fen: int
    occurred_at: datetime
    status: str
    error: str | None
    created_at: datetime
    resolved_at: datetime | None


class DeferredOutcomeRepository:
    """Deferred outcomes inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(
        self,
        event_id: uuid.UUID,
        callback: PaymentCallback | PaymentCorrected,
        *,
        occurred_at: datetime,
        status: str,
        error: str | None,
        at: datetime,
    ) -> None:
        """Keep an outcome aside (idempotent by event id); a correction as ``corrected`` with
        its correction id and the amount it sets."""
        refund_id: str | None
        if isinstance(callback, PaymentCorrected):
            outcome, refund_id = "corrected", callback.correction_id
            amount_fen = callback.after_amount_fen
        else:
            outcome, refund_id = callback.outcome, callback.refund_id
            amount_fen = callback.amount_fen
        await self._session.execute(
            pg_insert(deferred_outcomes)
            .values(
                event_id=event_id,
                order_id=callback.order_id,
                billing_id=callback.billing_id,
                payment_id=callback.payment_id,
                refund_id=refund_id,
                outcome=outcome,
                channel=callback.channel,
                amount_fen=amount_fen,
                occurred_at=occurred_at,
                status=status,
                error=error,
                created_at=at,
                resolved_at=None if status == WAITING else at,
            )
            .on_conflict_do_nothing()
        )

    async def waiting_for(self, billing_id: str) -> list[DeferredOutcome]:
        """Waiting outcomes of a billing, in arrival order."""
        t = deferred_outcomes
        rows = await self._session.execute(
            sa.select(t).where(t.c.billing_id == billing_id, t.c.status == WAITING).order_by(t.c.id)
        )
        return [_outcome(r) for r in rows.mappings()]

    async def waiting_for_many(
        self, billing_ids: Sequence[str]
    ) -> dict[str, list[DeferredOutcome]]:
        """Waiting outcomes of several billings (one statement), each in arrival order;
        a billing without any is absent."""
        if not billing_ids:
            return {}
        t = deferred_outcomes
        rows = await self._session.execute(
            sa.select(t)
            .where(
                t.c.billing_id == sa.any_(sa.bindparam(None, list(billing_ids), ARRAY(sa.Text))),
                t.c.status == WAITING,
            )
            .order_by(t.c.id)
        )
        found: dict[str, list[DeferredOutcome]] = {}
        for r in rows.mappings():
            found.setdefault(r["billing_id"], []).append(_outcome(r))
        return found

    async def resolve(
        self, outcome_id: int, *, status: str, error: str | None, at: datetime
    ) -> None:
        """Mark a waiting outcome applied (or a conflict after all)."""
        await self._session.execute(
            sa.update(deferred_outcomes)
            .where(deferred_outcomes.c.id == outcome_id)
            .values(status=status, error=error, resolved_at=at)
        )

    async def page(
        self, *, status: str | None, order_id: str | None, limit: int, offset: int
    ) -> tuple[list[DeferredOutcome], int]:
        """Deferred outcomes, newest first, filtered; with the total count."""
        t = deferred_outcomes
        conditions = []
        if status is not None:
            conditions.append(t.c.status == status)
        if order_id is not None:
            conditions.append(t.c.order_id == order_id)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(t).where(*conditions).order_by(t.c.id.desc()).limit(limit).offset(offset)
        )
        return [_outcome(r) for r in rows.mappings()], int(total or 0)


def _outcome(r: sa.RowMapping) -> DeferredOutcome:
    return DeferredOutcome(
        id=r["id"],
        event_id=r["event_id"],
        order_id=r["order_id"],
        billing_id=r["billing_id"],
        payment_id=r["payment_id"],
        refund_id=r["refund_id"],
        outcome=r["outcome"],
        channel=r["channel"],
        amount_fen=r["amount_fen"],
        occurred_at=r["occurred_at"],
        status=r["status"],
        error=r["error"],
        created_at=r["created_at"],
        resolved_at=r["resolved_at"],
    )
