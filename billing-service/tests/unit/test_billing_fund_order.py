"""The vehicle fund order: opening, due dates, lock, ready for delivery, repricing."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from billing_service.domain import (
    ApplyResult,
    BillingStage,
    BillingStatus,
    DepositPolicy,
    FundOrder,
)
from billing_service.domain.errors import (
    BillingNotFound,
    ConfigurationFrozen,
    IllegalTransition,
    InvalidAmount,
    InvalidField,
)
from billing_service.domain.events import (
    BillingAmountChanged,
    BillingDue,
    BillingOverpaid,
    BillingPaid,
    FundOrderOpened,
    RefundRequested,
)

MakeFundOrder = Callable[..., FundOrder]
Pay = Callable[..., ApplyResult]


# --- opening ----------------------------------------------------------------------------


def test_open_splits_the_price_into_three_billings(t0: datetime) -> None:
    ids = iter(["b-intent", "b-firm", "b-final"])
    fund_order = FundOrder.open(
        fund_order_id="fund-1",
        order_id="order-1",
        customer_id="cust-1",
        price_fen=25_000_000,
        loan_fen=10_000_000,
        new_id=lambda: next(ids),
        at=t0,
    )

    amounts = [(b.id, b.stage, b.amount_fen, b.loan_share_fen) for b in fund_order.billings]
    assert amounts == [
        ("b-intent", BillingStage.INTENT, 500_000, 0),
        ("b-firm", BillingStage.FIRM, 5_000_000, 0),
        ("b-final", BillingStage.FINAL, 19_500_000, 10_000_000),
    ]
    assert fund_order.final.self_pay_fen == 9_500_000  # price − deposits − loan
    assert sum(b.amount_fen for b in fund_order.billings) == fund_order.price_fen


def test_open_makes_the_intent_billing_due(t0: datetime) -> None:
    fund_order = FundOrder.open(
        fund_order_id="fund-1",
        order_id="order-1",
        customer_id="cust-1",
        price_fen=25_000_000,
        new_id=iter(["b1", "b2", "b3"]).__next__,
        at=t0,
    )

    assert fund_order.pull_events() == [
        FundOrderOpened(
            order_id="order-1",
            occurred_at=t0,
            fund_order_id="fund-1",
            customer_id="cust-1",
            price_fen=25_000_000,
            billing_ids=("b1", "b2", "b3"),
        ),
        BillingDue(
            order_id="order-1",
            occurred_at=t0,
            billing_id="b1",
            customer_id="cust-1",
            stage="intent",
            amount_fen=500_000,
            outstanding_fen=500_000,
            customer_payable_fen=500_000,
            due_at=t0,
        ),
    ]
    statuses = [b.status for b in fund_order.billings]
    assert statuses == [BillingStatus.DUE, BillingStatus.PENDING, BillingStatus.PENDING]


def test_the_policy_sets_the_deposits(make_fund_order: MakeFundOrder) -> None:
    policy = DepositPolicy(intent_fen=100_000, firm_fen=1_000_000)

    fund_order = make_fund_order(policy=policy, price_fen=2_000_000)

    assert [b.amount_fen for b in fund_order.billings] == [100_000, 1_000_000, 900_000]


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price_fen": 5_500_000}, "price_fen"),  # final would be 0
        ({"price_fen": 1_000}, "price_fen"),
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": 25_000_000.5}, "price_fen"),
        ({"loan_fen": -1}, "loan_fen"),
        ({"loan_fen": 19_500_001}, "loan_fen"),
    ],
)
def test_open_refuses_amounts_naming_the_field(
    make_fund_order: MakeFundOrder, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        make_fund_order(**overrides)

    assert caught.value.field == field
    assert caught.value.http_status == 422


@pytest.mark.parametrize(
    ("intent_fen", "firm_fen"), [(0, 5_000_000), (500_000, -1), (500_000, 1.5)]
)
def test_policy_amounts_must_be_positive_integers(intent_fen: int, firm_fen: int) -> None:
    with pytest.raises(InvalidAmount):
        DepositPolicy(intent_fen=intent_fen, firm_fen=firm_fen)


def test_open_refuses_a_naive_time(make_fund_order: MakeFundOrder) -> None:
    with pytest.raises(InvalidField) as caught:
        make_fund_order(at=datetime(2024, 3, 1))  # noqa: DTZ001  (naive on purpose)
    assert caught.value.field == "at"


def test_unknown_billing_is_not_found(make_fund_order: MakeFundOrder) -> None:
    with pytest.raises(BillingNotFound) as caught:
        make_fund_order().billing("nope")
    assert caught.value.http_status == 404


# --- lock and ready for delivery ----------------------------------------------------------


def test_lock_makes_the_firm_billing_due(make_fund_order: MakeFundOrder, t0: datetime) -> None:
    fund_order = make_fund_order()
    locked_at = t0 + timedelta(days=2)

    events = fund_order.lock(at=locked_at)

    assert [type(e) for e in events] == [BillingDue]
    assert events[0] == fund_order.firm.due_event(at=locked_at)
    assert fund_order.firm.due_at == locked_at
    assert fund_order.pull_events() == events


def test_lock_again_changes_nothing(make_fund_order: MakeFundOrder, t0: datetime) -> None:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)

    assert fund_order.lock(at=t0 + timedelta(hours=1)) == []
    assert fund_order.locked_at == t0


def test_ready_for_delivery_makes_the_final_billing_due(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=4_000_000)
    fund_order.lock(at=t0)

    [event] = fund_order.mark_ready_for_delivery(at=t0)

    assert isinstance(event, BillingDue)
    assert (event.stage, event.amount_fen, event.customer_payable_fen) == (
        "final",
        19_500_000,
        15_500_000,
    )
    assert fund_order.mark_ready_for_delivery(at=t0) == []


def test_ready_for_delivery_before_the_lock_is_refused(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    fund_order = make_fund_order()

    with pytest.raises(IllegalTransition) as caught:
        fund_order.mark_ready_for_delivery(at=t0)

    assert caught.value.http_status == 409
    assert fund_order.final.status is BillingStatus.PENDING


def test_money_paid_before_the_due_date_is_announced_when_it_falls_due(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    early = pay(fund_order, fund_order.firm.id, 5_000_000, "p-early")
    assert early.events == ()
    assert fund_order.firm.status is BillingStatus.PAID

    events = fund_order.lock(at=t0)

    assert [type(e) for e in events] == [BillingDue, BillingPaid]


def test_billing_statuses_follow_the_money(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    firm = fund_order.firm
    seen = [firm.status]
    fund_order.lock(at=t0)
    seen.append(firm.status)
    pay(fund_order, firm.id, 1_000_000, "p1")
    seen.append(firm.status)
    result = pay(
        fund_order,
        firm.id,
        4_000_000,
        "p2",
    )
    seen.append(firm.status)

    assert seen == [
        BillingStatus.PENDING,
        BillingStatus.DUE,
        BillingStatus.PARTIALLY_PAID,
        BillingStatus.PAID,
    ]
    assert result.events == (
        BillingPaid(
            order_id="order-1",
            occurred_at=t0,
            billing_id=firm.id,
            stage="firm",
            amount_fen=5_000_000,
            paid_fen=5_000_000,
        ),
    )


def test_fund_order_status_is_paid_when_every_billing_is(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)
    fund_order.mark_ready_for_delivery(at=t0)
    for billing in fund_order.billings:
        assert fund_order.status == "open"
        pay(fund_order, billing.id, billing.amount_fen, f"p-{billing.stage}")

    assert fund_order.status == "paid"


# --- repricing ----------------------------------------------------------------------------


def test_reprice_moves_the_difference_to_the_final_billing(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order(loan_fen=5_000_000)
    pay(fund_order, fund_order.intent.id, 500_000, "p1")

    events = fund_order.reprice(price_fen=26_000_000, at=t0)

    assert events == [
        BillingAmountChanged(
            order_id="order-1",
            occurred_at=t0,
            billing_id=fund_order.final.id,
            stage="final",
            amount_fen=20_500_000,
            previous_amount_fen=19_500_000,
            self_pay_fen=15_500_000,
            previous_self_pay_fen=14_500_000,
            reason="repriced from 25000000 to 26000000 fen",
        )
    ]
    assert fund_order.price_fen == 26_000_000
    assert fund_order.intent.paid_fen == 500_000
    assert sum(b.amount_fen for b in fund_order.billings) == 26_000_000


def test_reprice_below_what_was_paid_refunds_the_excess(
    make_fund_order: MakeFundOrder, pay: Pay, t0: datetime
) -> None:
    fund_order = make_fund_order()
    pay(
        fund_order,
        fund_order.final.id,
        19_500_000,
        "p-final",
    )

    events = fund_order.reprice(price_fen=24_000_000, at=t0)

    assert [type(e) for e in events] == [BillingAmountChanged, BillingOverpaid, RefundRequested]
    refund = events[-1]
    assert isinstance(refund, RefundRequested)
    assert (refund.payment_id, refund.amount_fen) == ("p-final", 1_000_000)
    assert fund_order.final.credit_fen == 1_000_000


def test_reprice_to_the_same_price_changes_nothing(
    make_fund_order: MakeFundOrder, t0: datetime
) -> None:
    fund_order = make_fund_order()

    assert fund_order.reprice(price_fen=25_000_000, at=t0) == []


def test_reprice_after_the_lock_is_frozen(make_fund_order: MakeFundOrder, t0: datetime) -> None:
    fund_order = make_fund_order()
    fund_order.lock(at=t0)

    with pytest.raises(ConfigurationFrozen) as caught:
        fund_order.reprice(price_fen=30_000_000, at=t0)

    assert caught.value.http_status == 409
    assert fund_order.price_fen == 25_000_000


@pytest.mark.parametrize("price_fen", [5_500_000, 0, 15_499_999])
def test_reprice_must_cover_deposits_and_loan(
    make_fund_order: MakeFundOrder, t0: datetime, price_fen: int
) -> None:
    fund_order = make_fund_order(loan_fen=10_000_000)

    with pytest.raises(InvalidAmount) as caught:
        fund_order.reprice(price_fen=price_fen, at=t0)

    assert caught.value.field == "price_fen"
    assert fund_order.final.amount_fen == 19_500_000
