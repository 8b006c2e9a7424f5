"""SQL for fund orders and billings (all of billing-service's SQL lives here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.tables import billings, fund_orders


@dataclass(frozen=True)
class BillingRow:
    """A billing as stored."""

    billing_id: uuid.UUID
    stage: str
    amount_fen: int
    paid_fen: int
    status: str
    due_at: datetime | None


@dataclass(frozen=True)
class FundOrderRow:
    """A fund order with its billings, in stage order."""

    fund_order_id: uuid.UUID
    order_id: uuid.UUID
    customer_id: str
    price_fen: int
    created_at: datetime
    billings: tuple[BillingRow, ...]


STAGE_ORDER = {"intent": 0, "firm": 1, "final": 2, "service": 3}


class FundOrderRepository:
    """Reads and writes fund orders inside the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, fund_order: FundOrderRow) -> None:
        """Insert a fund order and its billings."""
        await self._session.execute(
            sa.insert(fund_orders).values(
                fund_order_id=fund_order.fund_order_id,
                order_id=fund_order.order_id,
                customer_id=fund_order.customer_id,
                price_fen=fund_order.price_fen,
                created_at=fund_order.created_at,
            )
        )
        await self._session.execute(
            sa.insert(billings),
            [
                {
                    "billing_id": b.billing_id,
                    "fund_order_id": fund_order.fund_order_id,
                    "order_id": fund_order.order_id,
                    "stage": b.stage,
                    "amount_fen": b.amount_fen,
                    "paid_fen": b.paid_fen,
                    "status": b.status,
                    "due_at": b.due_at,
                    "updated_at": fund_order.created_at,
                }
                for b in fund_order.billings
            ],
        )

    async def exists_for_order(self, order_id: uuid.UUID) -> bool:
        """True when the order already has a fund order."""
        found = await self._session.scalar(
            sa.select(fund_orders.c.fund_order_id).where(fund_orders.c.order_id == order_id)
        )
        return found is not None

    async def get_by_order(self, order_id: uuid.UUID) -> FundOrderRow | None:
        """The fund order of a vehicle order, or None."""
        head = (
            (
                await self._session.execute(
                    sa.select(fund_orders).where(fund_orders.c.order_id == order_id)
                )
            )
            .mappings()
            .first()
        )
        if head is None:
            return None
        rows = (
            (
                await self._session.execute(
                    sa.select(billings).where(billings.c.fund_order_id == head["fund_order_id"])
                )
            )
            .mappings()
            .all()
        )
        items = sorted(
            (
                BillingRow(
                    r["billing_id"],
                    r["stage"],
                    r["amount_fen"],
                    r["paid_fen"],
                    r["status"],
                    r["due_at"],
                )
                for r in rows
            ),
            key=lambda b: STAGE_ORDER.get(b.stage, 99),
        )
        return FundOrderRow(
            head["fund_order_id"],
            head["order_id"],
            head["customer_id"],
            head["price_fen"],
            head["created_at"],
            tuple(items),
        )
