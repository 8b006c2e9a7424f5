"""SQL for vehicle orders and sub-orders (all of order-service's SQL lives here)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.tables import order_history, sub_orders, vehicle_orders


@dataclass(frozen=True)
class SubOrderRow:
    """A sub-order as stored."""

    sub_order_id: uuid.UUID
    kind: str
    status: str


@dataclass(frozen=True)
class OrderRow:
    """A vehicle order as stored, with its sub-orders."""

    order_id: uuid.UUID
    customer_id: str
    vehicle_model: str
    price_fen: int
    loan_fen: int
    charging_pile: bool
    status: str
    created_at: datetime
    sub_orders: tuple[SubOrderRow, ...]


class OrderRepository:
    """Reads and writes vehicle orders inside the unit of work's session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, order: OrderRow, actor: str) -> None:
        """Insert a new order, its sub-orders and their first history entries."""
        at = order.created_at
        await self._session.execute(
            sa.insert(vehicle_orders).values(
                order_id=order.order_id,
                customer_id=order.customer_id,
                vehicle_model=order.vehicle_model,
                price_fen=order.price_fen,
                loan_fen=order.loan_fen,
                charging_pile=order.charging_pile,
                status=order.status,
                created_at=at,
                updated_at=at,
            )
        )
        await self._session.execute(
            sa.insert(sub_orders),
            [
                {
                    "sub_order_id": s.sub_order_id,
                    "order_id": order.order_id,
                    "kind": s.kind,
                    "status": s.status,
                    "created_at": at,
                    "updated_at": at,
                }
                for s in order.sub_orders
            ],
        )
        await self._session.execute(
            sa.insert(order_history),
            [
                {
                    "order_id": order.order_id,
                    "sub_order_id": s_id,
                    "kind": kind,
                    "from_status": None,
                    "to_status": status,
                    "actor": actor,
                    "at": at,
                }
                for s_id, kind, status in [(None, "vehicle", order.status)]
                + [(s.sub_order_id, s.kind, s.status) for s in order.sub_orders]
            ],
        )

    async def get(self, order_id: uuid.UUID) -> OrderRow | None:
        """The order with its sub-orders, or None."""
        row = (
            (
                await self._session.execute(
                    sa.select(vehicle_orders).where(vehicle_orders.c.order_id == order_id)
                )
            )
            .mappings()
            .first()
        )
        if row is None:
            return None
        subs = (
            await self._session.execute(
                sa.select(sub_orders.c.sub_order_id, sub_orders.c.kind, sub_orders.c.status)
                .where(sub_orders.c.order_id == order_id)
                .order_by(sub_orders.c.kind)
            )
        ).all()
        return OrderRow(
            order_id=row["order_id"],
            customer_id=row["customer_id"],
            vehicle_model=row["vehicle_model"],
            price_fen=row["price_fen"],
            loan_fen=row["loan_fen"],
            charging_pile=row["charging_pile"],
            status=row["status"],
            created_at=row["created_at"],
            sub_orders=tuple(SubOrderRow(s.sub_order_id, s.kind, s.status) for s in subs),
        )
