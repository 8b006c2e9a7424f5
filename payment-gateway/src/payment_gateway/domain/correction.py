"""Correcting a payment to the channel's figure (pure rules).

Finance accepted the channel's statement for a discrepancy (recon's ``accept_channel``): the
channel says the payment SUCCEEDED with ``channel_amount_fen``. The payment becomes succeeded
with that amount; what the customer paid us changes by

    delta_fen = channel_amount_fen − (amount_fen if the payment had succeeded, else 0)

which must be the adjustment recon computed for the discrepancy (+ line − record for an
amount mismatch, + the line for a status mismatch or a channel-only line of a payment we held
as paying, unknown, failed or closed). Refused, nothing changed:

| code (status) | when |
|---|---|
| ``payment_of_another_source`` (422) | the statement's source is not the payment's channel |
| ``correction_amount_mismatch`` (422) | ``adjustment_fen`` is not the delta above |
| ``nothing_to_correct`` (409) | the payment already stands at the channel's figure |
| ``correction_below_refunded`` (409) | the new amount is less than what was refunded of it |
| ``payment_not_correctable`` (409) | a reversed payment, or a channel status other than succeeded |

A REFUND of the payment (``refund_id``): the channel refunded ``channel_amount_fen`` where we
count the refund's amount (0 unless it succeeded): the refund becomes succeeded with that
amount and the payment's refunded amount moves by the difference. The channel refunded MORE
(or completed a refund we hold as requested, processing, unknown or failed): the customer has
that much less with us (``delta_fen`` < 0). The channel refunded LESS than a succeeded refund
of ours: the refund shrinks, the payment's refunded amount shrinks with it and the customer
has the difference back in the order's deposits (``delta_fen`` > 0). Either way recon's
adjustment for a refund line is the same: −(line − record). Refused besides the above:
``refund_not_correctable`` (409) — a manual refund (people pay it out);
``correction_above_payment`` (409) — the payment would be refunded beyond its amount;
``refund_corrected_to_zero`` (409) — the channel's amount is 0: a refund of nothing is no
refund (the channel did not refund it: finance resolves the line otherwise).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Literal

from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.errors import CorrectionRefused

CORRECTABLE_STATUSES: Final = frozenset(
    {
        PaymentStatus.SUCCEEDED,
        PaymentStatus.PAYING,
        PaymentStatus.UNKNOWN,
        PaymentStatus.FAILED,
        PaymentStatus.CLOSED,
        PaymentStatus.CREATED,
    }
)


@dataclass(frozen=True, kw_only=True)
class CorrectionRequest:
    """What recon (or a finance-approver) asks: the channel's figure for one discrepancy."""

    adjustment_id: str
    discrepancy_id: str
    source: str
    channel_status: Literal["succeeded"]
    channel_amount_fen: int
    adjustment_fen: int
    channel_txn_id: str | None
    channel_completed_at: datetime | None
    reason: str
    requested_by: str
    approved_by: str | None
    refund_id: uuid.UUID | None = None

    def same_figures(self, stored: dict[str, Any]) -> bool:
        """Whether a stored correction is this request again (an idempotent replay)."""
        after = stored["after"]
        return bool(
            stored["source"] == self.source
            and stored.get("refund_id") == self.refund_id
            and after["amount_fen"] == self.channel_amount_fen
            and after["status"] == self.channel_status
            and stored["delta_fen"] == self.adjustment_fen
        )


@dataclass(frozen=True, kw_only=True)
class CorrectionPlan:
    """What the correction changes."""

    correction_id: uuid.UUID
    before: dict[str, Any]
    after: dict[str, Any]
    delta_fen: int


def counted_fen(payment: Payment) -> int:
    """What the customer paid us by this payment as we counted it."""
    return payment.amount_fen if payment.status is PaymentStatus.SUCCEEDED else 0


