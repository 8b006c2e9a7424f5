"""Command handlers of order-service."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from order_service.adapters.repository import OrderRow, SubOrderRow
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.errors import NotFound
from otd_shared.events import OrderCreated


@dataclass(frozen=True)
class CreateOrder:
    """Command: create a vehicle order with its sub-orders."""

    customer_id: str
    vehicle_model: str
    price_fen: int
    loan_fen: int
    charging_pile: bool
    actor: str


def _initial_sub_orders(command: CreateOrder) -> tuple[SubOrderRow, ...]:
    subs = [
        SubOrderRow(uuid.uuid4(), "fund", "open"),
        SubOrderRow(uuid.uuid4(), "production", "waiting"),
        SubOrderRow(
            uuid.uuid4(), "charging_pile", "requested" if command.charging_pile else "not_needed"
        ),
        SubOrderRow(
            uuid.uuid4(), "loan", "intent_collected" if command.loan_fen > 0 else "not_applicable"
        ),
    ]
    return tuple(subs)


async def create_order(uow: OrderUnitOfWork, command: CreateOrder) -> OrderRow:
    """Store the order and emit OrderCreated in the same transaction."""
    order = OrderRow(
        order_id=uuid.uuid4(),
        customer_id=command.customer_id,
        vehicle_model=command.vehicle_model,
        price_fen=command.price_fen,
        loan_fen=command.loan_fen,
        charging_pile=command.charging_pile,
        status="created",
        created_at=datetime.now(UTC),
        sub_orders=_initial_sub_orders(command),
    )
    async with uow:
        await uow.orders.add(order, command.actor)
        await uow.emit(
            OrderCreated(
                order_id=str(order.order_id),
                customer_id=order.customer_id,
                vehicle_model=order.vehicle_model,
                price_fen=order.price_fen,
                loan_fen=order.loan_fen,
                charging_pile=order.charging_pile,
            )
        )
        await uow.commit()
    return order


async def get_order(uow: OrderUnitOfWork, order_id: uuid.UUID) -> OrderRow:
    """The order, or NotFound."""
    async with uow:
        order = await uow.orders.get(order_id)
    if order is None:
        raise NotFound(f"order {order_id} not found")
    return order
