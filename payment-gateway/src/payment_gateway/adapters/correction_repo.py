"""SQL of payment corrections (``payment.payment_corrections``, append-only)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.repository import payment_from_row
from payment_gateway.adapters.tables import payment_corrections, payments, refunds
from payment_gateway.domain.correction import counted_refund_fen
from payment_gateway.domain.payment import Payment
from payment_gateway.domain.refund import Refund


class CorrectionRepository:
    """Corrections: insert once, read by adjustment or discrepancy, apply to the payment."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, values: dict[str, Any]) -> dict[str, Any] | None:
        """Insert a correction; None when its adjustment or discrepancy has one already."""
        statement = (
            pg_insert(payment_corrections)
            .values(**values)
            .on_conflict_do_nothing()
            .returning(payment_corrections)
        )
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else dict(row)

    async def find(self, adjustment_id: str, discrepancy_id: str) -> dict[str, Any] | None:
        """The correction made for this adjustment, else for this discrepancy, if any."""
        query = (
            sa.select(payment_corrections)
            .where(
                sa.or_(
                    payment_corrections.c.adjustment_id == adjustment_id,
                    payment_corrections.c.discrepancy_id == discrepancy_id,
                )
            )
            .order_by((payment_corrections.c.adjustment_id != adjustment_id).asc())
            .limit(1)
        )
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else dict(row)

    async def list_for_payment(self, payment_id: uuid.UUID) -> list[dict[str, Any]]:
        """Corrections of one payment, oldest first."""
        query = (
            sa.select(payment_corrections)
            .where(payment_corrections.c.payment_id == payment_id)
            .order_by(payment_corrections.c.created_at)
        )
        return [dict(r) for r in (await self._session.execute(query)).mappings()]

    async def apply(
        self, payment: Payment, after: dict[str, Any], *, completed_at: datetime, now: datetime
    ) -> Payment | None:
        """Set the payment to the corrected figures, guarded by the figures it had (None:
        it changed meanwhile); ``completed_at`` only where it had none."""
        statement = (
            sa.update(payments)
            .where(
                payments.c.payment_id == payment.payment_id,
                payments.c.status == payment.status.value,
                payments.c.amount_fen == payment.amount_fen,
            )
            .values(
                status=after["status"],
                amount_fen=after["amount_fen"],
                channel_txn_id=after["channel_txn_id"],
                completed_at=payment.completed_at or completed_at,
                next_query_at=None,
                updated_at=now,
            )
            .returning(*payments.c)
        )
        row = (await self._session.execute(statement)).mappings().first()
        return None if row is None else payment_from_row(row)

    async def apply_refund(self, refund: Refund, after: dict[str, Any], *, now: datetime) -> bool:
        """Set the refund to the corrected figures and count the difference (more or less
        refunded) on its payment, guarded by the figures the refund had and the payment's
        amount (False: changed)."""
        changed = await self._session.execute(
            sa.update(refunds)
            .where(
                refunds.c.refund_id == refund.refund_id,
                refunds.c.status == refund.status.value,
                refunds.c.amount_fen == refund.amount_fen,
            )
            .values(
                status=after["status"],
                amount_fen=after["amount_fen"],
                completed_at=refund.completed_at or now,
                next_query_at=None,
                updated_at=now,
            )
            .returning(refunds.c.refund_id)
        )
        if changed.first() is None:
            return False
        more = after["amount_fen"] - counted_refund_fen(refund)  # < 0: the refund shrank
        result = await self._session.execute(
            sa.update(payments)
            .where(
                payments.c.payment_id == refund.payment_id,
                payments.c.refunded_fen + more <= payments.c.amount_fen,
                payments.c.refunded_fen + more >= 0,
            )
            .values(refunded_fen=payments.c.refunded_fen + more, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult
