"""Read-side SQL of billing-service: billings by status and due date, a customer's
payments, reminders sent. Reads rows (the derived columns written with every save)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.fund_order_repo import as_uuid
from billing_service.adapters.tables import (
    billing_payments,
    billing_refunds,
    billing_reminders,
    billings,
)


@dataclass(frozen=True, kw_only=True)
class BillingRecord:
    """A billing as the queries list it (amounts as stored: the whole billing)."""

    billing_id: str
    order_id: str
    customer_id: str
    stage: str
    amount_fen: int
    loan_share_fen: int
    paid_fen: int
    loan_paid_fen: int
    customer_payable_fen: int
    credit_fen: int
    retained_fen: int
    status: str
    due_at: datetime | None
    cancelled_at: datetime | None
    installment_no: int = 0
    scheduled_due_at: datetime | None = None
    overdue_at: datetime | None = None
    superseded: bool = False


@dataclass(frozen=True, kw_only=True)
class BillingFilter:
    """What to list: every field optional; due dates are an inclusive/exclusive window."""

    status: str | None = None
    stage: str | None = None
    customer_id: str | None = None
    due_from: datetime | None = None
    due_before: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class PaymentRecord:
    """One successful payment of a customer, with what went back of it."""

    payment_id: str
    order_id: str
    billing_id: str
    stage: str
    channel: str
    amount_fen: int
    refunded_fen: int
    received_at: datetime
    refund_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class ReminderRecord:
    """One reminder step sent for a billing."""

    step: int
    schedule: str
    remind_at: datetime
    sent_at: datetime
    event_id: uuid.UUID


class BillingQueries:
    """Read-only queries inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def billings(
        self, where: BillingFilter, *, limit: int, offset: int
    ) -> tuple[list[BillingRecord], int]:
        """Billings matching ``where``, by due date (undue last), with the total count."""
        t = billings
        conditions = []
        if where.status is not None:
            conditions.append(t.c.status == where.status)
        if where.stage is not None:
            conditions.append(t.c.stage == where.stage)
        if where.customer_id is not None:
            conditions.append(t.c.customer_id == where.customer_id)
        if where.due_from is not None:
            conditions.append(t.c.due_at >= where.due_from)
        if where.due_before is not None:
            conditions.append(t.c.due_at < where.due_before)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(t)
            .where(*conditions)
            .order_by(t.c.due_at.asc().nulls_last(), t.c.billing_id)
            .limit(limit)
            .offset(offset)
        )
        return [_billing(r) for r in rows.mappings()], int(total or 0)

    async def order_of_billing(self, billing_id: str) -> str | None:
        """The order a billing belongs to, or None."""
        key = as_uuid(billing_id)
        if key is None:
            return None
        found = await self._session.scalar(
            sa.select(billings.c.order_id).where(billings.c.billing_id == key)
        )
        return None if found is None else str(found)

    async def customer_payments(
        self, customer_id: str, *, limit: int, offset: int
    ) -> tuple[list[PaymentRecord], int]:
        """A customer's successful payments over all orders, newest first."""
        p, r = billing_payments, billing_refunds
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(p).where(p.c.customer_id == customer_id)
        )
        refund_ids = (
            sa.select(sa.func.array_agg(sa.func.distinct(r.c.refund_id)))
            .where(r.c.billing_id == p.c.billing_id, r.c.payment_id == p.c.payment_id)
            .scalar_subquery()
        )
        rows = await self._session.execute(
            sa.select(p, refund_ids.label("refund_ids"))
            .where(p.c.customer_id == customer_id)
            .order_by(p.c.received_at.desc(), p.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        return [
            PaymentRecord(
                payment_id=row.payment_id,
                order_id=str(row.order_id),
                billing_id=str(row.billing_id),
                stage=row.stage,
                channel=row.channel,
                amount_fen=row.amount_fen,
                refunded_fen=row.refunded_fen,
                received_at=row.received_at,
                refund_ids=tuple(sorted(row.refund_ids or ())),
            )
            for row in rows
        ], int(total or 0)

    async def reminders(self, billing_id: str) -> list[ReminderRecord]:
        """Reminder steps sent for a billing, in step order."""
        key = as_uuid(billing_id)
        t = billing_reminders
        rows = await self._session.execute(
            sa.select(t).where(t.c.billing_id == key).order_by(t.c.step)
        )
        return [
            ReminderRecord(
                step=row.step,
                schedule=row.schedule,
                remind_at=row.remind_at,
                sent_at=row.sent_at,
                event_id=row.event_id,
            )
            for row in rows
        ]


def _billing(r: sa.RowMapping) -> BillingRecord:
    return BillingRecord(
        billing_id=str(r["billing_id"]),
        order_id=str(r["order_id"]),
        customer_id=r["customer_id"],
        stage=r["stage"],
        amount_fen=r["amount_fen"],
        loan_share_fen=r["loan_share_fen"],
        paid_fen=r["paid_fen"],
        loan_paid_fen=r["loan_paid_fen"],
        customer_payable_fen=r["customer_payable_fen"],
        credit_fen=r["credit_fen"],
        retained_fen=r["retained_fen"],
        status=r["status"],
        due_at=r["due_at"],
        cancelled_at=r["cancelled_at"],
        installment_no=r["installment_no"],
        scheduled_due_at=r["scheduled_due_at"],
        overdue_at=r["overdue_at"],
        superseded=r["superseded"],
    )
