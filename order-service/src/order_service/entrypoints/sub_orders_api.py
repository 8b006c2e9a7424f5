"""HTTP API of the sub-orders: production (factory/logistics, role ``sre``), charging pile
(role ``installer``) and the car loan (role ``bank``). Each answers the whole order."""

from __future__ import annotations

from fastapi import APIRouter

from order_service.entrypoints.deps import Bank, Factory, Installer, UoW
from order_service.entrypoints.schemas import (
    ArrivedBody,
    BuiltBody,
    LoanApproveBody,
    LoanDisburseBody,
    LoanSubmitBody,
    OrderOut,
    ReasonBody,
)
from order_service.service_layer import handlers

router = APIRouter(prefix="/v1/orders/{order_id}", tags=["sub-orders"])


async def _change(uow: UoW, order_id: str, change: handlers.VehicleChange) -> OrderOut:
    return OrderOut.of(await handlers.change_vehicle_order(uow, order_id, change))


# --- production (factory and logistics systems) -------------------------------------------


@router.post("/production/schedule", response_model=OrderOut)
async def schedule_production(order_id: str, uow: UoW, principal: Factory) -> OrderOut:
    """Schedule the build by hand. Normally automatic when the firm BillingPaid arrives;
    409 ``gate_closed`` while the firm deposit is unpaid."""
    return await _change(uow, order_id, handlers.schedule_production(principal.subject))


@router.post("/production/built", response_model=OrderOut)
async def vehicle_built(order_id: str, body: BuiltBody, uow: UoW, principal: Factory) -> OrderOut:
    """scheduled → built, with the VIN (VehicleBuilt)."""
    return await _change(uow, order_id, handlers.record_built(body.vin, principal.subject))


@router.post("/production/shipped", response_model=OrderOut)
async def vehicle_shipped(order_id: str, uow: UoW, principal: Factory) -> OrderOut:
    """built → shipped (VehicleShipped)."""
    return await _change(uow, order_id, handlers.record_shipped(principal.subject))


@router.post("/production/arrived", response_model=OrderOut)
async def vehicle_arrived(
    order_id: str, body: ArrivedBody, uow: UoW, principal: Factory
) -> OrderOut:
    """shipped → at_delivery_centre; the order is ready for delivery
    (VehicleReadyForDelivery: the final billing falls due)."""
    change = handlers.record_arrived(body.delivery_centre, principal.subject)
    return await _change(uow, order_id, change)


# --- charging pile (installer) --------------------------------------------------------------


@router.post("/charging-pile/surveyed", response_model=OrderOut)
async def pile_surveyed(order_id: str, uow: UoW, principal: Installer) -> OrderOut:
    """requested → surveyed (ChargingPileSurveyed)."""
    return await _change(uow, order_id, handlers.pile_surveyed(principal.subject))


@router.post("/charging-pile/installed", response_model=OrderOut)
async def pile_installed(order_id: str, uow: UoW, principal: Installer) -> OrderOut:
    """surveyed → installed (ChargingPileInstalled)."""
    return await _change(uow, order_id, handlers.pile_installed(principal.subject))


@router.post("/charging-pile/not-needed", response_model=OrderOut)
async def pile_not_needed(
    order_id: str, body: ReasonBody, uow: UoW, principal: Installer
) -> OrderOut:
    """requested or surveyed → not_needed, with the reason (ChargingPileNotNeeded)."""
    change = handlers.pile_not_needed(principal.subject, body.reason)
    return await _change(uow, order_id, change)


# --- car loan (bank notices) ------------------------------------------------------------------


@router.post("/loan/submit", response_model=OrderOut)
async def loan_submit(order_id: str, body: LoanSubmitBody, uow: UoW, principal: Bank) -> OrderOut:
    """intent_collected → submitted to ``bank_code`` (LoanSubmitted)."""
    return await _change(uow, order_id, handlers.loan_submitted(body.bank_code, principal.subject))


@router.post("/loan/approve", response_model=OrderOut)
async def loan_approve(order_id: str, body: LoanApproveBody, uow: UoW, principal: Bank) -> OrderOut:
    """submitted → approved with the principal (LoanApproved). Idempotent for the same
    principal."""
    change = handlers.loan_approved(body.principal_fen, principal.subject)
    return await _change(uow, order_id, change)


@router.post("/loan/reject", response_model=OrderOut)
async def loan_reject(order_id: str, body: ReasonBody, uow: UoW, principal: Bank) -> OrderOut:
    """submitted → rejected (LoanRejected: the loan share becomes self-pay on the final
    billing and the customer is told through the billing webhook)."""
    return await _change(uow, order_id, handlers.loan_rejected(body.reason, principal.subject))


@router.post("/loan/disburse", response_model=OrderOut)
async def loan_disburse(
    order_id: str, body: LoanDisburseBody, uow: UoW, principal: Bank
) -> OrderOut:
    """approved → disbursed (LoanDisbursed: a ``loan`` payment of the final billing).
    Idempotent by ``bank_reference``."""
    change = handlers.loan_disbursed(body.amount_fen, body.bank_reference, principal.subject)
    return await _change(uow, order_id, change)
