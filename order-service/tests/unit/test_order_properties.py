"""Property tests: random command sequences never break the vehicle order's rules.

Every command either succeeds or raises a DomainError and leaves the order exactly as it
was; after every step the history is a continuous chain ending in the current state, and
the gates hold (production only after the firm deposit, delivery only after the final
payment, cancellation only before the lock). Facts that arrive as events are idempotent.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from order_service.domain import (
    HistoryEntry,
    ProductionStatus,
    VehicleConfiguration,
    VehicleOrder,
    VehicleOrderStatus,
)
from order_service.domain.events import OrderEvent
from otd_shared.errors import DomainError

T0 = datetime(2024, 3, 1, tzinfo=UTC)
PRICE_FEN = 25_000_000
Command = tuple[str, dict[str, object]]

actors = st.sampled_from(["cust-1", "billing", "factory", "bank", ""])
amounts = st.integers(min_value=-1, max_value=30_000_000)
commands: st.SearchStrategy[Command] = st.one_of(
    st.tuples(st.sampled_from(["intent", "firm", "final"]), st.fixed_dictionaries({})).map(
        lambda c: ("billing_paid", {"stage": c[0]})
    ),
    st.tuples(
        st.sampled_from(
            ["lock", "schedule", "built", "shipped", "arrive", "deliver", "submit", "reject"]
        ),
        st.fixed_dictionaries({}),
    ),
    st.tuples(st.just("cancel"), st.fixed_dictionaries({"reason": st.sampled_from(["", "bye"])})),
    st.tuples(st.just("reprice"), st.fixed_dictionaries({"price_fen": amounts})),
    st.tuples(st.just("approve"), st.fixed_dictionaries({"principal_fen": amounts})),
    st.tuples(
        st.just("disburse"),
        st.fixed_dictionaries({"amount_fen": amounts, "ref": st.sampled_from(["B1", "B2"])}),
    ),
    st.tuples(st.sampled_from(["survey", "install", "not_needed"]), st.fixed_dictionaries({})),
)


HAPPY_PATH: list[Command] = [
    ("billing_paid", {"stage": "intent"}),
    ("lock", {}),
    ("billing_paid", {"stage": "firm"}),
    ("schedule", {}),
    ("built", {}),
    ("shipped", {}),
    ("arrive", {}),
    ("billing_paid", {"stage": "final"}),
    ("deliver", {}),
]
# A prefix of the happy path, then random commands: reaches every state, not only the first.
scripts = st.tuples(
    st.integers(min_value=0, max_value=len(HAPPY_PATH)),
    st.lists(st.tuples(commands, actors), max_size=40),
).map(lambda c: [(step, "agent") for step in HAPPY_PATH[: c[0]]] + c[1])


def _run(order: VehicleOrder, command: Command, actor: str, at: datetime) -> list[OrderEvent]:
    name, args = command
    table: dict[str, Callable[[], list[OrderEvent]]] = {
        "billing_paid": lambda: order.record_billing_paid(
            stage=str(args["stage"]), actor=actor, at=at
        ),
        "lock": lambda: order.lock(actor=actor, at=at),
        "cancel": lambda: order.cancel(actor=actor, at=at, reason=str(args.get("reason"))),
        "schedule": lambda: order.schedule_production(actor=actor, at=at),
        "built": lambda: order.record_vehicle_built(vin="VIN-1", actor=actor, at=at),
        "shipped": lambda: order.record_vehicle_shipped(actor=actor, at=at),
        "arrive": lambda: order.record_arrival_at_delivery_centre(
            delivery_centre="SH", actor=actor, at=at
        ),
        "deliver": lambda: order.deliver(actor=actor, at=at),
        "reprice": lambda: order.change_configuration(
            configuration=order.configuration,
            price_fen=int(str(args["price_fen"])),
            actor=actor,
            at=at,
        ),
        "submit": lambda: order.submit_loan(bank_code="ICBC", actor=actor, at=at),
        "approve": lambda: order.approve_loan(
            principal_fen=int(str(args["principal_fen"])), actor=actor, at=at
        ),
        "reject": lambda: order.reject_loan(reason="no", actor=actor, at=at),
        "disburse": lambda: order.record_loan_disbursed(
            amount_fen=int(str(args["amount_fen"])),
            bank_reference=str(args["ref"]),
            actor=actor,
            at=at,
        ),
        "survey": lambda: order.record_pile_survey(actor=actor, at=at),
        "install": lambda: order.record_pile_installed(actor=actor, at=at),
        "not_needed": lambda: order.mark_pile_not_needed(actor=actor, at=at, reason="exists"),
    }
    return table[name]()


def _new_order(loan_fen: int, charging_pile: bool) -> VehicleOrder:
    ids = itertools.count(1)
    return VehicleOrder.create(
        customer_id="cust-1",
        configuration=VehicleConfiguration("Model S"),
        price_fen=PRICE_FEN,
        loan_fen=loan_fen,
        charging_pile=charging_pile,
        new_id=lambda: f"id-{next(ids)}",
        actor="app",
        at=T0,
    )


def _assert_chain(history: list[HistoryEntry], status: str) -> None:
    for previous, entry in itertools.pairwise(history):
        assert entry.from_state == previous.to_state
        assert entry.at >= T0
    if history:
        assert history[-1].to_state == status


def _assert_rules(order: VehicleOrder) -> None:
    _assert_chain(order.history, order.status)
    for sub in (order.production, order.charging_pile, order.loan):
        _assert_chain(sub.history, sub.status)
    visited = {entry.to_state for entry in order.history}
    if order.production.status not in (ProductionStatus.WAITING, ProductionStatus.CANCELLED):
        assert order.firm_billing_paid
    if order.status is VehicleOrderStatus.DELIVERED:
        assert "final_paid" in visited
        assert order.production.status is ProductionStatus.AT_DELIVERY_CENTRE
    if order.status is VehicleOrderStatus.CANCELLED:
        assert "locked" not in visited
    if order.firm_billing_paid:
        assert "locked" in visited
    assert 0 <= order.loan_share_fen <= order.price_fen - 5_500_000


@settings(max_examples=300, deadline=None)
@given(
    loan_fen=st.sampled_from([0, 10_000_000]),
    charging_pile=st.booleans(),
    steps=scripts,
)
def test_random_commands_keep_the_order_consistent(
    loan_fen: int, charging_pile: bool, steps: list[tuple[Command, str]]
) -> None:
    order = _new_order(loan_fen, charging_pile)
    for minute, (command, actor) in enumerate(steps, start=1):
        before = copy.deepcopy(order)
        pending = list(order.pending_events)
        try:
            events = _run(order, command, actor, T0 + timedelta(minutes=minute))
        except DomainError:
            assert order == before
            assert order.pending_events == pending
        else:
            assert order.pending_events == pending + events
            assert all(event.order_id == order.id for event in events)
        _assert_rules(order)


@settings(max_examples=200, deadline=None)
@given(
    steps=scripts,
    stage=st.sampled_from(["intent", "firm", "final"]),
)
def test_a_billing_fact_applied_twice_equals_once(
    steps: list[tuple[Command, str]], stage: str
) -> None:
    order = _new_order(10_000_000, True)
    for minute, (command, actor) in enumerate(steps, start=1):
        try:
            _run(order, command, actor, T0 + timedelta(minutes=minute))
        except DomainError:
            continue
    try:
        order.record_billing_paid(stage=stage, actor="billing", at=T0)
    except DomainError:
        return
    once = copy.deepcopy(order)

    assert order.record_billing_paid(stage=stage, actor="billing", at=T0) == []
    assert order == once
