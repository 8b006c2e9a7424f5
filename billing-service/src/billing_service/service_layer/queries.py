"""Read-side queries of billing-service."""

from __future__ import annotations

import uuid

from billing_service.adapters.repository import FundOrderRow
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.errors import NotFound


async def fund_order_of(uow: BillingUnitOfWork, order_id: uuid.UUID) -> FundOrderRow:
    """The fund order of a vehicle order, or NotFound."""
    async with uow:
        fund_order = await uow.fund_orders.get_by_order(order_id)
    if fund_order is None:
        raise NotFound(f"no fund order for order {order_id}")
    return fund_order
