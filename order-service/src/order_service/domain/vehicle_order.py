"""The vehicle order, parent of the production, charging-pile and loan sub-orders.

    created → intent_paid → locked → ready_for_delivery → final_paid → delivered
       └──────────┴──→ cancelled            (only before the lock)

Gates, each checked here from facts the order records: the lock needs the intent deposit
paid (the ``intent_paid`` state); production is scheduled only once the firm deposit is paid
(``firm_billing_paid``, set from billing-service's BillingPaid); the car is ready for
delivery when production reaches the delivery centre; delivery needs the final billing paid.

Every method that changes the order validates first, then mutates, appends history, and
returns the events it recorded (also kept in ``pending_events`` for the unit of work).
Facts that arrive as events (billing paid, bank notices) are idempotent: repeating one
returns no events.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from order_service.domain.charging_pile import ChargingPileOrder
from order_service.domain.configuration import (
    DEFAULT_AMOUNT_RULES,
    OrderAmountRules,
    VehicleConfiguration,
)
from order_service.domain.errors import (
    ConfigurationFrozen,
    GateClosed,
    IllegalTransition,
    InvalidField,
)
from order_service.domain.events import (
    OrderCancelled,
    OrderCreated,
    OrderDelivered,
    OrderEvent,
    OrderFinalPaid,
    OrderFirmPaid,
    OrderIntentPaid,
    OrderLocked,
    OrderRepriced,
    SubOrderRef,
    VehicleReadyForDelivery,
)
from order_service.domain.lifecycle import AggregateRoot, HistoryEntry, TransitionTable
from order_service.domain.loan import LoanOrder
from order_service.domain.production import ProductionOrder
from otd_shared.checks import require_text

NewId = Callable[[], str]


class VehicleOrderStatus(StrEnum):
    CREATED = "created"
    INTENT_PAID = "intent_paid"
    LOCKED = "locked"
    READY_FOR_DELIVERY = "ready_for_delivery"
    FINAL_PAID = "final_paid"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"


_S = VehicleOrderStatus
VEHICLE_ORDER_TRANSITIONS: Final[TransitionTable[VehicleOrderStatus]] = {
    _S.CREATED: frozenset({_S.INTENT_PAID, _S.CANCELLED}),
    _S.INTENT_PAID: frozenset({_S.LOCKED, _S.CANCELLED}),
    _S.LOCKED: frozenset({_S.READY_FOR_DELIVERY}),
    _S.READY_FOR_DELIVERY: frozenset({_S.FINAL_PAID}),
    _S.FINAL_PAID: frozenset({_S.DELIVERED}),
}
BEFORE_LOCK: Final = frozenset({_S.CREATED, _S.INTENT_PAID})
LOCKED_OR_LATER: Final = frozenset({_S.LOCKED, _S.READY_FOR_DELIVERY, _S.FINAL_PAID, _S.DELIVERED})
BILLING_STAGES: Final = ("intent", "firm", "final")


@dataclass(kw_only=True)
class VehicleOrder(AggregateRoot[VehicleOrderStatus]):
    """One car sold online; its sub-orders change only through its methods."""

    ENTITY = "vehicle_order"

    customer_id: str
    configuration: VehicleConfiguration
    price_fen: int
    loan_fen: int
    created_at: datetime
    fund_order_id: str
    production: ProductionOrder
    charging_pile: ChargingPileOrder
    loan: LoanOrder
    status: VehicleOrderStatus = VehicleOrderStatus.CREATED
    firm_billing_paid: bool = False

    def _transitions(self) -> TransitionTable[VehicleOrderStatus]:
        return VEHICLE_ORDER_TRANSITIONS

    # --- creation and views -------------------------------------------------------

    @classmethod
    def create(
        cls,
        *,
        customer_id: str,
        configuration: VehicleConfiguration,
        price_fen: int,
        loan_fen: int = 0,
        charging_pile: bool = False,
        new_id: NewId,
        actor: str,
        at: datetime,
        rules: OrderAmountRules = DEFAULT_AMOUNT_RULES,
    ) -> VehicleOrder:
        """A new order in ``created`` with its sub-orders; records OrderCreated.

        ``new_id`` is called for the order id, then the fund, production, charging-pile and
        loan order ids. The loan order is ``not_applicable`` when ``loan_fen`` is 0 and the
        charging-pile order ``not_needed`` unless ``charging_pile``. The fund order id is
        handed to billing-service in OrderCreated so both services name it alike.
        """
        require_text(customer_id, "customer_id")
        rules.check(price_fen=price_fen, loan_fen=loan_fen)
        order_id = new_id()
        order = cls(
            id=order_id,
            customer_id=customer_id,
            configuration=configuration,
            price_fen=price_fen,
            loan_fen=loan_fen,
            created_at=at,
            fund_order_id=new_id(),
            production=ProductionOrder(id=new_id(), order_id=order_id),
            charging_pile=ChargingPileOrder.for_request(
                charging_pile_order_id=new_id(), order_id=order_id, requested=charging_pile
            ),
            loan=LoanOrder.for_request(
                loan_order_id=new_id(), order_id=order_id, requested_fen=loan_fen
            ),
        )
        order._note(actor=actor, at=at, reason="order created")
        order._emit(order._created_event(at, charging_pile_requested=charging_pile))
        return order

    def _created_event(self, at: datetime, *, charging_pile_requested: bool) -> OrderCreated:
        return OrderCreated(
            order_id=self.id,
            occurred_at=at,
            customer_id=self.customer_id,
            order_kind="vehicle",
            vehicle_model=self.configuration.vehicle_model,
            options=self.configuration.options,
            price_fen=self.price_fen,
            loan_fen=self.loan_fen,
            charging_pile=charging_pile_requested,
            sub_orders=self.sub_orders(),
            fund_order_id=self.fund_order_id,
        )

    def sub_orders(self) -> tuple[SubOrderRef, ...]:
        """The four sub-orders as the API lists them (the fund order's status is coarse:
        billing-service owns the detail)."""
        pile = self.charging_pile
        return (
            SubOrderRef(kind="fund", id=self.fund_order_id, status=self.fund_status),
            SubOrderRef(
                kind="production", id=self.production.id, status=str(self.production.status)
            ),
            SubOrderRef(kind="charging_pile", id=pile.id, status=str(pile.status)),
            SubOrderRef(kind="loan", id=self.loan.id, status=str(self.loan.status)),
        )

    def all_history(self) -> tuple[HistoryEntry, ...]:
        """The history of the order and of its three sub-orders, entity by entity."""
        return (
            *self.history,
            *self.production.history,
            *self.charging_pile.history,
            *self.loan.history,
        )

    @property
    def fund_status(self) -> str:
        """``open`` until the final billing is paid (then ``paid``), or ``cancelled``."""
        if self.status is VehicleOrderStatus.CANCELLED:
            return "cancelled"
        if self.status in (VehicleOrderStatus.FINAL_PAID, VehicleOrderStatus.DELIVERED):
            return "paid"
        return "open"

    @property
    def loan_share_fen(self) -> int:
        """The part of the price the loan is expected to pay (0 without or after a rejection)."""
        return self.loan.share_fen

    # --- configuration, lock and cancellation ---------------------------------------

    def change_configuration(
        self,
        *,
        configuration: VehicleConfiguration,
        price_fen: int,
        actor: str,
        at: datetime,
        reason: str = "configuration changed",
        rules: OrderAmountRules = DEFAULT_AMOUNT_RULES,
    ) -> list[OrderEvent]:
        """Change model, options and price before the lock; ConfigurationFrozen (409) after."""
        if self.status not in BEFORE_LOCK:
            raise ConfigurationFrozen(self.id, self.status)
        if configuration == self.configuration and price_fen == self.price_fen:
            return []
        rules.check(price_fen=price_fen, loan_fen=self.loan_share_fen)
        previous_price_fen = self.price_fen
        self._note(actor=actor, at=at, reason=reason)
        self.configuration, self.price_fen = configuration, price_fen
        return self._emit(
            OrderRepriced(
                order_id=self.id,
                occurred_at=at,
                vehicle_model=configuration.vehicle_model,
                options=configuration.options,
                price_fen=price_fen,
                previous_price_fen=previous_price_fen,
                loan_fen=self.loan_share_fen,
            )
        )

    def lock(
        self, *, actor: str, at: datetime, reason: str = "configuration locked by the customer"
    ) -> list[OrderEvent]:
        """intent_paid → locked: the configuration freezes and the firm deposit falls due."""
        if self.status is VehicleOrderStatus.CREATED:
            raise self._gate(_S.LOCKED, "intent_billing_paid", "the intent deposit is not paid")
        self._move(VehicleOrderStatus.LOCKED, actor=actor, at=at, reason=reason)
        return self._emit(
            OrderLocked(
                order_id=self.id,
                occurred_at=at,
                customer_id=self.customer_id,
                vehicle_model=self.configuration.vehicle_model,
                options=self.configuration.options,
                price_fen=self.price_fen,
                loan_fen=self.loan_share_fen,
            )
        )

    def cancel(self, *, actor: str, at: datetime, reason: str) -> list[OrderEvent]:
        """created or intent_paid → cancelled, cancelling the open sub-orders with it."""
        reason = require_text(reason, "reason")
        self.require_can_move_to(VehicleOrderStatus.CANCELLED)
        if self.loan.blocks_order_cancellation:
            raise self._gate(_S.CANCELLED, "loan_not_disbursed", "the loan is already disbursed")
        previous_status = self.status
        self._move(VehicleOrderStatus.CANCELLED, actor=actor, at=at, reason=reason)
        self.production.cancel_with_order(actor=actor, at=at, reason=reason)
        self.charging_pile.cancel_with_order(actor=actor, at=at, reason=reason)
        self.loan.cancel_with_order(actor=actor, at=at, reason=reason)
        return self._emit(
            OrderCancelled(
                order_id=self.id,
                occurred_at=at,
                customer_id=self.customer_id,
                reason=reason,
                cancelled_by=actor,
                previous_status=str(previous_status),
            )
        )

    # --- billing facts (from billing-service's BillingPaid) -------------------------

    def record_billing_paid(self, *, stage: str, actor: str, at: datetime) -> list[OrderEvent]:
        """Apply BillingPaid of stage ``intent``, ``firm`` or ``final`` (idempotent)."""
        if stage == "intent":
            return self.record_intent_paid(actor=actor, at=at)
        if stage == "firm":
            return self.record_firm_paid(actor=actor, at=at)
        if stage == "final":
            return self.record_final_paid(actor=actor, at=at)
        raise InvalidField("stage", f"must be one of {', '.join(BILLING_STAGES)}")

    def record_intent_paid(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """created → intent_paid; nothing when the order is already past it."""
        if self.status in LOCKED_OR_LATER or self.status is VehicleOrderStatus.INTENT_PAID:
            return []
        self._move(VehicleOrderStatus.INTENT_PAID, actor=actor, at=at, reason="intent billing paid")
        return self._emit(OrderIntentPaid(order_id=self.id, occurred_at=at))

    def record_firm_paid(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """Record that the firm deposit is paid (opens the production gate); needs the lock."""
        if self.firm_billing_paid:
            return []
        if self.status not in LOCKED_OR_LATER:
            raise IllegalTransition(
                self.ENTITY,
                self.id,
                self.status,
                "firm_paid",
                "the firm deposit is due only after the lock",
            )
        self._note(actor=actor, at=at, reason="firm billing paid")
        self.firm_billing_paid = True
        return self._emit(OrderFirmPaid(order_id=self.id, occurred_at=at))

    def record_final_paid(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """ready_for_delivery → final_paid; nothing when already final_paid or delivered."""
        if self.status in (VehicleOrderStatus.FINAL_PAID, VehicleOrderStatus.DELIVERED):
            return []
        self._move(VehicleOrderStatus.FINAL_PAID, actor=actor, at=at, reason="final billing paid")
        return self._emit(OrderFinalPaid(order_id=self.id, occurred_at=at))

    # --- production and delivery ----------------------------------------------------

    def schedule_production(
        self, *, actor: str, at: datetime, reason: str = "scheduled by the factory"
    ) -> list[OrderEvent]:
        """Production waiting → scheduled, gated on the firm deposit being paid."""
        event = self.production.schedule(
            firm_billing_paid=self.firm_billing_paid,
            vehicle_model=self.configuration.vehicle_model,
            options=self.configuration.options,
            actor=actor,
            at=at,
            reason=reason,
        )
        return self._emit(event)

    def record_vehicle_built(self, *, vin: str, actor: str, at: datetime) -> list[OrderEvent]:
        """Production scheduled → built, with the VIN."""
        return self._emit(self.production.record_built(vin=vin, actor=actor, at=at))

    def record_vehicle_shipped(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """Production built → shipped."""
        return self._emit(self.production.record_shipped(actor=actor, at=at))

    def record_arrival_at_delivery_centre(
        self, *, delivery_centre: str, actor: str, at: datetime
    ) -> list[OrderEvent]:
        """Production shipped → at_delivery_centre, and the order locked → ready_for_delivery
        (VehicleReadyForDelivery makes the final billing fall due)."""
        self.require_can_move_to(VehicleOrderStatus.READY_FOR_DELIVERY)
        arrived = self.production.record_arrival(
            delivery_centre=delivery_centre, actor=actor, at=at
        )
        self._move(
            VehicleOrderStatus.READY_FOR_DELIVERY,
            actor=actor,
            at=at,
            reason=f"vehicle at delivery centre {arrived.delivery_centre}",
        )
        ready = VehicleReadyForDelivery(
            order_id=self.id,
            occurred_at=at,
            production_order_id=self.production.id,
            vin=arrived.vin,
            delivery_centre=arrived.delivery_centre,
        )
        return self._emit(arrived, ready)

    def deliver(
        self, *, actor: str, at: datetime, reason: str = "vehicle handed over"
    ) -> list[OrderEvent]:
        """final_paid → delivered; refused with GateClosed while the final billing is unpaid."""
        if self.status is VehicleOrderStatus.READY_FOR_DELIVERY:
            raise self._gate(_S.DELIVERED, "final_billing_paid", "the final billing is not paid")
        self._move(VehicleOrderStatus.DELIVERED, actor=actor, at=at, reason=reason)
        return self._emit(
            OrderDelivered(
                order_id=self.id,
                occurred_at=at,
                customer_id=self.customer_id,
                price_fen=self.price_fen,
                vin=self.production.require_vin(),
            )
        )

    def _gate(self, to_state: VehicleOrderStatus, gate: str, because: str) -> GateClosed:
        return GateClosed(self.ENTITY, self.id, self.status, to_state, gate=gate, because=because)

    # --- charging pile ----------------------------------------------------------------

    def record_pile_survey(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """Charging pile requested → surveyed."""
        return self._emit(self.charging_pile.record_survey(actor=actor, at=at))

    def record_pile_installed(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """Charging pile surveyed → installed."""
        return self._emit(self.charging_pile.record_installed(actor=actor, at=at))

    def mark_pile_not_needed(self, *, actor: str, at: datetime, reason: str) -> list[OrderEvent]:
        """Charging pile requested or surveyed → not_needed."""
        return self._emit(self.charging_pile.mark_not_needed(actor=actor, at=at, reason=reason))

    # --- loan -------------------------------------------------------------------------

    def submit_loan(self, *, bank_code: str, actor: str, at: datetime) -> list[OrderEvent]:
        """Loan intent_collected → submitted to ``bank_code``."""
        return self._emit(self.loan.submit(bank_code=bank_code, actor=actor, at=at))

    def approve_loan(self, *, principal_fen: int, actor: str, at: datetime) -> list[OrderEvent]:
        """Loan submitted → approved with ``principal_fen`` (at most the requested amount)."""
        return self._emit(*self.loan.approve(principal_fen=principal_fen, actor=actor, at=at))

    def reject_loan(self, *, reason: str, actor: str, at: datetime) -> list[OrderEvent]:
        """Loan submitted → rejected; billing moves the loan share to self-pay."""
        return self._emit(*self.loan.reject(reason=reason, actor=actor, at=at))

    def record_loan_disbursed(
        self, *, amount_fen: int, bank_reference: str, actor: str, at: datetime
    ) -> list[OrderEvent]:
        """Loan approved → disbursed; billing counts it as a ``loan`` payment of the final."""
        events = self.loan.record_disbursed(
            amount_fen=amount_fen, bank_reference=bank_reference, actor=actor, at=at
        )
        return self._emit(*events)
