"""HTTP API of the app-backend webhook deliveries and of deferred payment outcomes
(finance and SRE): list, inspect with attempts, re-send by hand."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, status

from billing_service.entrypoints.api import PAGE_SIZE_DEFAULT, Limit, Offset, UoW
from billing_service.entrypoints.schemas import (
    DeferredOutcomeOut,
    DeferredPageOut,
    DeliveryOut,
    DeliveryPageOut,
)
from billing_service.service_layer import queries
from otd_shared.auth import Principal, Role, require_roles

router = APIRouter(prefix="/v1", tags=["webhooks"])
Operator = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.SRE))]
DeliveryStatus = Literal["pending", "delivered", "failed", "skipped"]
DeferredStatus = Literal["waiting", "applied", "conflict"]
OrderFilter = Annotated[str | None, Query(max_length=64)]


@router.get("/webhook-deliveries", response_model=DeliveryPageOut)
async def list_deliveries(
    uow: UoW,
    _: Operator,
    status: DeliveryStatus | None = None,
    order_id: OrderFilter = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> DeliveryPageOut:
    """Pushes to the app backend, newest first."""
    page = await queries.deliveries(
        uow, status=status, order_id=order_id, limit=limit, offset=offset
    )
    return DeliveryPageOut(
        items=[DeliveryOut.of(d) for d in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/webhook-deliveries/{delivery_id}", response_model=DeliveryOut)
async def get_delivery(delivery_id: int, uow: UoW, _: Operator) -> DeliveryOut:
    """One push with its body and every attempt."""
    delivery, attempts = await queries.delivery(uow, delivery_id)
    return DeliveryOut.of(delivery, attempts, with_body=True)


@router.post(
    "/webhook-deliveries/{delivery_id}/resend",
    response_model=DeliveryOut,
    status_code=status.HTTP_202_ACCEPTED,
)
async def resend_delivery(delivery_id: int, uow: UoW, _: Operator) -> DeliveryOut:
    """Queue the push again now (a new round of attempts, same body and event id)."""
    return DeliveryOut.of(await queries.resend_delivery(uow, delivery_id))


@router.get("/deferred-outcomes", response_model=DeferredPageOut)
async def list_deferred(
    uow: UoW,
    _: Operator,
    status: DeferredStatus | None = None,
    order_id: OrderFilter = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> DeferredPageOut:
    """Payment outcomes kept aside: refunds waiting for their payment, and conflicts."""
    page = await queries.deferred_outcomes(
        uow, status=status, order_id=order_id, limit=limit, offset=offset
    )
    return DeferredPageOut(
        items=[DeferredOutcomeOut.of(d) for d in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )
