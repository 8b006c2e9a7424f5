"""HTTP API of payment-gateway (thin routers)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel

from otd_shared.auth import Principal, Role, require_roles
from otd_shared.runtime import ServiceRuntime
from payment_gateway.adapters.payable_billings import PayableBillingRepository

router = APIRouter(prefix="/v1", tags=["billings"])
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.APP_BACKEND, Role.POS_INTEGRATOR, Role.CASHIER, Role.FINANCE)),
]


class PayableBillingOut(BaseModel):
    """A billing the gateway accepts payments for."""

    billing_id: uuid.UUID
    order_id: uuid.UUID
    stage: str
    amount_fen: int
    outstanding_fen: int
    due_at: datetime
    status: str


@router.get("/orders/{order_id}/payable-billings", response_model=list[PayableBillingOut])
async def payable_billings(
    order_id: uuid.UUID, request: Request, _: Reader
) -> list[PayableBillingOut]:
    """Billings of an order that are due and can be paid."""
    runtime: ServiceRuntime = request.app.state.runtime
    async with runtime.sessions() as session:
        found = await PayableBillingRepository(session).list_for_order(order_id)
    return [
        PayableBillingOut(
            billing_id=b.billing_id,
            order_id=b.order_id,
            stage=b.stage,
            amount_fen=b.amount_fen,
            outstanding_fen=b.outstanding_fen,
            due_at=b.due_at,
            status=b.status,
        )
        for b in found
    ]
