"""Post-delivery service orders (window film, maintenance, leasing): own order, one billing.

    created → paid → completed
       └───────┴──→ cancelled      (billing-service refunds whatever was paid)

A service order can be opened only for a delivered vehicle order, for the same customer.
It is announced with OrderCreated(order_kind="service"), so billing-service opens its
single ``service`` billing from the same event it uses for vehicle orders, and its
cancellation is an OrderCancelled like any other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Final

from order_service.domain.errors import GateClosed, InvalidAmount, InvalidField
from order_service.domain.events import (
    OrderCancelled,
    OrderCreated,
    OrderEvent,
    ServiceOrderCompleted,
    ServiceOrderPaid,
)
from order_service.domain.lease import Installment
from order_service.domain.lifecycle import AggregateRoot, TransitionTable
from order_service.domain.vehicle_order import VehicleOrder, VehicleOrderStatus
from otd_shared.checks import require_fen, require_text


class ServiceKind(StrEnum):
    WINDOW_FILM = "window_film"
    MAINTENANCE = "maintenance"
    LEASING = "leasing"


class ServiceOrderStatus(StrEnum):
    CREATED = "created"
    PAID = "paid"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


_S = ServiceOrderStatus
SERVICE_ORDER_TRANSITIONS: Final[TransitionTable[ServiceOrderStatus]] = {
    _S.CREATED: frozenset({_S.PAID, _S.CANCELLED}),
    _S.PAID: frozenset({_S.COMPLETED, _S.CANCELLED}),
}


@dataclass(kw_only=True)
class ServiceOrder(AggregateRoot[ServiceOrderStatus]):
    """A paid service for a delivered car; ``id`` is its own order id (its partition key)."""

    ENTITY = "service_order"

    parent_order_id: str
    customer_id: str
    kind: ServiceKind
    description: str
    price_fen: int
    created_at: datetime
    status: ServiceOrderStatus = ServiceOrderStatus.CREATED
    # A lease's schedule, known at creation only: it travels in OrderCreated and is
    # billing-service's from then on (order-service does not store it).
    lease_installments: tuple[Installment, ...] = field(default=(), compare=False)

    def _transitions(self) -> TransitionTable[ServiceOrderStatus]:
        return SERVICE_ORDER_TRANSITIONS

    @classmethod
    def create(
        cls,
        *,
        vehicle_order: VehicleOrder,
        kind: ServiceKind,
        description: str,
        price_fen: int,
        new_id: Callable[[], str],
        actor: str,
        at: datetime,
        lease_installments: tuple[Installment, ...] = (),
    ) -> ServiceOrder:
        """A service order for a delivered car; GateClosed (409) before the delivery.

        A leasing order needs its installment schedule (summing to the price); other kinds
        take none (InvalidField, 422).
        """
        _check_lease(kind, price_fen, lease_installments)
        if vehicle_order.status is not VehicleOrderStatus.DELIVERED:
            raise GateClosed(
                cls.ENTITY,
                "(new)",
                "none",
                ServiceOrderStatus.CREATED,
                gate="vehicle_delivered",
                because=f"vehicle order {vehicle_order.id} is {vehicle_order.status}",
            )
        order = cls(
            id=new_id(),
            parent_order_id=vehicle_order.id,
            customer_id=vehicle_order.customer_id,
            kind=kind,
            description=require_text(description, "description"),
            price_fen=require_fen(price_fen, "price_fen"),
            created_at=at,
            lease_installments=lease_installments,
        )
        order._note(actor=actor, at=at, reason=f"{kind} service order created")
        order._emit(order._created_event(vehicle_order.configuration.vehicle_model, at))
        return order

    def _created_event(self, vehicle_model: str, at: datetime) -> OrderCreated:
        return OrderCreated(
            order_id=self.id,
            occurred_at=at,
            customer_id=self.customer_id,
            order_kind="service",
            vehicle_model=vehicle_model,
            options=(),
            price_fen=self.price_fen,
            loan_fen=0,
            charging_pile=False,
            parent_order_id=self.parent_order_id,
            service_kind=self.kind,
            lease_installments=self.lease_installments,
        )

    def record_paid(self, *, actor: str, at: datetime) -> list[OrderEvent]:
        """created → paid, from BillingPaid of stage ``service``; idempotent."""
        if self.status in (ServiceOrderStatus.PAID, ServiceOrderStatus.COMPLETED):
            return []
        self._move(ServiceOrderStatus.PAID, actor=actor, at=at, reason="service billing paid")
        return self._emit(
            ServiceOrderPaid(order_id=self.id, occurred_at=at, parent_order_id=self.parent_order_id)
        )

    def complete(
        self, *, actor: str, at: datetime, reason: str = "service performed"
    ) -> list[OrderEvent]:
        """paid → completed; GateClosed while the billing is unpaid."""
        if self.status is ServiceOrderStatus.CREATED:
            raise GateClosed(
                self.ENTITY,
                self.id,
                self.status,
                ServiceOrderStatus.COMPLETED,
                gate="service_billing_paid",
                because="the service billing is not paid",
            )
        self._move(ServiceOrderStatus.COMPLETED, actor=actor, at=at, reason=reason)
        return self._emit(
            ServiceOrderCompleted(
                order_id=self.id,
                occurred_at=at,
                parent_order_id=self.parent_order_id,
                service_kind=self.kind.value,
            )
        )

    def cancel(self, *, actor: str, at: datetime, reason: str) -> list[OrderEvent]:
        """created or paid → cancelled; billing-service refunds what was paid."""
        reason = require_text(reason, "reason")
        previous_status = self.status
        self._move(ServiceOrderStatus.CANCELLED, actor=actor, at=at, reason=reason)
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


def _check_lease(kind: ServiceKind, price_fen: int, installments: tuple[Installment, ...]) -> None:
    if kind is not ServiceKind.LEASING:
        if installments:
            raise InvalidField("lease", f"only a leasing service order has a schedule, not {kind}")
        return
    if not installments:
        raise InvalidField("lease", "a leasing service order needs its schedule (months, dates)")
    if sum(i.amount_fen for i in installments) != price_fen:
        raise InvalidAmount("lease", f"the installments do not add up to {price_fen} fen")
