"""Read-side queries of billing-service, and the one operator command (webhook re-send)."""

from __future__ import annotations

import copy
from dataclasses import dataclass
from datetime import datetime
from typing import Generic, TypeVar

from billing_service.adapters.deferred_repo import DeferredOutcome
from billing_service.adapters.fund_order_repo import AnyFundOrder
from billing_service.adapters.query_repo import (
    BillingFilter,
    BillingRecord,
    PaymentRecord,
    ReminderRecord,
)
from billing_service.adapters.webhook_repo import Attempt, Delivery
from billing_service.domain import Billing, CancellationResult
from billing_service.domain.errors import BillingNotFound, FundOrderNotFound
from billing_service.service_layer.clock import utc_now
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.errors import NotFound

QUOTE_REASON = "cancellation quote"


class NotCancelled(NotFound):
    """The order has a fund order, but it was not cancelled."""

    code = "not_cancelled"


class DeliveryNotFound(NotFound):
    """No webhook delivery with this id."""

    code = "delivery_not_found"


T = TypeVar("T")


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a listing and the total number of matches."""

    items: list[T]
    total: int
    limit: int
    offset: int


async def fund_order_of(uow: BillingUnitOfWork, order_id: str) -> AnyFundOrder:
    """The fund order of an order, or FundOrderNotFound (404)."""
    async with uow:
        fund = await uow.fund_orders.get_by_order(order_id)
    if fund is None:
        raise FundOrderNotFound(order_id)
    return fund


async def billing_detail(
    uow: BillingUnitOfWork, billing_id: str
) -> tuple[AnyFundOrder, Billing, list[ReminderRecord]]:
    """A billing with its fund order and the reminders sent, or BillingNotFound (404)."""
    async with uow:
        order_id = await uow.queries.order_of_billing(billing_id)
        fund = None if order_id is None else await uow.fund_orders.get_by_order(order_id)
        if fund is None:
            raise BillingNotFound(billing_id)
        return fund, fund.billing(billing_id), await uow.queries.reminders(billing_id)


async def billings(
    uow: BillingUnitOfWork, where: BillingFilter, *, limit: int, offset: int
) -> Page[BillingRecord]:
    """Billings by status, stage, customer and due-date window."""
    async with uow:
        items, total = await uow.queries.billings(where, limit=limit, offset=offset)
    return Page(items, total, limit, offset)


async def customer_payments(
    uow: BillingUnitOfWork, customer_id: str, *, limit: int, offset: int
) -> Page[PaymentRecord]:
    """A customer's payment history over all orders, newest first."""
    async with uow:
        items, total = await uow.queries.customer_payments(customer_id, limit=limit, offset=offset)
    return Page(items, total, limit, offset)


async def cancellation(uow: BillingUnitOfWork, order_id: str) -> CancellationResult:
    """What the cancellation of the order decided (refunds, what was kept, and why)."""
    fund = await fund_order_of(uow, order_id)
    if fund.cancellation is None:
        raise NotCancelled(f"order {order_id} is not cancelled")
    return fund.cancellation


async def cancellation_quote(
    uow: BillingUnitOfWork, order_id: str, *, at: datetime | None = None
) -> CancellationResult:
    """What a cancellation now would refund and keep, and why (nothing is changed)."""
    fund = copy.deepcopy(await fund_order_of(uow, order_id))
    return fund.cancel(at=at or utc_now(), reason=QUOTE_REASON)


async def deliveries(
    uow: BillingUnitOfWork, *, status: str | None, order_id: str | None, limit: int, offset: int
) -> Page[Delivery]:
    """Webhook deliveries, newest first."""
    async with uow:
        items, total = await uow.webhooks.page(
            status=status, order_id=order_id, limit=limit, offset=offset
        )
    return Page(items, total, limit, offset)


async def delivery(uow: BillingUnitOfWork, delivery_id: int) -> tuple[Delivery, list[Attempt]]:
    """One webhook delivery with its attempts."""
    async with uow:
        found = await uow.webhooks.get(delivery_id)
        if found is None:
            raise DeliveryNotFound(f"webhook delivery {delivery_id} not found")
        return found, await uow.webhooks.attempts(delivery_id)


async def resend_delivery(uow: BillingUnitOfWork, delivery_id: int) -> Delivery:
    """Queue a delivery again now, whatever its state (a manual re-send)."""
    async with uow:
        found = await uow.webhooks.resend(delivery_id, at=utc_now())
        if found is None:
            raise DeliveryNotFound(f"webhook delivery {delivery_id} not found")
        await uow.commit()
    return found


async def deferred_outcomes(
    uow: BillingUnitOfWork, *, status: str | None, order_id: str | None, limit: int, offset: int
) -> Page[DeferredOutcome]:
    """Payment outcomes waiting for their payment, or refused as conflicts."""
    async with uow:
        items, total = await uow.deferred.page(
            status=status, order_id=order_id, limit=limit, offset=offset
        )
    return Page(items, total, limit, offset)
