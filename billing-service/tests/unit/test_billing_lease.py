"""Leases: one billing per installment, due on its date, overdue after the grace period,
paid off early into one payoff billing; the live billings always add up to the price."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_service.domain import (
    BillingStatus,
    Channel,
    LeaseFundOrder,
    LeaseRules,
    PaymentSucceeded,
    PlannedInstallment,
)
from billing_service.domain.errors import IllegalTransition, InvalidField
from billing_service.domain.events import (
    BillingCancelled,
    BillingDue,
    BillingPaid,
    BillingScheduled,
    InstallmentOverdue,
)

RULES = LeaseRules(grace_days=5, advance_window_days=30)
OPENED = datetime(2024, 6, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai
MONTHLY_FEN, MONTHS = 100_000, 12


def schedule(first: date = date(2024, 7, 1), months: int = MONTHS) -> list[PlannedInstallment]:
    return [
        PlannedInstallment(n, date(first.year + (first.month + n - 2) // 12,
                                   (first.month + n - 2) % 12 + 1, first.day), MONTHLY_FEN)
        for n in range(1, months + 1)
    ]  # fmt: skip


def open_lease(first: date = date(2024, 7, 1), at: datetime = OPENED) -> LeaseFundOrder:
    ids = itertools.count(1)
    return LeaseFundOrder.open(
        fund_order_id="fund-L", order_id="lease-1", parent_order_id="car-1", customer_id="c-1",
        price_fen=MONTHLY_FEN * MONTHS, schedule=schedule(first), new_id=lambda: f"b{next(ids)}",
        at=at, rules=RULES,
    )  # fmt: skip


def pay(lease: LeaseFundOrder, billing_id: str, fen: int, at: datetime, pid: str) -> None:
    outcome = PaymentSucceeded(payment_id=pid, channel=Channel.WIRE, amount_fen=fen, at=at)
    lease.apply_payment_outcome(billing_id, outcome)


def test_opening_schedules_every_installment_with_its_advance_window() -> None:
    lease = open_lease()
    events = lease.pull_events()
    scheduled = [e for e in events if isinstance(e, BillingScheduled)]
    assert [e.installment_no for e in scheduled] == list(range(1, 13))
    first = scheduled[0]
    assert first.due_at == datetime(2024, 6, 30, 16, 0, tzinfo=UTC)  # 2024-07-01 in Shanghai
    assert first.payable_from == first.due_at - timedelta(days=30)
    assert not any(isinstance(e, BillingDue) for e in events)
    assert lease.status == "open"
    assert [c.change for c in lease.changes] == ["opened"]


def test_an_installment_falls_due_on_its_date_then_goes_overdue_after_the_grace() -> None:
    lease = open_lease()
    lease.pull_events()
    due_at = datetime(2024, 6, 30, 16, 0, tzinfo=UTC)
    assert lease.advance(at=due_at - timedelta(seconds=1), rules=RULES) == []
    fell = lease.advance(at=due_at, rules=RULES)
    assert [type(e) for e in fell] == [BillingDue]
    assert lease.installments[0].status is BillingStatus.DUE
    assert lease.advance(at=due_at + timedelta(days=4), rules=RULES) == []
    late = lease.advance(at=due_at + timedelta(days=5), rules=RULES)
    assert [type(e) for e in late] == [InstallmentOverdue]
    assert isinstance(late[0], InstallmentOverdue)
    assert late[0].outstanding_fen == MONTHLY_FEN
    assert lease.advance(at=due_at + timedelta(days=9), rules=RULES) == []
    assert [c.change for c in lease.changes] == ["opened", "fell_due", "overdue"]


def test_a_back_dated_lease_is_due_and_overdue_at_once() -> None:
    lease = open_lease(first=date(2024, 5, 20))
    events = lease.pull_events()
    assert [e.installment_no for e in events if isinstance(e, InstallmentOverdue)] == [1]
    due = [e for e in events if isinstance(e, BillingDue)]
    assert [e.billing_id for e in due] == ["b1"]


def test_a_paid_installment_is_never_overdue_and_the_last_one_pays_the_lease() -> None:
    lease = open_lease()
    for n, billing in enumerate(lease.installments, start=1):
        pay(lease, billing.id, MONTHLY_FEN, OPENED, f"p{n}")
    end = OPENED + timedelta(days=400)
    events = lease.advance(at=end, rules=RULES)
    assert not any(isinstance(e, InstallmentOverdue) for e in events)
    assert sum(isinstance(e, BillingPaid) for e in events) == MONTHS
    assert lease.status == "paid"


def test_early_payoff_moves_every_unpaid_rest_into_one_due_billing() -> None:
    lease = open_lease()
    pay(lease, "b1", MONTHLY_FEN, OPENED, "p1")
    pay(lease, "b2", 40_000, OPENED, "p2")
    lease.pull_events()
    payoff = lease.pay_off(billing_id="payoff-1", at=OPENED, actor="app")
    events = lease.pull_events()
    assert payoff.amount_fen == 60_000 + 10 * MONTHLY_FEN
    assert payoff.status is BillingStatus.DUE
    assert sum(isinstance(e, BillingCancelled) for e in events) == 10
    assert lease.installments[1].amount_fen == 40_000
    assert sum(b.amount_fen for b in lease.live_billings) == lease.price_fen
    pay(lease, "payoff-1", payoff.amount_fen, OPENED, "p3")
    assert lease.status == "paid"
    with pytest.raises(IllegalTransition, match="already paid off"):
        lease.pay_off(billing_id="payoff-2", at=OPENED, actor="app")
    assert lease.changes[-1].change == "paid_off"


def test_a_lease_with_nothing_left_cannot_be_paid_off() -> None:
    lease = open_lease()
    for n, billing in enumerate(lease.installments, start=1):
        pay(lease, billing.id, MONTHLY_FEN, OPENED, f"p{n}")
    with pytest.raises(IllegalTransition, match="nothing left"):
        lease.pay_off(billing_id="payoff-1", at=OPENED, actor="app")


def test_a_schedule_that_does_not_add_up_is_refused() -> None:
    with pytest.raises(InvalidField, match="do not add up"):
        LeaseFundOrder.open(
            fund_order_id="f", order_id="o", parent_order_id="p", customer_id="c",
            price_fen=MONTHLY_FEN * MONTHS + 1, schedule=schedule(), new_id=lambda: "b",
            at=OPENED, rules=RULES,
        )  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(
    steps=st.lists(
        st.tuples(st.integers(0, 11), st.integers(1, 150_000), st.integers(0, 500)), max_size=20
    ),
    payoff_after=st.integers(0, 20),
)
def test_any_payments_advances_and_payoff_keep_the_sum_and_never_lose_money(
    steps: list[tuple[int, int, int]], payoff_after: int
) -> None:
    lease = open_lease()
    paid_fen = 0
    for k, (index, fen, days) in enumerate(steps):
        at = OPENED + timedelta(days=days)
        if k == payoff_after and lease.payoff is None and lease.status == "open":
            lease.pay_off(billing_id="payoff", at=at, actor="app")
        target = lease.installments[index]
        pay(lease, target.id, fen, at, f"p{k}")
        paid_fen += fen
        lease.advance(at=at, rules=RULES)
        assert sum(b.amount_fen for b in lease.live_billings) == lease.price_fen
    kept_fen = sum(b.paid_fen for b in lease.billings)
    assert kept_fen == paid_fen  # nothing vanished: credits are refund requests, not losses
    owed_back_fen = sum(b.credit_fen for b in lease.billings)
    assert owed_back_fen <= paid_fen
