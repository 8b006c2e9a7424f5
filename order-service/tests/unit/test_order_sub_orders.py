"""Production, charging-pile and loan sub-orders: every transition, legal and illegal."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from order_service.domain import (
    ChargingPileOrder,
    ChargingPileStatus,
    LoanOrder,
    LoanStatus,
    ProductionOrder,
    ProductionStatus,
    VehicleOrder,
    VehicleOrderStatus,
)
from order_service.domain.errors import GateClosed, IllegalTransition, InvalidAmount, InvalidField
from order_service.domain.events import (
    ChargingPileInstalled,
    ChargingPileNotNeeded,
    ChargingPileSurveyed,
    LoanApproved,
    LoanDisbursed,
    LoanRejected,
    LoanSubmitted,
    OrderRepriced,
    VehicleBuilt,
    VehicleShipped,
)

T = datetime(2024, 3, 2, tzinfo=UTC)
OrderIn = Callable[..., VehicleOrder]


# --- production ---------------------------------------------------------------------------


def _production(status: ProductionStatus = ProductionStatus.WAITING) -> ProductionOrder:
    return ProductionOrder(id="prod-1", order_id="ord-1", status=status, vin="VIN-9")


def test_production_runs_from_waiting_to_the_delivery_centre() -> None:
    production = ProductionOrder(id="prod-1", order_id="ord-1")

    production.schedule(
        firm_billing_paid=True, vehicle_model="M", options=(), actor="factory", at=T
    )
    built = production.record_built(vin="VIN-1", actor="factory", at=T)
    shipped = production.record_shipped(actor="logistics", at=T)
    arrived = production.record_arrival(delivery_centre="SH", actor="logistics", at=T)

    assert built == VehicleBuilt(
        order_id="ord-1", occurred_at=T, production_order_id="prod-1", vin="VIN-1"
    )
    assert shipped == VehicleShipped(
        order_id="ord-1", occurred_at=T, production_order_id="prod-1", vin="VIN-1"
    )
    assert (arrived.vin, arrived.delivery_centre) == ("VIN-1", "SH")
    assert production.status is ProductionStatus.AT_DELIVERY_CENTRE
    assert [e.to_state for e in production.history] == [
        "scheduled",
        "built",
        "shipped",
        "at_delivery_centre",
    ]


def test_production_gate_is_checked_after_the_state() -> None:
    scheduled = _production(ProductionStatus.SCHEDULED)

    with pytest.raises(IllegalTransition) as caught:
        scheduled.schedule(firm_billing_paid=False, vehicle_model="M", options=(), actor="f", at=T)

    assert not isinstance(caught.value, GateClosed)


def test_production_gate_refuses_without_the_firm_deposit() -> None:
    production = _production()

    with pytest.raises(GateClosed) as caught:
        production.schedule(firm_billing_paid=False, vehicle_model="M", options=(), actor="f", at=T)

    assert caught.value.gate == "firm_billing_paid"
    assert production.status is ProductionStatus.WAITING
    assert production.history == []


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ProductionStatus.WAITING, "built"),
        (ProductionStatus.WAITING, "shipped"),
        (ProductionStatus.WAITING, "arrived"),
        (ProductionStatus.SCHEDULED, "shipped"),
        (ProductionStatus.BUILT, "arrived"),
        (ProductionStatus.AT_DELIVERY_CENTRE, "built"),
        (ProductionStatus.CANCELLED, "built"),
    ],
)
def test_production_refuses_skipping_steps(status: ProductionStatus, action: str) -> None:
    production = _production(status)
    actions = {
        "built": lambda: production.record_built(vin="V", actor="f", at=T),
        "shipped": lambda: production.record_shipped(actor="f", at=T),
        "arrived": lambda: production.record_arrival(delivery_centre="SH", actor="f", at=T),
    }

    with pytest.raises(
        IllegalTransition, match=f"production_order prod-1 cannot move from {status}"
    ):
        actions[action]()
    assert production.status is status


def test_production_needs_a_vin_and_a_centre() -> None:
    production = _production(ProductionStatus.SCHEDULED)
    with pytest.raises(InvalidField) as caught:
        production.record_built(vin="", actor="f", at=T)
    assert caught.value.field == "vin"

    shipped = _production(ProductionStatus.SHIPPED)
    with pytest.raises(InvalidField) as caught:
        shipped.record_arrival(delivery_centre=" ", actor="f", at=T)
    assert caught.value.field == "delivery_centre"
    assert shipped.status is ProductionStatus.SHIPPED


def test_vehicle_order_routes_production_steps(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.LOCKED)
    order.record_billing_paid(stage="firm", actor="billing", at=T)
    order.schedule_production(actor="factory", at=T)

    assert order.record_vehicle_built(vin="V1", actor="factory", at=T)[0].vin == "V1"
    assert isinstance(order.record_vehicle_shipped(actor="l", at=T)[0], VehicleShipped)
    assert order.production.status is ProductionStatus.SHIPPED


# --- charging pile ------------------------------------------------------------------------


def test_pile_is_surveyed_then_installed(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, charging_pile=True)
    pile_id = order.charging_pile.id

    surveyed = order.record_pile_survey(actor="installer", at=T)
    installed = order.record_pile_installed(actor="installer", at=T)

    assert surveyed == [
        ChargingPileSurveyed(order_id=order.id, occurred_at=T, charging_pile_order_id=pile_id)
    ]
    assert installed == [
        ChargingPileInstalled(order_id=order.id, occurred_at=T, charging_pile_order_id=pile_id)
    ]
    assert order.charging_pile.status is ChargingPileStatus.INSTALLED


@pytest.mark.parametrize("status", [ChargingPileStatus.REQUESTED, ChargingPileStatus.SURVEYED])
def test_pile_may_turn_out_not_needed(status: ChargingPileStatus) -> None:
    pile = ChargingPileOrder(id="pile-1", order_id="ord-1", status=status)

    event = pile.mark_not_needed(actor="installer", at=T, reason="charger exists")

    assert event == ChargingPileNotNeeded(
        order_id="ord-1", occurred_at=T, charging_pile_order_id="pile-1", reason="charger exists"
    )
    assert pile.status is ChargingPileStatus.NOT_NEEDED


def test_not_needed_needs_a_reason() -> None:
    pile = ChargingPileOrder(id="pile-1", order_id="ord-1")

    with pytest.raises(InvalidField):
        pile.mark_not_needed(actor="installer", at=T, reason=" ")
    assert pile.status is ChargingPileStatus.REQUESTED


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (ChargingPileStatus.REQUESTED, "install"),
        (ChargingPileStatus.SURVEYED, "survey"),
        (ChargingPileStatus.INSTALLED, "not_needed"),
        (ChargingPileStatus.INSTALLED, "survey"),
        (ChargingPileStatus.NOT_NEEDED, "survey"),
        (ChargingPileStatus.CANCELLED, "install"),
    ],
)
def test_pile_refuses_illegal_moves(status: ChargingPileStatus, action: str) -> None:
    pile = ChargingPileOrder(id="pile-1", order_id="ord-1", status=status)
    actions = {
        "survey": lambda: pile.record_survey(actor="i", at=T),
        "install": lambda: pile.record_installed(actor="i", at=T),
        "not_needed": lambda: pile.mark_not_needed(actor="i", at=T, reason="r"),
    }

    with pytest.raises(IllegalTransition, match=f"from {status}"):
        actions[action]()
    assert pile.status is status


def test_an_order_without_a_pile_refuses_pile_work(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, charging_pile=False)

    with pytest.raises(IllegalTransition, match="from not_needed to surveyed"):
        order.record_pile_survey(actor="installer", at=T)


def test_an_installed_pile_survives_the_order_cancellation(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, charging_pile=True)
    order.record_pile_survey(actor="installer", at=T)
    order.record_pile_installed(actor="installer", at=T)

    order.cancel(actor="cust-1", at=T, reason="changed my mind")

    assert order.charging_pile.status is ChargingPileStatus.INSTALLED


# --- loan ---------------------------------------------------------------------------------


def _loan(status: LoanStatus = LoanStatus.SUBMITTED, **fields: Any) -> LoanOrder:
    return LoanOrder(
        id="loan-1",
        order_id="ord-1",
        requested_fen=10_000_000,
        status=status,
        **fields,
    )


def test_loan_runs_from_intent_to_disbursement(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, loan_fen=10_000_000)
    loan_id = order.loan.id

    submitted = order.submit_loan(bank_code="ICBC", actor="finance", at=T)
    approved = order.approve_loan(principal_fen=8_000_000, actor="bank", at=T)
    disbursed = order.record_loan_disbursed(
        amount_fen=8_000_000, bank_reference="ICBC-77", actor="bank", at=T
    )

    assert submitted == [
        LoanSubmitted(
            order_id=order.id,
            occurred_at=T,
            loan_order_id=loan_id,
            bank_code="ICBC",
            requested_fen=10_000_000,
        )
    ]
    assert approved == [
        LoanApproved(
            order_id=order.id, occurred_at=T, loan_order_id=loan_id, principal_fen=8_000_000
        )
    ]
    assert disbursed == [
        LoanDisbursed(
            order_id=order.id,
            occurred_at=T,
            loan_order_id=loan_id,
            amount_fen=8_000_000,
            bank_reference="ICBC-77",
        )
    ]
    assert order.loan.status is LoanStatus.DISBURSED
    assert order.loan_share_fen == 8_000_000


def test_loan_share_follows_the_bank_decision() -> None:
    loan = _loan()
    assert loan.share_fen == 10_000_000

    loan.reject(actor="bank", at=T, reason="income too low")

    assert loan.share_fen == 0


def test_rejection_is_announced_with_the_amount_that_becomes_self_pay() -> None:
    loan = _loan()

    assert loan.reject(actor="bank", at=T, reason="income too low") == [
        LoanRejected(
            order_id="ord-1",
            occurred_at=T,
            loan_order_id="loan-1",
            requested_fen=10_000_000,
            reason="income too low",
        )
    ]


def test_bank_notices_are_idempotent() -> None:
    approved = _loan()
    approved.approve(principal_fen=9_000_000, actor="bank", at=T)
    rejected = _loan()
    rejected.reject(actor="bank", at=T, reason="no")
    disbursed = _loan(LoanStatus.APPROVED, principal_fen=9_000_000)
    disbursed.record_disbursed(amount_fen=9_000_000, bank_reference="B1", actor="bank", at=T)

    assert approved.approve(principal_fen=9_000_000, actor="bank", at=T) == []
    assert rejected.reject(actor="bank", at=T, reason="no") == []
    assert (
        disbursed.record_disbursed(amount_fen=9_000_000, bank_reference="B1", actor="bank", at=T)
        == []
    )
    assert disbursed.approve(principal_fen=9_000_000, actor="bank", at=T) == []
    assert len(disbursed.history) == 1


def test_a_second_different_approval_is_refused() -> None:
    loan = _loan()
    loan.approve(principal_fen=9_000_000, actor="bank", at=T)

    with pytest.raises(IllegalTransition, match="from approved to approved"):
        loan.approve(principal_fen=8_000_000, actor="bank", at=T)
    assert loan.principal_fen == 9_000_000


@pytest.mark.parametrize("principal_fen", [0, -5, 10_000_001])
def test_principal_must_be_positive_and_within_the_request(principal_fen: int) -> None:
    loan = _loan()

    with pytest.raises(InvalidAmount) as caught:
        loan.approve(principal_fen=principal_fen, actor="bank", at=T)

    assert caught.value.field == "principal_fen"
    assert loan.status is LoanStatus.SUBMITTED


def test_disbursement_must_match_the_principal() -> None:
    loan = _loan(LoanStatus.APPROVED, principal_fen=9_000_000)

    with pytest.raises(InvalidAmount) as caught:
        loan.record_disbursed(amount_fen=9_000_001, bank_reference="B1", actor="bank", at=T)

    assert caught.value.field == "amount_fen"
    assert loan.status is LoanStatus.APPROVED


def test_a_second_disbursement_with_another_reference_is_refused() -> None:
    loan = _loan(LoanStatus.APPROVED, principal_fen=9_000_000)
    loan.record_disbursed(amount_fen=9_000_000, bank_reference="B1", actor="bank", at=T)

    with pytest.raises(IllegalTransition):
        loan.record_disbursed(amount_fen=9_000_000, bank_reference="B2", actor="bank", at=T)


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (LoanStatus.INTENT_COLLECTED, "approve"),
        (LoanStatus.INTENT_COLLECTED, "reject"),
        (LoanStatus.INTENT_COLLECTED, "disburse"),
        (LoanStatus.SUBMITTED, "submit"),
        (LoanStatus.SUBMITTED, "disburse"),
        (LoanStatus.REJECTED, "approve"),
        (LoanStatus.REJECTED, "disburse"),
        (LoanStatus.APPROVED, "reject"),
        (LoanStatus.NOT_APPLICABLE, "submit"),
        (LoanStatus.NOT_APPLICABLE, "approve"),
        (LoanStatus.CANCELLED, "submit"),
    ],
)
def test_loan_refuses_illegal_moves(status: LoanStatus, action: str) -> None:
    loan = _loan(status, principal_fen=1_000_000 if status is LoanStatus.APPROVED else None)
    actions = {
        "submit": lambda: loan.submit(bank_code="ICBC", actor="f", at=T),
        "approve": lambda: loan.approve(principal_fen=2_000_000, actor="b", at=T),
        "reject": lambda: loan.reject(actor="b", at=T, reason="no"),
        "disburse": lambda: loan.record_disbursed(
            amount_fen=1_000_000, bank_reference="B", actor="b", at=T
        ),
    }

    with pytest.raises(IllegalTransition, match=f"loan_order loan-1 cannot move from {status}"):
        actions[action]()
    assert loan.status is status


def test_an_order_without_a_loan_refuses_loan_work(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, loan_fen=0)

    with pytest.raises(IllegalTransition, match="from not_applicable to submitted"):
        order.submit_loan(bank_code="ICBC", actor="finance", at=T)


def test_a_rejected_loan_frees_the_price_for_repricing(order_in: OrderIn) -> None:
    order = order_in(VehicleOrderStatus.CREATED, loan_fen=10_000_000)
    order.submit_loan(bank_code="ICBC", actor="finance", at=T)
    order.reject_loan(reason="no", actor="bank", at=T)

    [event] = order.change_configuration(
        configuration=order.configuration, price_fen=6_000_000, actor="cust-1", at=T
    )

    assert isinstance(event, OrderRepriced)
    assert (event.price_fen, event.loan_fen) == (6_000_000, 0)


def test_submit_needs_a_bank_code() -> None:
    loan = _loan(LoanStatus.INTENT_COLLECTED)

    with pytest.raises(InvalidField) as caught:
        loan.submit(bank_code="", actor="finance", at=T)

    assert caught.value.field == "bank_code"
    assert loan.status is LoanStatus.INTENT_COLLECTED
