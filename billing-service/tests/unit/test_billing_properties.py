"""Property tests: random event sequences never break the fund order's bookkeeping.

Events: payments of random amounts on random channels (with reused ids, so duplicates and
conflicts happen), failures, refunds (before and after their payment, and executions of
the refunds billing itself requested), repricing, lock, ready for delivery, loan approval,
rejection and disbursement, and cancellation. After every event:

- the billing amounts add up to the price;
- each billing's paid_fen equals the successes applied minus the refunds applied (counted
  by an independent model), and no amount is ever negative;
- a billing that is not cancelled is PAID exactly when paid_fen >= amount_fen;
- every credit owed to the customer is covered by refunds already requested, and refunds
  are requested only up to that credit, never twice for the same money;
- an event that raises a DomainError changes nothing;
- applying any event twice equals applying it once (same state, no new events).
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from billing_service.domain import (
    ApplyResult,
    ApplyStatus,
    BillingStatus,
    Channel,
    DepositPolicy,
    FundOrder,
    PaymentFailed,
    PaymentOutcome,
    PaymentRefunded,
    PaymentSucceeded,
)
from billing_service.domain.events import BillingEvent
from otd_shared.errors import DomainError

T0 = datetime(2024, 3, 1, tzinfo=UTC)
POLICY = DepositPolicy(intent_fen=500, firm_fen=5_000)
Event = tuple[object, ...]

stages = st.sampled_from(["intent", "firm", "final"])
payment_ids = st.sampled_from([f"p{i}" for i in range(6)])
refund_ids = st.sampled_from([f"r{i}" for i in range(4)])
# A discount never pays a billing on its own: the gateway draws one only next to a larger
# channel payment, and it is never refunded through billing (the gateway reverses it).
channels = st.sampled_from([c for c in Channel if c is not Channel.DISCOUNT])
amounts = st.integers(min_value=-1, max_value=9_000)  # 0 and -1 test the 422 path
events: st.SearchStrategy[Event] = st.one_of(
    *[st.tuples(st.just("pay"), stages, payment_ids, channels, amounts)] * 3,  # weigh triple
    st.tuples(st.just("fail"), stages, payment_ids, channels),
    st.tuples(st.just("refund"), stages, payment_ids, refund_ids, amounts),
    st.tuples(st.just("execute_refund"), st.integers(min_value=0, max_value=20)),
    st.tuples(st.just("reprice"), st.integers(min_value=5_000, max_value=20_000)),
    st.tuples(st.sampled_from(["lock", "ready", "reject", "cancel"])),
    st.tuples(st.just("approve"), st.integers(min_value=0, max_value=6_000)),
    st.tuples(st.just("disburse"), st.sampled_from(["B1", "B2"]), amounts),
)


@dataclass
class MoneyModel:
    """What an independent bookkeeper counts from the outcomes the domain accepted."""

    successes: dict[str, dict[str, int]] = field(default_factory=dict)
    refunds: dict[str, dict[str, int]] = field(default_factory=dict)

    def record(self, billing_id: str, outcome: PaymentOutcome, result: ApplyResult) -> None:
        if result.status is not ApplyStatus.APPLIED:
            return
        if isinstance(outcome, PaymentSucceeded):
            self.successes.setdefault(billing_id, {})[outcome.payment_id] = outcome.amount_fen
        elif isinstance(outcome, PaymentRefunded):
            self.refunds.setdefault(billing_id, {})[outcome.refund_id] = outcome.amount_fen

    def paid_fen(self, billing_id: str) -> int:
        paid = sum(self.successes.get(billing_id, {}).values())
        return paid - sum(self.refunds.get(billing_id, {}).values())


def _new_fund_order(price_fen: int, loan_fen: int) -> FundOrder:
    ids = itertools.count(1)
    fund_order = FundOrder.open(
        fund_order_id="fund-1",
        order_id="order-1",
        customer_id="cust-1",
        price_fen=price_fen,
        loan_fen=loan_fen,
        new_id=lambda: f"bill-{next(ids)}",
        at=T0,
        policy=POLICY,
    )
    fund_order.pull_events()
    return fund_order


def _resolve(
    fund_order: FundOrder, event: Event, model: MoneyModel, at: datetime
) -> Callable[[], object]:
    """Turn a drawn event into one concrete action, so it can be applied twice alike."""
    name = event[0]
    if name in ("pay", "fail", "refund"):
        billing_id = _billing_id(fund_order, str(event[1]))
        outcome = _outcome(event, at)
        return lambda: _apply(fund_order, billing_id, outcome, model)
    if name == "execute_refund":
        return _execute_refund(fund_order, int(str(event[1])), model, at)
    if name == "disburse":
        return lambda: _disburse(fund_order, str(event[1]), int(str(event[2])), model, at)
    simple: dict[str, Callable[[], object]] = {
        "lock": lambda: fund_order.lock(at=at),
        "ready": lambda: fund_order.mark_ready_for_delivery(at=at),
        "reject": lambda: fund_order.reject_loan(at=at),
        "cancel": lambda: fund_order.cancel(at=at, reason="customer cancelled"),
        "reprice": lambda: fund_order.reprice(price_fen=int(str(event[-1])), at=at),
        "approve": lambda: fund_order.approve_loan(principal_fen=int(str(event[-1])), at=at),
    }
    return simple[str(name)]


def _billing_id(fund_order: FundOrder, stage: str) -> str:
    return {"intent": fund_order.intent, "firm": fund_order.firm, "final": fund_order.final}[
        stage
    ].id


def _outcome(event: Event, at: datetime) -> PaymentOutcome:
    name, _stage, payment_id, *rest = event
    if name == "pay":
        channel, amount = rest
        return PaymentSucceeded(
            payment_id=str(payment_id), channel=Channel(channel), amount_fen=int(str(amount)), at=at
        )
    if name == "fail":
        return PaymentFailed(payment_id=str(payment_id), channel=Channel(rest[0]), at=at)
    refund_id, amount = rest
    return PaymentRefunded(
        payment_id=str(payment_id), refund_id=str(refund_id), amount_fen=int(str(amount)), at=at
    )


def _apply(
    fund_order: FundOrder, billing_id: str, outcome: PaymentOutcome, model: MoneyModel
) -> ApplyResult:
    result = fund_order.apply_payment_outcome(billing_id, outcome)
    model.record(billing_id, outcome, result)
    return result


def _execute_refund(
    fund_order: FundOrder, pick: int, model: MoneyModel, at: datetime
) -> Callable[[], object]:
    """The gateway executing one of the refunds billing requested."""
    requests = [r for b in fund_order.billings for r in b.refund_requests]
    if not requests:
        return lambda: None
    request = requests[pick % len(requests)]
    outcome = PaymentRefunded(
        payment_id=request.payment_id,
        refund_id=request.refund_request_id,
        amount_fen=request.amount_fen,
        at=at,
    )
    return lambda: _apply(fund_order, request.billing_id, outcome, model)


def _disburse(
    fund_order: FundOrder, reference: str, amount_fen: int, model: MoneyModel, at: datetime
) -> ApplyResult:
    result = fund_order.record_loan_disbursed(
        bank_reference=reference, amount_fen=amount_fen, at=at
    )
    outcome = PaymentSucceeded(
        payment_id=f"loan-{reference}", channel=Channel.LOAN, amount_fen=amount_fen, at=at
    )
    model.record(fund_order.final.id, outcome, result)
    return result


def _assert_bookkeeping(fund_order: FundOrder, model: MoneyModel) -> None:
    assert sum(b.amount_fen for b in fund_order.billings) == fund_order.price_fen
    for billing in fund_order.billings:
        assert billing.paid_fen == model.paid_fen(billing.id)
        assert billing.paid_fen >= 0
        assert all(p.net_fen >= 0 for p in billing.book.payments.values())
        assert min(billing.outstanding_fen, billing.customer_payable_fen, billing.credit_fen) >= 0
        if billing.is_cancelled:
            assert billing.status is BillingStatus.CANCELLED
        else:
            assert (billing.status is BillingStatus.PAID) == (
                billing.paid_fen >= billing.amount_fen
            )
        assert billing.credit_fen <= billing.book.awaiting_refund_fen
        request_ids = [r.refund_request_id for r in billing.refund_requests]
        assert len(request_ids) == len(set(request_ids))
        assert all(r.amount_fen > 0 for r in billing.refund_requests)


def _assert_refunds_requested_only_up_to_the_credit(before: FundOrder, after: FundOrder) -> None:
    for old, new in zip(before.billings, after.billings, strict=True):
        if new.book.awaiting_refund_fen > old.book.awaiting_refund_fen:
            assert new.book.awaiting_refund_fen == new.credit_fen


def _attempt(action: Callable[[], object]) -> type[DomainError] | None:
    try:
        action()
    except DomainError as error:
        return type(error)
    return None


scripts = st.tuples(
    st.integers(min_value=9_501, max_value=20_000),  # covers the deposits and any loan
    st.sampled_from([0, 1_000, 4_000]),
    st.lists(events, min_size=5, max_size=60),
)


@settings(max_examples=400, deadline=None)
@given(script=scripts)
def test_random_events_keep_the_books_straight(script: tuple[int, int, list[Event]]) -> None:
    price_fen, loan_fen, drawn = script
    fund_order = _new_fund_order(price_fen, loan_fen)
    model = MoneyModel()
    for minute, event in enumerate(drawn, start=1):
        before = copy.deepcopy(fund_order)
        pending = list(fund_order.pending_events)
        action = _resolve(fund_order, event, model, T0 + timedelta(minutes=minute))
        if _attempt(action) is not None:
            assert fund_order == before
            assert fund_order.pending_events == pending
        _assert_bookkeeping(fund_order, model)
        _assert_refunds_requested_only_up_to_the_credit(before, fund_order)


@settings(max_examples=400, deadline=None)
@given(script=scripts, last=events)
def test_any_event_applied_twice_equals_once(
    script: tuple[int, int, list[Event]], last: Event
) -> None:
    price_fen, loan_fen, drawn = script
    fund_order = _new_fund_order(price_fen, loan_fen)
    model = MoneyModel()
    for minute, event in enumerate(drawn, start=1):
        _attempt(_resolve(fund_order, event, model, T0 + timedelta(minutes=minute)))
    action = _resolve(fund_order, last, model, T0 + timedelta(hours=2))

    first_error = _attempt(action)
    once = copy.deepcopy(fund_order)
    recorded: list[BillingEvent] = list(fund_order.pending_events)
    second_error = _attempt(action)

    assert fund_order == once
    assert fund_order.pending_events == recorded
    assert second_error == first_error
    _assert_bookkeeping(fund_order, model)


@settings(max_examples=200, deadline=None)
@given(script=scripts)
def test_refund_requests_never_ask_back_more_than_was_paid(
    script: tuple[int, int, list[Event]],
) -> None:
    price_fen, loan_fen, drawn = script
    fund_order = _new_fund_order(price_fen, loan_fen)
    model = MoneyModel()
    for minute, event in enumerate(drawn, start=1):
        _attempt(_resolve(fund_order, event, model, T0 + timedelta(minutes=minute)))
    for billing in fund_order.billings:
        for payment in billing.book.payments.values():
            asked = sum(
                r.amount_fen for r in billing.refund_requests if r.payment_id == payment.payment_id
            )
            assert asked <= payment.amount_fen
