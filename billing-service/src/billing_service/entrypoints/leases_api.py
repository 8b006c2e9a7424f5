"""HTTP API of leases: the installment schedule with its changes, and early payoff.

The schedule itself comes from order-service (OrderCreated of a leasing service order);
billing-service owns it from then on. ``POST …/payoff`` is the one change the app backend
asks for directly: the unpaid rest becomes one payoff billing, due now (BillingDue, pushed).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from billing_service.entrypoints.api import Reader, UoW
from billing_service.entrypoints.schemas import BillingOut
from billing_service.service_layer import leases
from otd_shared.auth import Principal, Role, require_roles

router = APIRouter(prefix="/v1", tags=["leases"])
AppBackend = Annotated[Principal, Depends(require_roles(Role.APP_BACKEND))]


class ScheduleChangeOut(BaseModel):
    """One recorded change of the schedule."""

    seq: int
    change: str
    billing_id: str | None
    detail: str
    actor: str
    changed_at: datetime


class LeaseOut(BaseModel):
    """A lease: its installments (in order), the payoff billing if any, and every change."""

    order_id: str
    parent_order_id: str
    price_fen: int
    status: str
    paid_fen: int
    outstanding_fen: int
    installments: list[BillingOut]
    payoff: BillingOut | None
    changes: list[ScheduleChangeOut]

    @classmethod
    def of(cls, view: leases.LeaseView) -> LeaseOut:
        """From the service layer's view of a lease."""
        fund = view.fund
        return cls(
            order_id=fund.order_id,
            parent_order_id=fund.parent_order_id,
            price_fen=fund.price_fen,
            status=fund.status,
            paid_fen=sum(b.paid_fen for b in fund.billings),
            outstanding_fen=sum(b.outstanding_fen for b in fund.billings),
            installments=[BillingOut.of(b) for b in fund.installments],
            payoff=None if fund.payoff is None else BillingOut.of(fund.payoff),
            changes=[
                ScheduleChangeOut(
                    seq=c.seq,
                    change=c.change,
                    billing_id=c.billing_id,
                    detail=c.detail,
                    actor=c.actor,
                    changed_at=c.changed_at,
                )
                for c in view.changes
            ],
        )


@router.get("/leases/{order_id}", response_model=LeaseOut)
async def get_lease(order_id: str, uow: UoW, _: Reader) -> LeaseOut:
    """The schedule of a leasing service order; 404 unknown, 409 when it is not a lease."""
    return LeaseOut.of(await leases.lease_view(uow, order_id))


@router.post("/leases/{order_id}/payoff", response_model=LeaseOut)
async def pay_off_lease(order_id: str, uow: UoW, principal: AppBackend) -> LeaseOut:
    """Early payoff: every unpaid rest moves into one payoff billing, due now (BillingDue is
    pushed); 409 when cancelled, already paid off, or nothing is left to pay."""
    return LeaseOut.of(await leases.pay_off(uow, order_id, actor=principal.subject))
