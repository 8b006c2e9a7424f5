"""HTTP API of payment corrections (thin): ``POST /v1/payments/{payment_id}/corrections``
(recon's service token or a finance-approver), ``GET`` the corrections of a payment, and
``GET /v1/payments?out_trade_no=`` and ``GET /v1/refunds?out_refund_no=`` (how recon finds
the payment or refund of a channel-only line)."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status
from fastapi.responses import JSONResponse

from otd_shared.auth import Principal, Role, require_roles
from payment_gateway.domain.correction import CorrectionRequest
from payment_gateway.entrypoints.api import Gw
from payment_gateway.entrypoints.schemas import (
    CorrectionBody,
    CorrectionOut,
    PaymentOut,
    RefundOut,
)
from payment_gateway.service_layer import corrections, payments, refunds

router = APIRouter(prefix="/v1", tags=["corrections"])
Corrector = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER, Role.SERVICE))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER, Role.SERVICE))
]


@router.post(
    "/payments/{payment_id}/corrections",
    status_code=status.HTTP_201_CREATED,
    response_model=CorrectionOut,
    responses={200: {"model": CorrectionOut}, 404: {}, 409: {}, 422: {}},
)
async def correct_payment(
    payment_id: uuid.UUID, body: CorrectionBody, gw: Gw, principal: Corrector
) -> JSONResponse:
    """Correct the payment to the channel's figure for a reconciliation discrepancy: 201 with
    the correction; the same adjustment again → 200 with the first one (nothing changes)."""
    command = corrections.CorrectPaymentCommand(
        payment_id=payment_id,
        request=CorrectionRequest(
            adjustment_id=body.adjustment_id,
            discrepancy_id=body.discrepancy_id,
            source=body.source,
            channel_status=body.channel_status,
            channel_amount_fen=body.channel_amount_fen,
            adjustment_fen=body.adjustment_fen,
            channel_txn_id=body.channel_txn_id,
            channel_completed_at=body.channel_completed_at,
            reason=body.reason,
            requested_by=body.requested_by,
            approved_by=body.approved_by,
            refund_id=body.refund_id,
        ),
        recorded_by=principal.subject,
    )
    row, created = await corrections.correct_payment(gw, command)
    out = CorrectionOut.of(row, created=created).model_dump(mode="json")
    return JSONResponse(out, status_code=status.HTTP_201_CREATED if created else status.HTTP_200_OK)


@router.get("/payments/{payment_id}/corrections", response_model=list[CorrectionOut])
async def payment_corrections(payment_id: uuid.UUID, gw: Gw, _: Reader) -> list[CorrectionOut]:
    """Corrections of a payment, oldest first."""
    rows = await corrections.list_corrections(gw, payment_id)
    return [CorrectionOut.of(r, created=False) for r in rows]


@router.get("/payments", response_model=list[PaymentOut])
async def payments_by_out_trade_no(
    gw: Gw, _: Reader, out_trade_no: Annotated[str, Query(min_length=1, max_length=64)]
) -> list[PaymentOut]:
    """The payment with our merchant order number (none or one)."""
    found = await payments.find_by_out_trade_no(gw, out_trade_no)
    return [] if found is None else [PaymentOut.of(found)]


@router.get("/refunds", response_model=list[RefundOut])
async def refunds_by_out_refund_no(
    gw: Gw, _: Reader, out_refund_no: Annotated[str, Query(min_length=1, max_length=64)]
) -> list[RefundOut]:
    """The refund with our refund number (none or one)."""
    found = await refunds.find_by_out_refund_no(gw, out_refund_no)
    return [] if found is None else [RefundOut.of(found)]
