"""SQL for payments and refunds. State changes are guarded UPDATEs whose row count is checked:
``UPDATE … SET status = :to WHERE id = :id AND status IN (:sources of :to)``."""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.tables import payments, refunds
from payment_gateway.domain import payment as payment_sm
from payment_gateway.domain import refund as refund_sm
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import Refund, RefundStatus

LIST_LIMIT_MAX = 200


def payment_from_row(row: Any) -> Payment:
    """A payment from a result row (SQLAlchemy mapping or asyncpg record)."""
    params = row["pay_params"]
    return Payment(
        payment_id=row["payment_id"],
        out_trade_no=row["out_trade_no"],
        billing_id=row["billing_id"],
        order_id=row["order_id"],
        stage=row["stage"],
        channel=ChannelCode(row["channel"]),
        method=row["method"],
        amount_fen=row["amount_fen"],
        currency=row["currency"],
        status=PaymentStatus(row["status"]),
        channel_txn_id=row["channel_txn_id"],
        fee_fen=row["fee_fen"],
        refunded_fen=row["refunded_fen"],
        pay_params=json.loads(params) if isinstance(params, str) else dict(params),
        failure_code=row["failure_code"],
        failure_message=row["failure_message"],
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        expires_at=row["expires_at"],
        completed_at=row["completed_at"],
        next_query_at=row["next_query_at"],
        query_attempts=row["query_attempts"],
    )


# A manual refund billing asked for without naming a payment has no channel; the column is
# NOT NULL, so it stores this word.
NO_CHANNEL: Final = "unknown"


def _refund(row: RowMapping) -> Refund:
    return Refund(
        refund_id=row["refund_id"],
        out_refund_no=row["out_refund_no"],
        payment_id=row["payment_id"],
        billing_id=row["billing_id"],
        order_id=row["order_id"],
        channel=None if row["channel"] == NO_CHANNEL else ChannelCode(row["channel"]),
        amount_fen=row["amount_fen"],
        reason=row["reason"],
        status=RefundStatus(row["status"]),
        refund_request_id=row["refund_request_id"],
        channel_refund_id=row["channel_refund_id"],
        failure_reason=row["failure_reason"],
        requested_by=row["requested_by"],
        created_at=row["created_at"],
        completed_at=row["completed_at"],
        next_query_at=row["next_query_at"],
        query_attempts=row["query_attempts"],
    )


