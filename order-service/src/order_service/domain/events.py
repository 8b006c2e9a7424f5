"""Domain events of order-service: plain frozen dataclasses, named like the Kafka events.

The service layer maps each to its ``otd_shared.events`` payload inside the outbox
transaction (``occurred_at`` becomes the envelope time and the payload's ``*_at`` field).
Events without a shared payload yet (sub-order progress such as VehicleBuilt) are
recorded all the same, so nothing the domain decided is lost; the outbox mapper decides
which ones go to Kafka.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from order_service.domain.lease import Installment

OrderKind = Literal["vehicle", "service"]


@dataclass(frozen=True, kw_only=True)
class SubOrderRef:
    """A sub-order as the API and OrderCreated list it."""

    kind: Literal["fund", "production", "charging_pile", "loan"]
    id: str
    status: str


@dataclass(frozen=True, kw_only=True)
class OrderEvent:
    """Base of every event: the order it belongs to (the partition key) and when it happened."""

    order_id: str
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        """The event's name on the wire, e.g. ``"OrderLocked"``."""
        return type(self).__name__


# --- vehicle order ----------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class OrderCreated(OrderEvent):
    """A vehicle order, or a post-delivery service order (``order_kind="service"``), exists.

    billing-service opens the fund order (vehicle; id ``fund_order_id``) or the single
    service billing from it. For a service order ``parent_order_id`` is the delivered
    vehicle order and ``fund_order_id`` is None (billing-service names its fund order).
    """

    customer_id: str
    order_kind: OrderKind
    vehicle_model: str
    options: tuple[str, ...]
    price_fen: int
    loan_fen: int
    charging_pile: bool
    sub_orders: tuple[SubOrderRef, ...] = ()
    fund_order_id: str | None = None
    parent_order_id: str | None = None
    service_kind: str | None = None
    lease_installments: tuple[Installment, ...] = ()


@dataclass(frozen=True, kw_only=True)
class OrderRepriced(OrderEvent):
    """The configuration changed before lock; billing-service recomputes the final billing."""

    vehicle_model: str
    options: tuple[str, ...]
    price_fen: int
    previous_price_fen: int
    loan_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderIntentPaid(OrderEvent):
    """The intent deposit billing is paid; the customer may now lock the configuration."""


@dataclass(frozen=True, kw_only=True)
class OrderLocked(OrderEvent):
    """The configuration is frozen; the firm deposit falls due (``locked_at = occurred_at``)."""

    customer_id: str
    vehicle_model: str
    options: tuple[str, ...]
    price_fen: int
    loan_fen: int


@dataclass(frozen=True, kw_only=True)
class OrderFirmPaid(OrderEvent):
    """The firm deposit billing is paid; production may be scheduled."""


@dataclass(frozen=True, kw_only=True)
class OrderCancelled(OrderEvent):
    """The order is cancelled (a vehicle order only before lock); billing settles refunds."""

    customer_id: str
    reason: str
    cancelled_by: str
    previous_status: str
    was_locked: bool = False


@dataclass(frozen=True, kw_only=True)
class VehicleReadyForDelivery(OrderEvent):
    """The car is at the delivery centre; the final billing falls due."""

    production_order_id: str
    vin: str
    delivery_centre: str


@dataclass(frozen=True, kw_only=True)
class OrderFinalPaid(OrderEvent):
    """The final billing is paid; the car may be handed over."""


@dataclass(frozen=True, kw_only=True)
class OrderDelivered(OrderEvent):
    """The car is handed over (``delivered_at = occurred_at``); deposits become revenue."""

    customer_id: str
    price_fen: int
    vin: str


# --- production order -------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ProductionScheduled(OrderEvent):
    """The factory scheduled the build (only after the firm deposit is paid)."""

    production_order_id: str
    vehicle_model: str
    options: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class VehicleBuilt(OrderEvent):
    """The car left the line and has its VIN."""

    production_order_id: str
    vin: str


@dataclass(frozen=True, kw_only=True)
class VehicleShipped(OrderEvent):
    """The car left the factory for the delivery centre."""

    production_order_id: str
    vin: str


@dataclass(frozen=True, kw_only=True)
class VehicleArrivedAtDeliveryCentre(OrderEvent):
    """The car reached the delivery centre (followed by VehicleReadyForDelivery)."""

    production_order_id: str
    vin: str
    delivery_centre: str


# --- charging pile order ----------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ChargingPileSurveyed(OrderEvent):
    """The installer surveyed the customer's site."""

    charging_pile_order_id: str


@dataclass(frozen=True, kw_only=True)
class ChargingPileInstalled(OrderEvent):
    """The home charger is installed."""

    charging_pile_order_id: str


@dataclass(frozen=True, kw_only=True)
class ChargingPileNotNeeded(OrderEvent):
    """No installation will happen (customer declined, site unsuitable, charger exists)."""

    charging_pile_order_id: str
    reason: str


# --- loan order -------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LoanSubmitted(OrderEvent):
    """The collected loan intent was submitted to a bank."""

    loan_order_id: str
    bank_code: str
    requested_fen: int


@dataclass(frozen=True, kw_only=True)
class LoanApproved(OrderEvent):
    """The bank approved the loan; billing-service sets the loan share of the final billing."""

    loan_order_id: str
    principal_fen: int


@dataclass(frozen=True, kw_only=True)
class LoanRejected(OrderEvent):
    """The bank rejected the loan; its share becomes self-pay on the final billing."""

    loan_order_id: str
    requested_fen: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class LoanDisbursed(OrderEvent):
    """The bank paid the principal; billing-service counts it as a ``loan`` payment."""

    loan_order_id: str
    amount_fen: int
    bank_reference: str


# --- post-delivery service order --------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ServiceOrderPaid(OrderEvent):
    """The service order's single billing is paid; the service may be performed."""

    parent_order_id: str


@dataclass(frozen=True, kw_only=True)
class ServiceOrderCompleted(OrderEvent):
    """The service (window film, maintenance, leasing hand-over) was performed."""

    parent_order_id: str
    service_kind: str
