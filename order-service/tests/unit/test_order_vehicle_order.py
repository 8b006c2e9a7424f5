"""The vehicle order: creation, every transition and gate, legal and illegal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

import pytest

from order_service.domain import (
    ChargingPileStatus,
    LoanStatus,
    OrderAmountRules,
    ProductionStatus,
    VehicleConfiguration,
    VehicleOrder,
    VehicleOrderStatus,
)
from order_service.domain.errors import (
    ConfigurationFrozen,
    GateClosed,
    IllegalTransition,
    InvalidAmount,
    InvalidField,
)
from order_service.domain.events import (
    OrderCancelled,
    OrderCreated,
    OrderDelivered,
    OrderFinalPaid,
    OrderFirmPaid,
    OrderIntentPaid,
    OrderLocked,
    OrderRepriced,
    ProductionScheduled,
    SubOrderRef,
    VehicleArrivedAtDeliveryCentre,
    VehicleReadyForDelivery,
)

S = VehicleOrderStatus
OrderIn = Callable[..., VehicleOrder]
MakeOrder = Callable[..., VehicleOrder]


# --- creation ---------------------------------------------------------------------------


def test_create_records_order_created_with_sub_orders(make_order: MakeOrder, t0: datetime) -> None:
    order = make_order(loan_fen=10_000_000, charging_pile=True)

    assert order.status is S.CREATED
    [event] = order.pull_events()
    assert event == OrderCreated(
        order_id=order.id,
        occurred_at=t0,
        customer_id="cust-1",
        order_kind="vehicle",
        vehicle_model="Model S",
        options=("awd", "white"),
        price_fen=25_000_000,
        loan_fen=10_000_000,
        charging_pile=True,
        sub_orders=order.sub_orders(),
        fund_order_id=order.fund_order_id,
    )
    assert [(ref.kind, ref.status) for ref in order.sub_orders()] == [
        ("fund", "open"),
        ("production", "waiting"),
        ("charging_pile", "requested"),
        ("loan", "intent_collected"),
    ]
    assert order.pull_events() == []


def test_ids_come_from_new_id_in_a_stated_order(make_order: MakeOrder) -> None:
    order = make_order()

    assert order.id == "id-1"
    assert [ref.id for ref in order.sub_orders()] == ["id-2", "id-3", "id-4", "id-5"]


def test_without_loan_or_pile_the_sub_orders_start_settled(make_order: MakeOrder) -> None:
    order = make_order(loan_fen=0, charging_pile=False)

    assert order.loan.status is LoanStatus.NOT_APPLICABLE
    assert order.charging_pile.status is ChargingPileStatus.NOT_NEEDED
    assert order.loan_share_fen == 0


def test_create_writes_a_history_entry(make_order: MakeOrder, t0: datetime) -> None:
    [entry] = make_order().history

    assert (entry.entity, entry.from_state, entry.to_state) == (
        "vehicle_order",
        "created",
        "created",
    )
    assert (entry.actor, entry.at, entry.reason) == ("app-backend", t0, "order created")


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"price_fen": 5_500_000}, "price_fen"),  # equals the deposits: final would be 0
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": 25_000_000.0}, "price_fen"),
        ({"price_fen": True}, "price_fen"),
        ({"loan_fen": -1}, "loan_fen"),
        ({"loan_fen": 19_500_001}, "loan_fen"),  # more than price − deposits
    ],
)
def test_create_refuses_amounts_naming_the_field(
    make_order: MakeOrder, overrides: dict[str, object], field: str
) -> None:
    with pytest.raises(InvalidAmount) as caught:
        make_order(**overrides)

    assert caught.value.field == field
    assert caught.value.http_status == 422


def test_loan_may_take_the_whole_final_payment(make_order: MakeOrder) -> None:
    order = make_order(loan_fen=19_500_000)

    assert order.loan_share_fen == 19_500_000


def test_amount_rules_follow_the_configured_deposits(make_order: MakeOrder) -> None:
    rules = OrderAmountRules(intent_fen=100, firm_fen=200)

    order = make_order(price_fen=301, rules=rules)

    assert order.price_fen == 301
    with pytest.raises(InvalidAmount):
        make_order(price_fen=300, rules=rules)


def test_create_refuses_a_blank_customer(make_order: MakeOrder) -> None:
    with pytest.raises(InvalidField) as caught:
        make_order(customer_id="  ")
    assert caught.value.field == "customer_id"


def test_create_refuses_a_naive_timestamp(make_order: MakeOrder) -> None:
    with pytest.raises(InvalidField) as caught:
        make_order(at=datetime(2024, 3, 1, 8, 0))  # noqa: DTZ001  (naive on purpose)
    assert caught.value.field == "at"


def test_create_refuses_a_non_utc_timestamp(make_order: MakeOrder, t0: datetime) -> None:
    from datetime import timezone

    shanghai = timezone(timedelta(hours=8))
    with pytest.raises(InvalidField):
        make_order(at=t0.astimezone(shanghai))


def test_configuration_options_are_sorted_and_unique() -> None:
    assert VehicleConfiguration("M", ("b", "a", "b")) == VehicleConfiguration("M", ("a", "b"))


def test_configuration_refuses_a_blank_model() -> None:
    with pytest.raises(InvalidField):
        VehicleConfiguration(" ")


# --- the happy path, step by step --------------------------------------------------------


def test_intent_paid_moves_created_to_intent_paid(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED)

    events = order.record_billing_paid(stage="intent", actor="billing", at=t0)

    assert order.status is S.INTENT_PAID
    assert events == [OrderIntentPaid(order_id=order.id, occurred_at=t0)]
    assert order.history[-1].to_state == "intent_paid"


def test_lock_freezes_the_configuration_and_tells_billing(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.INTENT_PAID)

    events = order.lock(actor="cust-1", at=t0, reason="customer locked in the app")

    assert order.status is S.LOCKED
    assert events == [
        OrderLocked(
            order_id=order.id,
            occurred_at=t0,
            customer_id="cust-1",
            vehicle_model="Model S",
            options=("awd", "white"),
            price_fen=25_000_000,
            loan_fen=0,
        )
    ]
    entry = order.history[-1]
    assert (entry.from_state, entry.to_state, entry.actor, entry.at, entry.reason) == (
        "intent_paid",
        "locked",
        "cust-1",
        t0,
        "customer locked in the app",
    )


def test_lock_before_the_intent_deposit_is_a_closed_gate(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED)

    with pytest.raises(GateClosed) as caught:
        order.lock(actor="cust-1", at=t0)

    assert caught.value.gate == "intent_billing_paid"
    assert caught.value.http_status == 409
    assert "from created to locked" in str(caught.value)
    assert order.status is S.CREATED


def test_firm_paid_opens_the_production_gate(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.LOCKED)
    with pytest.raises(GateClosed) as caught:
        order.schedule_production(actor="factory", at=t0)
    assert caught.value.gate == "firm_billing_paid"
    assert order.production.status is ProductionStatus.WAITING

    assert order.record_billing_paid(stage="firm", actor="billing", at=t0) == [
        OrderFirmPaid(order_id=order.id, occurred_at=t0)
    ]
    events = order.schedule_production(actor="factory", at=t0)

    assert order.firm_billing_paid
    assert order.production.status is ProductionStatus.SCHEDULED
    assert events == [
        ProductionScheduled(
            order_id=order.id,
            occurred_at=t0,
            production_order_id=order.production.id,
            vehicle_model="Model S",
            options=("awd", "white"),
        )
    ]


def test_firm_paid_is_recorded_in_the_history_without_a_state_change(
    order_in: OrderIn, t0: datetime
) -> None:
    order = order_in(S.LOCKED)

    order.record_billing_paid(stage="firm", actor="billing", at=t0)

    entry = order.history[-1]
    assert (entry.from_state, entry.to_state, entry.reason) == (
        "locked",
        "locked",
        "firm billing paid",
    )


@pytest.mark.parametrize("status", [S.CREATED, S.INTENT_PAID])
def test_firm_paid_before_the_lock_is_refused(
    order_in: OrderIn, t0: datetime, status: VehicleOrderStatus
) -> None:
    order = order_in(status)

    with pytest.raises(IllegalTransition, match="firm_paid"):
        order.record_billing_paid(stage="firm", actor="billing", at=t0)
    assert not order.firm_billing_paid


def test_arrival_makes_the_car_ready_for_delivery(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.LOCKED)
    order.record_billing_paid(stage="firm", actor="billing", at=t0)
    order.schedule_production(actor="factory", at=t0)
    order.record_vehicle_built(vin="VIN-1", actor="factory", at=t0)
    order.record_vehicle_shipped(actor="logistics", at=t0)

    events = order.record_arrival_at_delivery_centre(
        delivery_centre="SH-Pudong", actor="logistics", at=t0
    )

    assert order.status is S.READY_FOR_DELIVERY
    assert order.production.status is ProductionStatus.AT_DELIVERY_CENTRE
    assert events == [
        VehicleArrivedAtDeliveryCentre(
            order_id=order.id,
            occurred_at=t0,
            production_order_id=order.production.id,
            vin="VIN-1",
            delivery_centre="SH-Pudong",
        ),
        VehicleReadyForDelivery(
            order_id=order.id,
            occurred_at=t0,
            production_order_id=order.production.id,
            vin="VIN-1",
            delivery_centre="SH-Pudong",
        ),
    ]


def test_final_paid_then_delivery(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.READY_FOR_DELIVERY)

    paid = order.record_billing_paid(stage="final", actor="billing", at=t0)
    delivered = order.deliver(actor="store", at=t0)

    assert paid == [OrderFinalPaid(order_id=order.id, occurred_at=t0)]
    assert delivered == [
        OrderDelivered(
            order_id=order.id,
            occurred_at=t0,
            customer_id="cust-1",
            price_fen=25_000_000,
            vin="LSVAU2180N2183294",
        )
    ]
    assert order.status is S.DELIVERED
    assert order.fund_status == "paid"


def test_delivery_before_the_final_payment_is_a_closed_gate(
    order_in: OrderIn, t0: datetime
) -> None:
    order = order_in(S.READY_FOR_DELIVERY)

    with pytest.raises(GateClosed) as caught:
        order.deliver(actor="store", at=t0)

    assert caught.value.gate == "final_billing_paid"
    assert "from ready_for_delivery to delivered" in str(caught.value)


# --- illegal transitions, state by state --------------------------------------------------


def _lock(order: VehicleOrder, at: datetime) -> object:
    return order.lock(actor="cust-1", at=at)


def _cancel(order: VehicleOrder, at: datetime) -> object:
    return order.cancel(actor="cust-1", at=at, reason="changed my mind")


def _arrive(order: VehicleOrder, at: datetime) -> object:
    return order.record_arrival_at_delivery_centre(delivery_centre="SH", actor="x", at=at)


def _final_paid(order: VehicleOrder, at: datetime) -> object:
    return order.record_billing_paid(stage="final", actor="billing", at=at)


def _deliver(order: VehicleOrder, at: datetime) -> object:
    return order.deliver(actor="store", at=at)


def _intent_paid(order: VehicleOrder, at: datetime) -> object:
    return order.record_billing_paid(stage="intent", actor="billing", at=at)


ILLEGAL = [
    (S.CREATED, _arrive),
    (S.CREATED, _final_paid),
    (S.CREATED, _deliver),
    (S.INTENT_PAID, _arrive),
    (S.INTENT_PAID, _final_paid),
    (S.INTENT_PAID, _deliver),
    (S.LOCKED, _lock),
    (S.LOCKED, _cancel),
    (S.LOCKED, _final_paid),
    (S.LOCKED, _deliver),
    (S.READY_FOR_DELIVERY, _lock),
    (S.READY_FOR_DELIVERY, _cancel),
    (S.READY_FOR_DELIVERY, _arrive),
    (S.FINAL_PAID, _lock),
    (S.FINAL_PAID, _cancel),
    (S.FINAL_PAID, _arrive),
    (S.DELIVERED, _lock),
    (S.DELIVERED, _cancel),
    (S.DELIVERED, _arrive),
    (S.DELIVERED, _deliver),
]


@pytest.mark.parametrize(("status", "action"), ILLEGAL)
def test_illegal_transitions_are_refused_and_change_nothing(
    order_in: OrderIn,
    t0: datetime,
    status: VehicleOrderStatus,
    action: Callable[[VehicleOrder, datetime], object],
) -> None:
    order = order_in(status)
    history_length = len(order.history)

    with pytest.raises(IllegalTransition) as caught:
        action(order, t0)

    assert caught.value.http_status == 409
    assert f"from {status}" in str(caught.value)
    assert order.status is status
    assert len(order.history) == history_length
    assert order.pull_events() == []


@pytest.mark.parametrize("action", [_lock, _arrive, _final_paid, _deliver, _intent_paid, _cancel])
def test_a_cancelled_order_moves_no_more(
    order_in: OrderIn, t0: datetime, action: Callable[[VehicleOrder, datetime], object]
) -> None:
    order = order_in(S.INTENT_PAID)
    order.cancel(actor="cust-1", at=t0, reason="changed my mind")

    with pytest.raises(IllegalTransition, match="from cancelled"):
        action(order, t0)
    assert order.status is S.CANCELLED


# --- idempotent billing facts -------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "stage"),
    [
        (S.INTENT_PAID, "intent"),
        (S.LOCKED, "intent"),
        (S.DELIVERED, "intent"),
        (S.FINAL_PAID, "final"),
        (S.DELIVERED, "final"),
    ],
)
def test_billing_paid_again_changes_nothing(
    order_in: OrderIn, t0: datetime, status: VehicleOrderStatus, stage: str
) -> None:
    order = order_in(status)
    history_length = len(order.history)

    assert order.record_billing_paid(stage=stage, actor="billing", at=t0) == []
    assert order.status is status
    assert len(order.history) == history_length


def test_firm_paid_again_changes_nothing(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.READY_FOR_DELIVERY)  # firm was paid on the way

    assert order.record_billing_paid(stage="firm", actor="billing", at=t0) == []


def test_unknown_billing_stage_is_invalid(order_in: OrderIn, t0: datetime) -> None:
    with pytest.raises(InvalidField) as caught:
        order_in(S.CREATED).record_billing_paid(stage="service", actor="billing", at=t0)
    assert caught.value.field == "stage"


# --- configuration changes ----------------------------------------------------------------


@pytest.mark.parametrize("status", [S.CREATED, S.INTENT_PAID])
def test_configuration_changes_before_the_lock(
    order_in: OrderIn, t0: datetime, status: VehicleOrderStatus
) -> None:
    order = order_in(status)
    red = VehicleConfiguration("Model S", ("red",))

    events = order.change_configuration(
        configuration=red, price_fen=26_000_000, actor="cust-1", at=t0
    )

    assert (order.configuration, order.price_fen, order.status) == (red, 26_000_000, status)
    assert events == [
        OrderRepriced(
            order_id=order.id,
            occurred_at=t0,
            vehicle_model="Model S",
            options=("red",),
            price_fen=26_000_000,
            previous_price_fen=25_000_000,
            loan_fen=0,
        )
    ]
    entry = order.history[-1]
    assert (entry.from_state, entry.to_state, entry.reason) == (
        status,
        status,
        "configuration changed",
    )


def test_the_same_configuration_again_changes_nothing(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED)

    events = order.change_configuration(
        configuration=order.configuration, price_fen=order.price_fen, actor="cust-1", at=t0
    )

    assert events == []


@pytest.mark.parametrize("status", [S.LOCKED, S.READY_FOR_DELIVERY, S.FINAL_PAID, S.DELIVERED])
def test_configuration_is_frozen_after_the_lock(
    order_in: OrderIn, t0: datetime, status: VehicleOrderStatus
) -> None:
    order = order_in(status)

    with pytest.raises(ConfigurationFrozen) as caught:
        order.change_configuration(
            configuration=VehicleConfiguration("Model X"), price_fen=30_000_000, actor="c", at=t0
        )

    assert caught.value.http_status == 409
    assert order.configuration.vehicle_model == "Model S"
    assert order.price_fen == 25_000_000


def test_reprice_must_still_cover_deposits_and_loan(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED, loan_fen=10_000_000)

    with pytest.raises(InvalidAmount) as caught:
        order.change_configuration(
            configuration=order.configuration, price_fen=15_499_999, actor="c", at=t0
        )

    assert caught.value.field == "loan_fen"
    assert order.price_fen == 25_000_000


# --- cancellation -------------------------------------------------------------------------


def test_cancel_before_the_lock_cancels_the_open_sub_orders(
    order_in: OrderIn, t0: datetime
) -> None:
    order = order_in(S.INTENT_PAID, loan_fen=5_000_000, charging_pile=True)

    events = order.cancel(actor="cust-1", at=t0, reason="bought another car")

    assert events == [
        OrderCancelled(
            order_id=order.id,
            occurred_at=t0,
            customer_id="cust-1",
            reason="bought another car",
            cancelled_by="cust-1",
            previous_status="intent_paid",
        )
    ]
    assert order.production.status is ProductionStatus.CANCELLED
    assert order.charging_pile.status is ChargingPileStatus.CANCELLED
    assert order.loan.status is LoanStatus.CANCELLED
    assert [ref.status for ref in order.sub_orders()] == ["cancelled"] * 4


def test_cancel_leaves_settled_sub_orders_as_they_are(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED, loan_fen=5_000_000)
    order.submit_loan(bank_code="ICBC", actor="finance", at=t0)
    order.reject_loan(reason="income too low", actor="bank", at=t0)

    order.cancel(actor="cust-1", at=t0, reason="no loan, no car")

    assert order.loan.status is LoanStatus.REJECTED
    assert order.charging_pile.status is ChargingPileStatus.NOT_NEEDED


def test_cancel_needs_a_reason(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.CREATED)

    with pytest.raises(InvalidField) as caught:
        order.cancel(actor="cust-1", at=t0, reason="")

    assert caught.value.field == "reason"
    assert order.status is S.CREATED


def test_cancel_is_refused_once_the_loan_is_disbursed(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.INTENT_PAID, loan_fen=5_000_000)
    order.submit_loan(bank_code="ICBC", actor="finance", at=t0)
    order.approve_loan(principal_fen=5_000_000, actor="bank", at=t0)
    order.record_loan_disbursed(amount_fen=5_000_000, bank_reference="B-1", actor="bank", at=t0)

    with pytest.raises(GateClosed) as caught:
        order.cancel(actor="cust-1", at=t0, reason="changed my mind")

    assert caught.value.gate == "loan_not_disbursed"
    assert order.status is S.INTENT_PAID
    assert order.production.status is ProductionStatus.WAITING


# --- events and history -------------------------------------------------------------------


def test_methods_return_what_they_record_and_pull_events_drains(
    make_order: MakeOrder, t0: datetime
) -> None:
    order = make_order()
    order.pull_events()

    returned = order.record_billing_paid(stage="intent", actor="billing", at=t0)
    returned += order.lock(actor="cust-1", at=t0)

    assert order.pull_events() == returned
    assert order.pull_events() == []


def test_history_covers_the_order_and_its_sub_orders(order_in: OrderIn) -> None:
    order = order_in(S.DELIVERED)

    entries = order.all_history()

    assert [e.to_state for e in entries if e.entity == "vehicle_order"] == [
        "created",
        "intent_paid",
        "locked",
        "locked",  # firm paid
        "ready_for_delivery",
        "final_paid",
        "delivered",
    ]
    assert [e.to_state for e in entries if e.entity == "production_order"] == [
        "scheduled",
        "built",
        "shipped",
        "at_delivery_centre",
    ]
    assert all(e.at.utcoffset() == timedelta(0) for e in entries)


def test_a_blank_actor_is_refused_before_anything_changes(order_in: OrderIn, t0: datetime) -> None:
    order = order_in(S.INTENT_PAID)

    with pytest.raises(InvalidField) as caught:
        order.lock(actor=" ", at=t0)

    assert caught.value.field == "actor"
    assert order.status is S.INTENT_PAID


def test_sub_order_refs_are_plain_strings(make_order: MakeOrder) -> None:
    refs = make_order().sub_orders()

    assert all(type(ref.status) is str for ref in refs)
    assert isinstance(refs[0], SubOrderRef)


def test_error_bodies_carry_code_and_field(make_order: MakeOrder) -> None:
    with pytest.raises(InvalidAmount) as caught:
        make_order(price_fen=1)

    assert caught.value.to_body() == {
        "detail": "price_fen must exceed the intent and firm deposits (5500000 fen)",
        "code": "invalid_amount",
        "field": "price_fen",
    }
