"""HTTP API of post-delivery service orders (window film, maintenance, leasing).

A service order is its own order (its id is the order id billing-service and the gateway
use) with one ``service`` billing that is paid through the same payment flow.
"""

from __future__ import annotations

from fastapi import APIRouter, status

from order_service.entrypoints.deps import AppBackend, Reader, UoW
from order_service.entrypoints.schemas import ReasonBody, ServiceOrderBody, ServiceOrderOut
from order_service.service_layer import handlers, queries

router = APIRouter(prefix="/v1", tags=["service orders"])


@router.post("/service-orders", status_code=status.HTTP_201_CREATED, response_model=ServiceOrderOut)
async def create_service_order(
    body: ServiceOrderBody, uow: UoW, principal: AppBackend
) -> ServiceOrderOut:
    """Open a service order for a delivered car (OrderCreated with order_kind=service:
    billing opens its single billing, due now; a lease opens one billing per installment,
    each due on its date). 409 ``gate_closed`` before delivery; 422 for a lease schedule
    that does not add up, months out of range or a zero installment."""
    order = await handlers.create_service_order(
        uow,
        handlers.CreateServiceOrder(
            parent_order_id=body.parent_order_id,
            kind=body.kind,
            description=body.description,
            price_fen=body.price_fen,
            actor=principal.subject,
            lease=None if body.lease is None else body.lease.terms(),
        ),
    )
    return ServiceOrderOut.of(order)


@router.get("/service-orders/{order_id}", response_model=ServiceOrderOut)
async def get_service_order(order_id: str, uow: UoW, _: Reader) -> ServiceOrderOut:
    """One service order."""
    return ServiceOrderOut.of(await queries.service_order(uow, order_id))


@router.get("/orders/{order_id}/service-orders", response_model=list[ServiceOrderOut])
async def list_service_orders(order_id: str, uow: UoW, _: Reader) -> list[ServiceOrderOut]:
    """The service orders of a vehicle order, oldest first."""
    return [ServiceOrderOut.of(o) for o in await queries.service_orders_of(uow, order_id)]


@router.post("/service-orders/{order_id}/complete", response_model=ServiceOrderOut)
async def complete_service_order(order_id: str, uow: UoW, principal: AppBackend) -> ServiceOrderOut:
    """paid → completed (ServiceOrderCompleted); 409 ``gate_closed`` while unpaid."""
    change = handlers.complete_service(principal.subject)
    return ServiceOrderOut.of(await handlers.change_service_order(uow, order_id, change))


@router.post("/service-orders/{order_id}/cancel", response_model=ServiceOrderOut)
async def cancel_service_order(
    order_id: str, body: ReasonBody, uow: UoW, principal: AppBackend
) -> ServiceOrderOut:
    """created or paid → cancelled (OrderCancelled: billing refunds what was paid)."""
    change = handlers.cancel_service(principal.subject, body.reason)
    return ServiceOrderOut.of(await handlers.change_service_order(uow, order_id, change))