class PaymentRepository:
    """Payments: insert, read, guarded transitions, the query queue."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, p: Payment, *, now: datetime) -> None:
        """Insert a new payment."""
        await self._session.execute(
            sa.insert(payments).values(
                payment_id=p.payment_id,
                out_trade_no=p.out_trade_no,
                billing_id=p.billing_id,
                order_id=p.order_id,
                stage=p.stage,
                channel=p.channel,
                method=p.method,
                amount_fen=p.amount_fen,
                currency=p.currency,
                status=p.status.value,
                channel_txn_id=p.channel_txn_id,
                fee_fen=p.fee_fen,
                refunded_fen=p.refunded_fen,
                pay_params=dict(p.pay_params),
                failure_code=p.failure_code,
                failure_message=p.failure_message,
                requested_by=p.requested_by,
                created_at=p.created_at,
                updated_at=now,
                expires_at=p.expires_at,
                completed_at=p.completed_at,
                next_query_at=p.next_query_at,
                query_attempts=p.query_attempts,
            )
        )

    async def get(self, payment_id: uuid.UUID, *, for_update: bool = False) -> Payment | None:
        """One payment, optionally row-locked."""
        query = sa.select(payments).where(payments.c.payment_id == payment_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return payment_from_row(row) if row is not None else None

    async def by_out_trade_no(
        self, out_trade_no: str, *, for_update: bool = False
    ) -> Payment | None:
        """The payment with our merchant order number, optionally row-locked."""
        query = sa.select(payments).where(payments.c.out_trade_no == out_trade_no)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return payment_from_row(row) if row is not None else None

    async def list_for_billing(self, billing_id: uuid.UUID) -> list[Payment]:
        """Payments of a billing, oldest first (bounded)."""
        query = (
            sa.select(payments)
            .where(payments.c.billing_id == billing_id)
            .order_by(payments.c.created_at)
            .limit(LIST_LIMIT_MAX)
        )
        return [payment_from_row(r) for r in (await self._session.execute(query)).mappings()]

    async def succeeded_fen_since(self, billing_id: uuid.UUID, since: datetime) -> int:
        """Sum of this billing's payments that succeeded after ``since``."""
        query = sa.select(sa.func.coalesce(sa.func.sum(payments.c.amount_fen), 0)).where(
            payments.c.billing_id == billing_id,
            payments.c.status == PaymentStatus.SUCCEEDED.value,
            payments.c.completed_at > since,
        )
        return int(await self._session.scalar(query) or 0)

    async def transition(
        self,
        payment_id: uuid.UUID,
        target: PaymentStatus,
        *,
        now: datetime,
        values: Mapping[str, object] | None = None,
    ) -> Payment | None:
        """Guarded state change; the updated payment, or None when the guard did not match."""
        row = await _guarded_transition(
            self._session,
            payments.c.payment_id,
            payment_id,
            target.value,
            [s.value for s in payment_sm.sources_of(target)],
            now=now,
            values=values,
        )
        return payment_from_row(row) if row is not None else None

    async def update(
        self, payment_id: uuid.UUID, *, now: datetime, values: Mapping[str, object]
    ) -> None:
        """Change fields other than the status (query schedule, pay parameters)."""
        await _update_fields(self._session, payments.c.payment_id, payment_id, now, values)

    async def add_refunded(self, payment_id: uuid.UUID, amount_fen: int, *, now: datetime) -> bool:
        """Count a succeeded refund against the payment (never beyond its amount)."""
        result = await self._session.execute(
            sa.update(payments)
            .where(
                payments.c.payment_id == payment_id,
                payments.c.refunded_fen + amount_fen <= payments.c.amount_fen,
            )
            .values(refunded_fen=payments.c.refunded_fen + amount_fen, updated_at=now)
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult

    async def claim_due_queries(
        self, *, now: datetime, lease_until: datetime, limit: int
    ) -> list[Payment]:
        """Open payments whose active query is due; leased to this worker (SKIP LOCKED)."""
        due = (
            sa.select(payments.c.payment_id)
            .where(
                payments.c.status.in_([s.value for s in payment_sm.QUERYABLE_STATUSES]),
                payments.c.next_query_at <= now,
            )
            .order_by(payments.c.next_query_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        statement = (
            sa.update(payments)
            .where(payments.c.payment_id == due.c.payment_id)
            .values(next_query_at=lease_until, query_attempts=payments.c.query_attempts + 1)
            .returning(*payments.c)
        )
        return [payment_from_row(r) for r in (await self._session.execute(statement)).mappings()]


class RefundRepository:
    """Refunds: insert, read, guarded transitions, the submit/query queue."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, r: Refund, *, now: datetime) -> bool:
        """Insert a refund; False when its refund_request_id was recorded before."""
        statement = (
            pg_insert(refunds)
            .values(
                refund_id=r.refund_id,
                out_refund_no=r.out_refund_no,
                payment_id=r.payment_id,
                billing_id=r.billing_id,
                order_id=r.order_id,
                channel=r.channel or NO_CHANNEL,
                amount_fen=r.amount_fen,
                reason=r.reason,
                status=r.status.value,
                refund_request_id=r.refund_request_id,
                channel_refund_id=r.channel_refund_id,
                failure_reason=r.failure_reason,
                requested_by=r.requested_by,
                created_at=r.created_at,
                updated_at=now,
                completed_at=r.completed_at,
                next_query_at=r.next_query_at,
                query_attempts=r.query_attempts,
            )
            .on_conflict_do_nothing(index_elements=[refunds.c.refund_request_id])
            .returning(refunds.c.refund_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def get(self, refund_id: uuid.UUID) -> Refund | None:
        """One refund."""
        row = (
            (
                await self._session.execute(
                    sa.select(refunds).where(refunds.c.refund_id == refund_id)
                )
            )
            .mappings()
            .first()
        )
        return _refund(row) if row is not None else None

    async def by_out_refund_no(self, out_refund_no: str) -> Refund | None:
        """The refund with our refund number."""
        query = sa.select(refunds).where(refunds.c.out_refund_no == out_refund_no)
        row = (await self._session.execute(query)).mappings().first()
        return _refund(row) if row is not None else None

    async def list_for_payment(self, payment_id: uuid.UUID) -> list[Refund]:
        """Refunds of a payment, oldest first."""
        query = (
            sa.select(refunds)
            .where(refunds.c.payment_id == payment_id)
            .order_by(refunds.c.created_at, refunds.c.out_refund_no)
            .limit(LIST_LIMIT_MAX)
        )
        return [_refund(r) for r in (await self._session.execute(query)).mappings()]

    async def transition(
        self,
        refund_id: uuid.UUID,
        target: RefundStatus,
        *,
        now: datetime,
        values: Mapping[str, object] | None = None,
    ) -> Refund | None:
        """Guarded state change; the updated refund, or None when the guard did not match."""
        row = await _guarded_transition(
            self._session,
            refunds.c.refund_id,
            refund_id,
            target.value,
            [s.value for s in refund_sm.sources_of(target)],
            now=now,
            values=values,
        )
        return _refund(row) if row is not None else None

    async def update(
        self, refund_id: uuid.UUID, *, now: datetime, values: Mapping[str, object]
    ) -> None:
        """Change fields other than the status."""
        await _update_fields(self._session, refunds.c.refund_id, refund_id, now, values)

    async def pay_out_manual(
        self, refund_id: uuid.UUID, *, now: datetime, values: Mapping[str, object]
    ) -> Refund | None:
        """manual → succeeded: people paid the money back (the offline refunds queue); None
        when the refund is not manual."""
        row = await _guarded_transition(
            self._session,
            refunds.c.refund_id,
            refund_id,
            RefundStatus.SUCCEEDED.value,
            [RefundStatus.MANUAL.value],
            now=now,
            values=values,
        )
        return _refund(row) if row is not None else None

    async def claim_due(self, *, now: datetime, lease_until: datetime, limit: int) -> list[Refund]:
        """Refunds due to be sent or queried; leased to this worker (SKIP LOCKED)."""
        due = (
            sa.select(refunds.c.refund_id)
            .where(
                refunds.c.status.in_([s.value for s in refund_sm.OPEN_STATUSES]),
                refunds.c.next_query_at <= now,
            )
            .order_by(refunds.c.next_query_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
            .cte("due")
        )
        statement = (
            sa.update(refunds)
            .where(refunds.c.refund_id == due.c.refund_id)
            .values(next_query_at=lease_until, query_attempts=refunds.c.query_attempts + 1)
            .returning(*refunds.c)
        )
        return [_refund(r) for r in (await self._session.execute(statement)).mappings()]


async def _guarded_transition(
    session: AsyncSession,
    key_column: sa.Column[uuid.UUID],
    key: uuid.UUID,
    target: str,
    sources: Sequence[str],
    *,
    now: datetime,
    values: Mapping[str, object] | None,
) -> RowMapping | None:
    """``UPDATE … SET status = target WHERE key = … AND status IN sources RETURNING *``:
    the changed row, or None when the guard did not match (someone else moved it first)."""
    table = key_column.table
    statement = (
        sa.update(table)
        .where(key_column == key, table.c.status.in_(sources))
        .values(status=target, updated_at=now, **dict(values or {}))
        .returning(*table.c)
    )
    return (await session.execute(statement)).mappings().first()


async def _update_fields(
    session: AsyncSession,
    key_column: sa.Column[uuid.UUID],
    key: uuid.UUID,
    now: datetime,
    values: Mapping[str, object],
) -> None:
    """Change fields other than the status of one row."""
    await session.execute(
        sa.update(key_column.table).where(key_column == key).values(updated_at=now, **dict(values))
    )
