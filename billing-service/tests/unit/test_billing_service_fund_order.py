"""The fund order of a post-delivery service order: one billing, fully refundable."""

from __future__ import annotations

from datetime import datetime

import pytest

from billing_service.domain import (
    BillingStage,
    BillingStatus,
    Channel,
    PaymentSucceeded,
    ServiceFundOrder,
)
from billing_service.domain.errors import InvalidAmount
from billing_service.domain.events import BillingDue, BillingPaid, FundOrderOpened


def _open(at: datetime, price_fen: int = 300_000) -> ServiceFundOrder:
    return ServiceFundOrder.open(
        fund_order_id="fund-svc-1",
        order_id="svc-1",
        parent_order_id="order-1",
        customer_id="cust-1",
        price_fen=price_fen,
        new_id=lambda: "bill-svc",
        at=at,
    )


def test_one_service_billing_is_due_at_once(t0: datetime) -> None:
    fund_order = _open(t0)

    events = fund_order.pull_events()

    assert [type(e) for e in events] == [FundOrderOpened, BillingDue]
    assert [(b.stage, b.amount_fen, b.status) for b in fund_order.billings] == [
        (BillingStage.SERVICE, 300_000, BillingStatus.DUE)
    ]


def test_paying_the_service_billing(t0: datetime) -> None:
    fund_order = _open(t0)
    outcome = PaymentSucceeded(payment_id="p1", channel=Channel.ALIPAY, amount_fen=300_000, at=t0)

    result = fund_order.apply_payment_outcome("bill-svc", outcome)

    assert [type(e) for e in result.events] == [BillingPaid]
    assert fund_order.status == "paid"


def test_cancelling_refunds_everything(t0: datetime) -> None:
    fund_order = _open(t0)
    outcome = PaymentSucceeded(payment_id="p1", channel=Channel.ALIPAY, amount_fen=300_000, at=t0)
    fund_order.apply_payment_outcome("bill-svc", outcome)

    result = fund_order.cancel(at=t0, reason="no longer wanted")

    assert (result.refund_fen, result.retained_fen) == (300_000, 0)
    assert result.reason == "order cancelled: 300000 fen paid is refunded in full"


def test_the_price_must_be_positive(t0: datetime) -> None:
    with pytest.raises(InvalidAmount):
        _open(t0, price_fen=0)