def plan_correction(payment: Payment, request: CorrectionRequest) -> CorrectionPlan:
    """The correction of ``payment`` to the channel's figure, or CorrectionRefused."""
    _refuse_other_source(payment, request)
    if request.channel_status != "succeeded" or payment.status not in CORRECTABLE_STATUSES:
        raise CorrectionRefused(
            "payment_not_correctable",
            f"a {payment.status} payment cannot be corrected to a {request.channel_status} one",
        )
    delta = request.channel_amount_fen - counted_fen(payment)
    if delta != request.adjustment_fen:
        raise CorrectionRefused(
            "correction_amount_mismatch",
            f"the channel's {request.channel_amount_fen} fen against the payment's counted "
            f"{counted_fen(payment)} fen is {delta} fen, not the adjustment's "
            f"{request.adjustment_fen} fen",
            http_status=422,
        )
    if delta == 0 and payment.status is PaymentStatus.SUCCEEDED:
        raise CorrectionRefused("nothing_to_correct", "the payment already has this figure")
    if request.channel_amount_fen < payment.refunded_fen:
        raise CorrectionRefused(
            "correction_below_refunded",
            f"{payment.refunded_fen} fen of the payment were refunded already",
        )
    return CorrectionPlan(
        correction_id=uuid.uuid4(),
        before=_figures(payment.status.value, payment.amount_fen, payment.channel_txn_id),
        after=_figures(
            request.channel_status,
            request.channel_amount_fen,
            payment.channel_txn_id or request.channel_txn_id,
        ),
        delta_fen=delta,
    )


def plan_refund_correction(
    payment: Payment, refund: Refund, request: CorrectionRequest
) -> CorrectionPlan:
    """The correction of ``refund`` (of ``payment``) to the channel's refunded amount."""
    _refuse_other_source(payment, request)
    if refund.status is RefundStatus.MANUAL or request.channel_status != "succeeded":
        raise CorrectionRefused(
            "refund_not_correctable", f"a {refund.status} refund is not corrected here"
        )
    if request.channel_amount_fen <= 0:
        raise CorrectionRefused(
            "refund_corrected_to_zero",
            f"the channel refunded nothing of refund {refund.refund_id}: a refund of 0 fen is "
            "no refund; resolve the line another way (accept ours, write off)",
        )
    counted = counted_refund_fen(refund)
    refunded_more = request.channel_amount_fen - counted
    if refunded_more != -request.adjustment_fen:
        raise CorrectionRefused(
            "correction_amount_mismatch",
            f"the channel refunded {request.channel_amount_fen} fen against the counted "
            f"{counted} fen: the adjustment is {-refunded_more} fen, not "
            f"{request.adjustment_fen} fen",
            http_status=422,
        )
    if refunded_more == 0:
        raise CorrectionRefused("nothing_to_correct", "the refund already has this figure")
    if payment.refunded_fen + refunded_more > payment.amount_fen:
        raise CorrectionRefused(
            "correction_above_payment",
            f"payment {payment.payment_id} would be refunded beyond its {payment.amount_fen} fen",
        )
    if payment.refunded_fen + refunded_more < 0:  # the payment never counted this refund
        raise CorrectionRefused(
            "refund_not_correctable",
            f"payment {payment.payment_id} counts {payment.refunded_fen} fen refunded, less "
            f"than the {-refunded_more} fen the refund would give back",
        )
    return CorrectionPlan(
        correction_id=uuid.uuid4(),
        before={"status": refund.status.value, "amount_fen": refund.amount_fen},
        after={"status": "succeeded", "amount_fen": request.channel_amount_fen},
        delta_fen=-refunded_more,
    )


def counted_refund_fen(refund: Refund) -> int:
    """What the payment counts as refunded by this refund."""
    return refund.amount_fen if refund.status is RefundStatus.SUCCEEDED else 0


def _refuse_other_source(payment: Payment, request: CorrectionRequest) -> None:
    if request.source != payment.channel.value:
        raise CorrectionRefused(
            "payment_of_another_source",
            f"payment {payment.payment_id} is a {payment.channel} payment, "
            f"not one of the {request.source} statement",
            http_status=422,
        )


def _figures(status: str, amount_fen: int, channel_txn_id: str | None) -> dict[str, Any]:
    return {"status": status, "amount_fen": amount_fen, "channel_txn_id": channel_txn_id}
