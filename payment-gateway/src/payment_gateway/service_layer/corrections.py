"""Payment corrections: finance accepted the channel's figure for a discrepancy (recon's
``accept_channel``, ``POST /v1/payments/{payment_id}/corrections``).

One transaction under the payment's row lock: the correction row (who, why, before, after,
the discrepancy and the adjustment; append-only), the payment set to the channel's figures
and PaymentCorrected in the outbox. Idempotent: the same adjustment (or, after a caller
crashed between our commit and its own, the same discrepancy) with the same figures answers
the first correction and changes nothing; other figures for either are refused.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from otd_shared.errors import NotFound
from otd_shared.events import PaymentCorrected
from payment_gateway.domain.correction import (
    CorrectionPlan,
    CorrectionRequest,
    plan_correction,
    plan_refund_correction,
)
from payment_gateway.domain.payment import Payment
from payment_gateway.domain.refund import Refund
from payment_gateway.errors import CorrectionConflict, IllegalTransition
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CorrectPaymentCommand:
    """Correct one payment to the channel's figure; ``recorded_by`` is the caller."""

    payment_id: uuid.UUID
    request: CorrectionRequest
    recorded_by: str


async def correct_payment(gw: Gateway, cmd: CorrectPaymentCommand) -> tuple[dict[str, Any], bool]:
    """The correction and whether this call made it (False: an idempotent replay)."""
    request = cmd.request
    async with gw.uow() as uow:
        payment = await uow.payments.get(cmd.payment_id, for_update=True)
        if payment is None:
            raise NotFound(f"payment {cmd.payment_id} not found")
        existing = await uow.corrections.find(request.adjustment_id, request.discrepancy_id)
        if existing is not None:
            return _replayed(existing, cmd), False
        refund = await _refund_of(uow, payment, request)
        plan = (
            plan_correction(payment, request)
            if refund is None
            else plan_refund_correction(payment, refund, request)
        )
        now = gw.now()
        row = await uow.corrections.add(_row(cmd, plan, now=now))
        if row is None:  # a concurrent correction of another payment took the adjustment
            raise CorrectionConflict(
                f"adjustment {request.adjustment_id} was used by another correction"
            )
        if refund is None:
            event = await _apply_to_payment(uow, payment, plan, request, row, now=now)
        else:
            event = await _apply_to_refund(uow, payment, refund, plan, request, row, now=now)
        await uow.emit(event)
        await uow.commit()
    log.info(
        "payment corrected to the channel's figure",
        extra={"payment_id": str(payment.payment_id), "delta_fen": plan.delta_fen},
    )
    return row, True


async def _refund_of(
    uow: GatewayUnitOfWork, payment: Payment, request: CorrectionRequest
) -> Refund | None:
    if request.refund_id is None:
        return None
    refund = await uow.refunds.get(request.refund_id)
    if refund is None or refund.payment_id != payment.payment_id:
        raise NotFound(f"refund {request.refund_id} of payment {payment.payment_id} not found")
    return refund


async def _apply_to_payment(
    uow: GatewayUnitOfWork,
    payment: Payment,
    plan: CorrectionPlan,
    request: CorrectionRequest,
    row: dict[str, Any],
    *,
    now: datetime,
) -> PaymentCorrected:
    completed_at = request.channel_completed_at or now
    updated = await uow.corrections.apply(payment, plan.after, completed_at=completed_at, now=now)
    if updated is None:
        raise IllegalTransition(f"payment {payment.payment_id} changed during the correction")
    return _event(updated, plan, request, row, before_status=payment.status.value,
                  before_fen=payment.amount_fen, after_fen=updated.amount_fen)  # fmt: skip


async def _apply_to_refund(
    uow: GatewayUnitOfWork,
    payment: Payment,
    refund: Refund,
    plan: CorrectionPlan,
    request: CorrectionRequest,
    row: dict[str, Any],
    *,
    now: datetime,
) -> PaymentCorrected:
    if not await uow.corrections.apply_refund(refund, plan.after, now=now):
        raise IllegalTransition(f"refund {refund.refund_id} changed during the correction")
    return _event(payment, plan, request, row, before_status=refund.status.value,
                  before_fen=refund.amount_fen, after_fen=plan.after["amount_fen"],
                  refund=refund, completed_at=refund.completed_at or now)  # fmt: skip


async def list_corrections(gw: Gateway, payment_id: uuid.UUID) -> list[dict[str, Any]]:
    """Corrections of one payment, oldest first."""
    async with gw.uow() as uow:
        return await uow.corrections.list_for_payment(payment_id)


def _replayed(existing: dict[str, Any], cmd: CorrectPaymentCommand) -> dict[str, Any]:
    if existing["payment_id"] == cmd.payment_id and cmd.request.same_figures(existing):
        return existing
    raise CorrectionConflict(
        f"correction {existing['correction_id']} already corrected payment "
        f"{existing['payment_id']} for adjustment {existing['adjustment_id']} / discrepancy "
        f"{existing['discrepancy_id']} with other figures"
    )


def _row(cmd: CorrectPaymentCommand, plan: CorrectionPlan, *, now: datetime) -> dict[str, Any]:
    request = cmd.request
    return {
        "correction_id": plan.correction_id,
        "adjustment_id": request.adjustment_id,
        "discrepancy_id": request.discrepancy_id,
        "payment_id": cmd.payment_id,
        "refund_id": request.refund_id,
        "source": request.source,
        "before": plan.before,
        "after": plan.after,
        "delta_fen": plan.delta_fen,
        "reason": request.reason,
        "requested_by": request.requested_by,
        "approved_by": request.approved_by,
        "recorded_by": cmd.recorded_by,
        "created_at": now,
    }


def _event(
    updated: Payment,
    plan: CorrectionPlan,
    request: CorrectionRequest,
    row: dict[str, Any],
    *,
    before_status: str,
    before_fen: int,
    after_fen: int,
    refund: Refund | None = None,
    completed_at: datetime | None = None,
) -> PaymentCorrected:
    return PaymentCorrected(
        correction_id=str(plan.correction_id),
        adjustment_id=request.adjustment_id,
        discrepancy_id=request.discrepancy_id,
        order_id=str(updated.order_id),
        billing_id=str(updated.billing_id),
        payment_id=str(updated.payment_id),
        channel=updated.channel,
        method=updated.method,
        out_trade_no=updated.out_trade_no,
        channel_txn_id=updated.channel_txn_id,
        before_status=before_status,
        before_amount_fen=before_fen,
        after_amount_fen=after_fen,
        delta_fen=plan.delta_fen,
        fee_fen=updated.fee_fen if refund is None else None,
        completed_at=completed_at or updated.completed_at or row["created_at"],
        corrected_at=row["created_at"],
        reason=request.reason,
        refund_id=None if refund is None else str(refund.refund_id),
    )
