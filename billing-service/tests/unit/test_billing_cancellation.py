"""Cancellation: what is refunded, what the deposit policy keeps, and why."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import pytest

from billing_service.domain import (
    ApplyResult,
    BillingStatus,
    CancellationResult,
    Channel,
    DepositPolicy,
    FundOrder,
)
from billing_service.domain.errors import IllegalTransition
from billing_service.domain.events import BillingCancelled, RefundRequested

MakeFundOrder = Callable[..., FundOrder]
Pay = Callable[..., ApplyResult]


def test_before_the_lock_the_paid_intent_deposit_is_refunded(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    intent = fund_order.intent
    pay(fund_order, intent.id, 300_000, "p1", Channel.WECHATPAY)
    pay(fund_order, intent.id, 200_000, "p2", Channel.ALIPAY)
    fund_order.pull_events()

    result = fund_order.cancel(at=t0, reason="customer cancelled in the app")

    assert result.refund_fen == 500_000
    assert result.retained_fen == 0
    assert result.reason == (
        "cancelled before the configuration lock: deposits are refundable;"
        " 500000 fen to be refunded"
    )
    assert [(r.payment_id, r.channel, r.amount_fen) for r in result.refund_requests] == [
        ("p2", "alipay", 200_000),
        ("p1", "wechatpay", 300_000),
    ]
    events = fund_order.pull_events()
    assert events[0] == BillingCancelled(
        order_id="order-1",
        occurred_at=t0,
        billing_id=intent.id,
        stage="intent",
        paid_fen=500_000,
        retained_fen=0,
        refund_fen=500_000,
        reason="customer cancelled in the app",
    )
    assert [e for e in events if isinstance(e, RefundRequested)] == list(result.refund_requests)
    assert [b.status for b in fund_order.billings] == [BillingStatus.CANCELLED] * 3
    assert fund_order.status == "cancelled"


def test_cancelling_with_nothing_paid_refunds_nothing(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    result = make_fund_order().cancel(at=t0, reason="changed my mind")

    assert (result.refund_fen, result.refund_requests) == (0, ())


def test_after_the_lock_the_default_policy_keeps_the_deposits(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    pay(fund_order, fund_order.intent.id, 500_000, "p-intent")
    fund_order.lock(at=t0)
    pay(fund_order, fund_order.firm.id, 5_000_000, "p-firm", Channel.UNIONPAY)
    pay(fund_order, fund_order.final.id, 1_000_000, "p-final", Channel.WIRE)

    result = fund_order.cancel(at=t0, reason="customer withdrew")

    assert result.retained_fen == 5_500_000
    assert result.refund_fen == 1_000_000
    assert [r.payment_id for r in result.refund_requests] == ["p-final"]
    assert result.reason == (
        "cancelled after the configuration lock;"
        " intent deposit of 500000 fen kept (not refundable after the lock under policy"
        " 'standard');"
        " firm deposit of 5000000 fen kept (not refundable after the lock under policy"
        " 'standard');"
        " 1000000 fen to be refunded"
    )


def test_a_partly_paid_firm_deposit_is_kept_as_far_as_it_was_paid(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)
    pay(fund_order, fund_order.firm.id, 2_000_000, "p-firm")

    result = fund_order.cancel(at=t0, reason="customer withdrew")

    assert fund_order.firm.retained_fen == 2_000_000
    assert result.refund_fen == 0


def test_a_generous_policy_refunds_the_firm_deposit_after_the_lock(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    policy = DepositPolicy(name="goodwill", firm_refundable_after_lock=True)
    fund_order = make_fund_order(policy=policy)
    pay(fund_order, fund_order.intent.id, 500_000, "p-intent")
    fund_order.lock(at=t0)
    pay(fund_order, fund_order.firm.id, 5_000_000, "p-firm")

    result = fund_order.cancel(at=t0, reason="factory delay")

    assert (result.retained_fen, result.refund_fen) == (500_000, 5_000_000)
    assert "intent deposit of 500000 fen kept" in result.reason
    assert "firm deposit" not in result.reason


def test_overpaid_credit_is_refunded_even_when_deposits_are_kept(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)
    pay(fund_order, fund_order.firm.id, 5_000_100, "p-firm")  # 100 fen credit, asked back
    assert fund_order.firm.book.awaiting_refund_fen == 100

    result = fund_order.cancel(at=t0, reason="customer withdrew")

    assert fund_order.firm.retained_fen == 5_000_000
    assert result.refund_fen == 0  # the 100 fen refund is already under way


def test_cancelling_again_returns_the_first_result(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    pay(fund_order, fund_order.intent.id, 500_000, "p1")
    first = fund_order.cancel(at=t0, reason="first")
    fund_order.pull_events()

    second = fund_order.cancel(at=t0, reason="second")

    assert isinstance(second, CancellationResult)
    assert second == first
    assert fund_order.pull_events() == []


def test_money_arriving_after_cancellation_goes_back(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    fund_order.cancel(at=t0, reason="changed my mind")

    result = pay(fund_order, fund_order.intent.id, 500_000, "p-late")

    [request] = result.events
    assert isinstance(request, RefundRequested)
    assert (request.payment_id, request.amount_fen) == ("p-late", 500_000)
    assert request.reason == "payment to the cancelled intent billing"


@pytest.mark.parametrize("action", ["lock", "ready", "reprice", "approve", "reject"])
def test_a_cancelled_fund_order_takes_no_more_milestones(
    make_fund_order: MakeFundOrder, t0: datetime, action: str
) -> None:
    fund_order = make_fund_order(loan_fen=1_000_000)
    fund_order.cancel(at=t0, reason="changed my mind")
    actions = {
        "lock": lambda: fund_order.lock(at=t0),
        "ready": lambda: fund_order.mark_ready_for_delivery(at=t0),
        "reprice": lambda: fund_order.reprice(price_fen=30_000_000, at=t0),
        "approve": lambda: fund_order.approve_loan(principal_fen=1_000_000, at=t0),
        "reject": lambda: fund_order.reject_loan(at=t0),
    }

    with pytest.raises(IllegalTransition, match="from cancelled") as caught:
        actions[action]()
    assert caught.value.http_status == 409


def test_a_loan_disbursed_after_cancellation_goes_back_to_the_bank(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=1_000_000)
    fund_order.approve_loan(principal_fen=1_000_000, at=t0)
    fund_order.cancel(at=t0, reason="changed my mind")

    result = fund_order.record_loan_disbursed(bank_reference="B1", amount_fen=1_000_000, at=t0)

    [request] = result.events
    assert isinstance(request, RefundRequested)
    assert (request.channel, request.amount_fen) == ("loan", 1_000_000)
