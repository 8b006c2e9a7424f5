"""HTTP API of order-service: the vehicle order (app backend) and its history.

Thin: validate → handler → response. Every transition answers 409 with a message naming
the states when the order is in the wrong one, 404 for an unknown order, 422 naming the
field for bad input. The sub-order endpoints (factory, installer, bank) are in
``sub_orders_api``; post-delivery service orders in ``service_orders_api``.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from order_service.domain import VehicleConfiguration
from order_service.entrypoints.deps import AppBackend, Reader, Rules, UoW
from order_service.entrypoints.schemas import (
    ConfigurationBody,
    CreateOrderBody,
    HistoryOut,
    OrderOut,
    ReasonBody,
)
from order_service.service_layer import handlers, queries

router = APIRouter(prefix="/v1", tags=["orders"])


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def create_order(
    body: CreateOrderBody, uow: UoW, principal: AppBackend, rules: Rules
) -> OrderOut:
    """Create a vehicle order with its four sub-orders; emits OrderCreated (billing opens
    the fund order and the intent billing falls due)."""
    order = await handlers.create_order(
        uow,
        handlers.CreateOrder(
            customer_id=body.customer_id,
            vehicle_model=body.vehicle_model,
            price_fen=body.price_fen,
            loan_fen=body.loan_fen,
            charging_pile=body.charging_pile,
            options=tuple(body.options),
            actor=principal.subject,
        ),
        rules=rules,
    )
    return OrderOut.of(order)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: str, uow: UoW, _: Reader) -> OrderOut:
    """One vehicle order with its sub-orders."""
    return OrderOut.of(await queries.vehicle_order(uow, order_id))


@router.get("/orders/{order_id}/history", response_model=HistoryOut)
async def get_history(order_id: str, uow: UoW, _: Reader) -> HistoryOut:
    """Every transition of the order (or service order) and its sub-orders: who, when, why."""
    return HistoryOut.of(order_id, await queries.history(uow, order_id))


@router.put("/orders/{order_id}/configuration", response_model=OrderOut)
async def change_configuration(
    order_id: str, body: ConfigurationBody, uow: UoW, principal: AppBackend, rules: Rules
) -> OrderOut:
    """Change model, options and price before the lock (OrderRepriced: billing re-prices
    the final billing); 409 ``configuration_frozen`` after the lock."""
    change = handlers.change_configuration(
        VehicleConfiguration(body.vehicle_model, tuple(body.options)),
        body.price_fen,
        principal.subject,
        rules,
    )
    return OrderOut.of(await handlers.change_vehicle_order(uow, order_id, change))


@router.post("/orders/{order_id}/lock", response_model=OrderOut)
async def lock_order(order_id: str, uow: UoW, principal: AppBackend) -> OrderOut:
    """Lock the configuration (needs the intent deposit paid): OrderLocked, the firm
    deposit falls due. 409 ``gate_closed`` before the intent deposit is paid."""
    return OrderOut.of(
        await handlers.change_vehicle_order(uow, order_id, handlers.lock(principal.subject))
    )


@router.post("/orders/{order_id}/cancel", response_model=OrderOut)
async def cancel_order(
    order_id: str, body: ReasonBody, uow: UoW, principal: AppBackend
) -> OrderOut:
    """Cancel before the lock: OrderCancelled; billing refunds the deposits (its result and
    reason: billing-service ``GET /v1/orders/{order_id}/cancellation``). 409 after the lock."""
    change = handlers.cancel(principal.subject, body.reason)
    return OrderOut.of(await handlers.change_vehicle_order(uow, order_id, change))


@router.post("/orders/{order_id}/deliver", response_model=OrderOut)
async def deliver_order(order_id: str, uow: UoW, principal: AppBackend) -> OrderOut:
    """Hand the car over: OrderDelivered. 409 ``gate_closed`` until the final billing is
    paid (self-pay plus loan disbursement)."""
    return OrderOut.of(
        await handlers.change_vehicle_order(uow, order_id, handlers.deliver(principal.subject))
    )
