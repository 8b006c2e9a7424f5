"""HTTP API of billing-service (thin: validate → query/command → response)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Request

from billing_service.entrypoints.schemas import FundOrderOut
from billing_service.service_layer import queries
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.auth import Principal, Role, require_roles
from otd_shared.runtime import ServiceRuntime

router = APIRouter(prefix="/v1", tags=["billing"])
Reader = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND, Role.FINANCE))]


def unit_of_work(request: Request) -> BillingUnitOfWork:
    """A fresh unit of work on the app's runtime."""
    runtime: ServiceRuntime = request.app.state.runtime
    return BillingUnitOfWork(runtime.sessions, runtime.outbox)


UoW = Annotated[BillingUnitOfWork, Depends(unit_of_work)]


@router.get("/orders/{order_id}/fund-order", response_model=FundOrderOut)
async def get_fund_order(order_id: uuid.UUID, uow: UoW, _: Reader) -> FundOrderOut:
    """The fund order of a vehicle order with its three billings."""
    return FundOrderOut.from_row(await queries.fund_order_of(uow, order_id))
