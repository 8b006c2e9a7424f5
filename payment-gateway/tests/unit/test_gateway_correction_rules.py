"""Planning a refund correction (pure): the channel refunded more, less, or nothing."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from otd_shared.channels import ChannelCode
from payment_gateway.domain.correction import CorrectionRequest, plan_refund_correction
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.errors import CorrectionRefused

AT = datetime(2031, 7, 14, 2, 0, tzinfo=UTC)


def _payment(refunded_fen: int) -> Payment:
    return Payment(
        payment_id=uuid.uuid4(), out_trade_no="P1", billing_id=uuid.uuid4(),
        order_id=uuid.uuid4(), stage="intent", channel=ChannelCode.WECHATPAY, method="app",
        amount_fen=10_000, status=PaymentStatus.SUCCEEDED, created_at=AT, expires_at=AT,
        refunded_fen=refunded_fen,
    )  # fmt: skip


def _refund(payment: Payment, status: RefundStatus, amount_fen: int = 3_000) -> Refund:
    return Refund(
        refund_id=uuid.uuid4(), out_refund_no="R1", payment_id=payment.payment_id,
        billing_id=payment.billing_id, order_id=payment.order_id,
        channel=ChannelCode.WECHATPAY, amount_fen=amount_fen, reason="cancelled",
        status=status, created_at=AT,
    )  # fmt: skip


def _request(refund: Refund, channel_amount_fen: int, adjustment_fen: int) -> CorrectionRequest:
    return CorrectionRequest(
        adjustment_id="A", discrepancy_id="D", source="wechatpay", channel_status="succeeded",
        channel_amount_fen=channel_amount_fen, adjustment_fen=adjustment_fen,
        channel_txn_id=None, channel_completed_at=None, reason="statement",
        requested_by="finance:1", approved_by=None, refund_id=refund.refund_id,
    )  # fmt: skip


def test_a_smaller_refund_gives_the_difference_back() -> None:
    payment = _payment(refunded_fen=3_000)
    refund = _refund(payment, RefundStatus.SUCCEEDED)
    plan = plan_refund_correction(payment, refund, _request(refund, 2_000, 1_000))
    assert (plan.before, plan.after, plan.delta_fen) == (
        {"status": "succeeded", "amount_fen": 3_000},
        {"status": "succeeded", "amount_fen": 2_000},
        1_000,
    )


def test_a_processing_refund_the_channel_made_is_completed() -> None:
    payment = _payment(refunded_fen=0)
    refund = _refund(payment, RefundStatus.PROCESSING)
    plan = plan_refund_correction(payment, refund, _request(refund, 3_000, -3_000))
    assert (plan.before["status"], plan.delta_fen) == ("processing", -3_000)


@pytest.mark.parametrize(
    ("status", "refunded_fen", "channel_fen", "adjustment_fen", "code"),
    [
        (RefundStatus.SUCCEEDED, 3_000, 0, 3_000, "refund_corrected_to_zero"),
        (RefundStatus.SUCCEEDED, 3_000, 3_000, 0, "nothing_to_correct"),
        (RefundStatus.SUCCEEDED, 3_000, 2_000, -1_000, "correction_amount_mismatch"),
        (RefundStatus.SUCCEEDED, 500, 2_000, 1_000, "refund_not_correctable"),  # never counted
        (RefundStatus.MANUAL, 0, 2_000, -2_000, "refund_not_correctable"),
        (RefundStatus.PROCESSING, 9_000, 3_000, -3_000, "correction_above_payment"),
    ],
)
def test_refused_refund_corrections(
    status: RefundStatus, refunded_fen: int, channel_fen: int, adjustment_fen: int, code: str
) -> None:
    payment = _payment(refunded_fen)
    refund = _refund(payment, status)
    with pytest.raises(CorrectionRefused) as refused:
        plan_refund_correction(payment, refund, _request(refund, channel_fen, adjustment_fen))
    assert refused.value.code == code
