"""SQL for the gateway's projection of billings that can be paid."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.tables import payable_billings


@dataclass(frozen=True)
class PayableBilling:
    """A billing the gateway accepts payments for."""

    billing_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    stage: str
    amount_fen: int
    outstanding_fen: int
    due_at: datetime
    status: str
    payable_from: datetime | None = None


class PayableBillingRepository:
    """Upserts and reads payable billings."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, billing: PayableBilling) -> None:
        """Record (or refresh) a billing that fell due."""
        values = _values(billing)
        statement = pg_insert(payable_billings).values(values)
        await self._session.execute(
            statement.on_conflict_do_update(
                index_elements=[payable_billings.c.billing_id],
                set_={k: statement.excluded[k] for k in values if k != "billing_id"},
            )
        )

    async def add_scheduled(self, billing: PayableBilling) -> None:
        """Record a lease installment before it falls due; never overwrites what billing
        already said about it (a due, paid or cancelled billing stays so)."""
        values = {**_values(billing), "payable_from": billing.payable_from}
        await self._session.execute(
            pg_insert(payable_billings).values(values).on_conflict_do_nothing()
        )

    async def set_status(
        self,
        billing_id: uuid.UUID,
        status: str,
        *,
        outstanding_fen: int | None = None,
        amount_fen: int | None = None,
    ) -> None:
        """Follow billing's news (paid, reopened, cancelled, amount changed)."""
        values: dict[str, object] = {"status": status, "updated_at": datetime.now(UTC)}
        if outstanding_fen is not None:
            values["outstanding_fen"] = max(0, outstanding_fen)
        if amount_fen is not None:
            values["amount_fen"] = amount_fen
        await self._session.execute(
            sa.update(payable_billings)
            .where(payable_billings.c.billing_id == billing_id)
            .values(values)
        )

    async def set_paid(self, billing_ids: Sequence[uuid.UUID]) -> None:
        """Billings paid (a consumer's run of BillingPaid): one statement for all of them."""
        if not billing_ids:
            return
        await self._session.execute(
            sa.update(payable_billings)
            .where(payable_billings.c.billing_id.in_(billing_ids))
            .values(status="paid", outstanding_fen=0, updated_at=datetime.now(UTC))
        )

    async def get_with_time(
        self, billing_id: uuid.UUID, *, for_update: bool = False
    ) -> tuple[PayableBilling, datetime] | None:
        """One payable billing and when it was last updated from billing's events (row-locked
        with ``for_update``: payments we record ourselves are checked against it one by one)."""
        query = sa.select(payable_billings).where(payable_billings.c.billing_id == billing_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return _billing(row), row["updated_at"]

    async def get(self, billing_id: uuid.UUID) -> PayableBilling | None:
        """One payable billing, or None."""
        found = await self.get_with_time(billing_id)
        return None if found is None else found[0]

    async def shift_outstanding(
        self, billing_id: uuid.UUID, *, amount_fen: int, delta_fen: int
    ) -> None:
        """The billing's amount changed: move what is outstanding by the same difference
        (never below zero), in one guarded statement."""
        t = payable_billings
        await self._session.execute(
            sa.update(t)
            .where(t.c.billing_id == billing_id)
            .values(
                amount_fen=amount_fen,
                outstanding_fen=sa.func.greatest(t.c.outstanding_fen + delta_fen, 0),
                updated_at=datetime.now(UTC),
            )
        )

    async def list_for_order(self, order_id: uuid.UUID) -> list[PayableBilling]:
        """Payable billings of one order, oldest due first."""
        rows = (
            await self._session.execute(
                sa.select(payable_billings)
                .where(payable_billings.c.order_id == order_id)
                .order_by(payable_billings.c.due_at)
            )
        ).mappings()
        return [_billing(row) for row in rows]


def _values(billing: PayableBilling) -> dict[str, object]:
    """The columns billing's events set (``payable_from`` only by BillingScheduled)."""
    return {
        "billing_id": billing.billing_id,
        "order_id": billing.order_id,
        "customer_id": billing.customer_id,
        "stage": billing.stage,
        "amount_fen": billing.amount_fen,
        "outstanding_fen": billing.outstanding_fen,
        "due_at": billing.due_at,
        "status": billing.status,
        "updated_at": datetime.now(UTC),
    }


def _billing(row: RowMapping) -> PayableBilling:
    return PayableBilling(
        row["billing_id"],
        row["order_id"],
        row["customer_id"],
        row["stage"],
        row["amount_fen"],
        row["outstanding_fen"],
        row["due_at"],
        row["status"],
        row["payable_from"],
    )
