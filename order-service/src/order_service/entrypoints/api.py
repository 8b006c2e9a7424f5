"""HTTP API of order-service (thin: validate → command → handler)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request, status

from order_service.entrypoints.schemas import CreateOrderBody, OrderOut
from order_service.service_layer import handlers
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.auth import Principal, Role, require_roles
from otd_shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["orders"])
AppBackend = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND, Role.FINANCE))]


def unit_of_work(request: Request) -> OrderUnitOfWork:
    """A fresh unit of work on the app's runtime."""
    runtime: ServiceRuntime = request.app.state.runtime
    return OrderUnitOfWork(runtime.sessions, runtime.outbox)


UoW = Annotated[OrderUnitOfWork, Depends(unit_of_work)]


@router.post("/orders", status_code=status.HTTP_201_CREATED, response_model=OrderOut)
async def create_order(body: CreateOrderBody, uow: UoW, principal: AppBackend) -> OrderOut:
    """Create a vehicle order with its four sub-orders; emits OrderCreated."""
    order = await handlers.create_order(
        uow,
        handlers.CreateOrder(
            customer_id=body.customer_id,
            vehicle_model=body.vehicle_model,
            price_fen=body.price_fen,
            loan_fen=body.loan_fen,
            charging_pile=body.charging_pile,
            actor=principal.subject,
        ),
    )
    return OrderOut.from_row(order)


@router.get("/orders/{order_id}", response_model=OrderOut)
async def get_order(order_id: uuid.UUID, uow: UoW, _: AppBackend) -> OrderOut:
    """One vehicle order with its sub-orders."""
    return OrderOut.from_row(await handlers.get_order(uow, order_id))
