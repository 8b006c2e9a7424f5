"""HTTP API of billing-service: fund orders, billings, payment history, cancellations.

Thin: validate → query → response. Billing-service changes only through events (orders,
payment outcomes); its HTTP API reads, plus the webhook operations in ``webhooks_api``.
Unknown ids are 404; bad query parameters are 422 naming the parameter.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from billing_service.adapters.query_repo import BillingFilter
from billing_service.config import BillingSettings
from billing_service.entrypoints.schemas import (
    BillingDetailOut,
    BillingOut,
    BillingPageOut,
    CancellationOut,
    CustomerPaymentOut,
    CustomerPaymentsOut,
    FundOrderOut,
)
from billing_service.service_layer import queries
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.auth import Principal, Role, require_roles
from otd_shared.errors import InvalidInput
from otd_shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["billing"])
Reader = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND, Role.FINANCE))]
Finance = Annotated[Principal, Depends(require_roles(Role.FINANCE))]
# Cashiers look billings up too: they confirm wires against them ("wire confirmation").
OrderReader = Annotated[
    Principal, Depends(require_roles(Role.APP_BACKEND, Role.FINANCE, Role.CASHIER))
]
BillingSearcher = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.CASHIER))]
PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 500
Limit = Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)]
Offset = Annotated[int, Query(ge=0, le=1_000_000)]
BillingStatusParam = Literal["pending", "due", "partially_paid", "paid", "cancelled"]
StageParam = Literal["intent", "firm", "final", "service", "installment", "payoff"]


def unit_of_work(request: Request) -> BillingUnitOfWork:
    """A fresh unit of work on the app's runtime."""
    runtime: ServiceRuntime = request.app.state.runtime
    settings = runtime.settings
    assert isinstance(settings, BillingSettings)
    return BillingUnitOfWork(runtime.sessions, runtime.outbox, settings.reminder_schedule())


UoW = Annotated[BillingUnitOfWork, Depends(unit_of_work)]


@router.get("/orders/{order_id}/fund-order", response_model=FundOrderOut)
async def get_fund_order(order_id: str, uow: UoW, _: OrderReader) -> FundOrderOut:
    """The fund order of a vehicle (or service) order with its billings."""
    return FundOrderOut.of(await queries.fund_order_of(uow, order_id))


@router.get("/billings", response_model=BillingPageOut)
async def list_billings(
    uow: UoW,
    _: BillingSearcher,
    status: BillingStatusParam | None = None,
    stage: StageParam | None = None,
    customer_id: Annotated[str | None, Query(max_length=64)] = None,
    due_from: datetime | None = None,
    due_before: datetime | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> BillingPageOut:
    """Billings by status, stage, customer and due date (``due_from`` ≤ due_at <
    ``due_before``), ordered by due date; paginated with ``limit``/``offset`` and ``total``."""
    for name, value in (("due_from", due_from), ("due_before", due_before)):
        if value is not None and value.tzinfo is None:
            raise InvalidInput(f"{name} must carry a timezone", field=name)
    where = BillingFilter(
        status=status,
        stage=stage,
        customer_id=customer_id,
        due_from=due_from,
        due_before=due_before,
    )
    page = await queries.billings(uow, where, limit=limit, offset=offset)
    return BillingPageOut(
        items=[BillingOut.of_record(r) for r in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/billings/{billing_id}", response_model=BillingDetailOut)
async def get_billing(billing_id: str, uow: UoW, _: Reader) -> BillingDetailOut:
    """One billing with its payments, refund requests and reminders."""
    fund, billing, reminders = await queries.billing_detail(uow, billing_id)
    return BillingDetailOut.detail(fund, billing, reminders)


@router.get("/customers/{customer_id}/payments", response_model=CustomerPaymentsOut)
async def customer_payments(
    customer_id: str,
    uow: UoW,
    _: Reader,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> CustomerPaymentsOut:
    """A customer's payment history over all orders, newest first (with refunds)."""
    page = await queries.customer_payments(uow, customer_id, limit=limit, offset=offset)
    return CustomerPaymentsOut(
        customer_id=customer_id,
        items=[CustomerPaymentOut.of(p) for p in page.items],
        total=page.total,
        limit=page.limit,
        offset=page.offset,
    )


@router.get("/orders/{order_id}/cancellation", response_model=CancellationOut)
async def get_cancellation(order_id: str, uow: UoW, _: Reader) -> CancellationOut:
    """What the order's cancellation refunded and kept, and why; 404 ``not_cancelled``
    while the order is not cancelled."""
    return CancellationOut.of(order_id, await queries.cancellation(uow, order_id))


@router.get("/orders/{order_id}/cancellation-quote", response_model=CancellationOut)
async def get_cancellation_quote(order_id: str, uow: UoW, _: Reader) -> CancellationOut:
    """What cancelling now would refund and keep under the deposit policy, and why
    (changes nothing; after the lock the firm deposit is kept by default)."""
    return CancellationOut.of(order_id, await queries.cancellation_quote(uow, order_id), quote=True)
