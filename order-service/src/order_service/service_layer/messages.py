"""Domain events of order-service → the shared Kafka payloads (``otd_shared.events``).

Every domain event has a payload: one function per event class, looked up by class in
``_MAPPERS`` (an explicit registry; an unmapped class is a bug and raises). Commands run
with ``at = now``, so the envelope's ``occurred_at`` (set by the outbox) is the domain time.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from order_service.domain import events as d
from otd_shared import events as wire
from otd_shared.events import EventPayload


def to_payload(event: d.OrderEvent) -> EventPayload:
    """The wire payload of one domain event."""
    mapper = _MAPPERS.get(type(event))
    if mapper is None:
        raise TypeError(f"no payload mapping for {type(event).__name__}")
    return mapper(event)


def to_payloads(events: Sequence[d.OrderEvent]) -> list[EventPayload]:
    """The wire payloads of several domain events, in order."""
    return [to_payload(event) for event in events]


def _created(e: d.OrderCreated) -> EventPayload:
    return wire.OrderCreated(
        order_id=e.order_id,
        customer_id=e.customer_id,
        order_kind=e.order_kind,
        vehicle_model=e.vehicle_model,
        price_fen=e.price_fen,
        loan_fen=e.loan_fen,
        charging_pile=e.charging_pile,
        options=list(e.options),
        fund_order_id=e.fund_order_id,
        parent_order_id=e.parent_order_id,
        service_kind=e.service_kind,
        lease_installments=tuple(
            wire.LeaseInstallment(number=i.number, due_date=i.due_date, amount_fen=i.amount_fen)
            for i in e.lease_installments
        ),
    )


def _repriced(e: d.OrderRepriced) -> EventPayload:
    return wire.OrderRepriced(
        order_id=e.order_id,
        vehicle_model=e.vehicle_model,
        price_fen=e.price_fen,
        loan_fen=e.loan_fen,
        options=list(e.options),
        previous_price_fen=e.previous_price_fen,
    )


def _cancelled(e: d.OrderCancelled) -> EventPayload:
    return wire.OrderCancelled(
        order_id=e.order_id,
        reason=e.reason,
        was_locked=e.was_locked,
        cancelled_by=e.cancelled_by,
        previous_status=e.previous_status,
    )


def _ready(e: d.VehicleReadyForDelivery) -> EventPayload:
    return wire.VehicleReadyForDelivery(
        order_id=e.order_id,
        delivery_centre=e.delivery_centre,
        production_order_id=e.production_order_id,
        vin=e.vin,
    )


def _delivered(e: d.OrderDelivered) -> EventPayload:
    return wire.OrderDelivered(
        order_id=e.order_id,
        delivered_at=e.occurred_at,
        customer_id=e.customer_id,
        price_fen=e.price_fen,
        vin=e.vin,
    )


def _rejected(e: d.LoanRejected) -> EventPayload:
    return wire.LoanRejected(
        order_id=e.order_id,
        loan_order_id=e.loan_order_id,
        reason=e.reason,
        requested_fen=e.requested_fen,
    )


_MAPPERS: dict[type[d.OrderEvent], Callable[[Any], EventPayload]] = {
    d.OrderCreated: _created,
    d.OrderRepriced: _repriced,
    d.OrderIntentPaid: lambda e: wire.OrderIntentPaid(order_id=e.order_id),
    d.OrderLocked: lambda e: wire.OrderLocked(order_id=e.order_id, locked_at=e.occurred_at),
    d.OrderFirmPaid: lambda e: wire.OrderFirmPaid(order_id=e.order_id),
    d.OrderCancelled: _cancelled,
    d.VehicleReadyForDelivery: _ready,
    d.OrderFinalPaid: lambda e: wire.OrderFinalPaid(order_id=e.order_id),
    d.OrderDelivered: _delivered,
    d.ProductionScheduled: lambda e: wire.ProductionScheduled(
        order_id=e.order_id, production_order_id=e.production_order_id
    ),
    d.VehicleBuilt: lambda e: wire.VehicleBuilt(
        order_id=e.order_id, production_order_id=e.production_order_id, vin=e.vin
    ),
    d.VehicleShipped: lambda e: wire.VehicleShipped(
        order_id=e.order_id, production_order_id=e.production_order_id, vin=e.vin
    ),
    d.VehicleArrivedAtDeliveryCentre: lambda e: wire.VehicleArrivedAtDeliveryCentre(
        order_id=e.order_id,
        production_order_id=e.production_order_id,
        vin=e.vin,
        delivery_centre=e.delivery_centre,
    ),
    d.ChargingPileSurveyed: lambda e: wire.ChargingPileSurveyed(
        order_id=e.order_id, charging_pile_order_id=e.charging_pile_order_id
    ),
    d.ChargingPileInstalled: lambda e: wire.ChargingPileInstalled(
        order_id=e.order_id, charging_pile_order_id=e.charging_pile_order_id
    ),
    d.ChargingPileNotNeeded: lambda e: wire.ChargingPileNotNeeded(
        order_id=e.order_id, charging_pile_order_id=e.charging_pile_order_id, reason=e.reason
    ),
    d.LoanSubmitted: lambda e: wire.LoanSubmitted(
        order_id=e.order_id,
        loan_order_id=e.loan_order_id,
        bank_code=e.bank_code,
        requested_fen=e.requested_fen,
    ),
    d.LoanApproved: lambda e: wire.LoanApproved(
        order_id=e.order_id, loan_order_id=e.loan_order_id, principal_fen=e.principal_fen
    ),
    d.LoanRejected: _rejected,
    d.LoanDisbursed: lambda e: wire.LoanDisbursed(
        order_id=e.order_id,
        loan_order_id=e.loan_order_id,
        amount_fen=e.amount_fen,
        bank_reference=e.bank_reference,
    ),
    d.ServiceOrderPaid: lambda e: wire.ServiceOrderPaid(
        order_id=e.order_id, parent_order_id=e.parent_order_id
    ),
    d.ServiceOrderCompleted: lambda e: wire.ServiceOrderCompleted(
        order_id=e.order_id, parent_order_id=e.parent_order_id, service_kind=e.service_kind
    ),
}
