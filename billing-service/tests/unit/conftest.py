"""Fixtures of the billing-service domain tests."""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from billing_service.domain import (
    ApplyResult,
    Channel,
    FundOrder,
    PaymentRefunded,
    PaymentSucceeded,
)

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=UTC)
PRICE_FEN = 25_000_000  # intent 500_000 + firm 5_000_000 + final 19_500_000


@pytest.fixture
def t0() -> datetime:
    return T0


@pytest.fixture
def make_fund_order() -> Callable[..., FundOrder]:
    """A freshly opened fund order (events drained); keyword arguments override defaults."""

    def make(**overrides: Any) -> FundOrder:
        ids = itertools.count(1)
        arguments: dict[str, Any] = {
            "fund_order_id": "fund-1",
            "order_id": "order-1",
            "customer_id": "cust-1",
            "price_fen": PRICE_FEN,
            "loan_fen": 0,
            "new_id": lambda: f"bill-{next(ids)}",
            "at": T0,
            **overrides,
        }
        fund_order = FundOrder.open(**arguments)
        fund_order.pull_events()
        return fund_order

    return make


@pytest.fixture
def pay() -> Callable[..., ApplyResult]:
    """Apply a successful payment: pay(fund_order, billing, amount_fen, payment_id, channel)."""

    def apply(
        fund_order: FundOrder,
        billing_id: str,
        amount_fen: int,
        payment_id: str,
        channel: Channel = Channel.WECHATPAY,
    ) -> ApplyResult:
        outcome = PaymentSucceeded(
            payment_id=payment_id, channel=channel, amount_fen=amount_fen, at=T0
        )
        return fund_order.apply_payment_outcome(billing_id, outcome)

    return apply


@pytest.fixture
def refund() -> Callable[..., ApplyResult]:
    """Apply an executed refund: refund(fund_order, billing, payment_id, refund_id, amount)."""

    def apply(
        fund_order: FundOrder, billing_id: str, payment_id: str, refund_id: str, amount_fen: int
    ) -> ApplyResult:
        outcome = PaymentRefunded(
            payment_id=payment_id, refund_id=refund_id, amount_fen=amount_fen, at=T0
        )
        return fund_order.apply_payment_outcome(billing_id, outcome)

    return apply
