"""The vehicle production order: waiting → scheduled → built → shipped → at_delivery_centre.

Scheduling is gated on the firm deposit: the caller passes ``firm_billing_paid`` explicitly,
so the gate is visible at every call site. ``cancelled`` is reachable only while waiting,
through the cancellation of the vehicle order.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from order_service.domain.errors import GateClosed
from order_service.domain.events import (
    ProductionScheduled,
    VehicleArrivedAtDeliveryCentre,
    VehicleBuilt,
    VehicleShipped,
)
from order_service.domain.lifecycle import Lifecycle, TransitionTable
from otd_shared.checks import require_text


class ProductionStatus(StrEnum):
    WAITING = "waiting"
    SCHEDULED = "scheduled"
    BUILT = "built"
    SHIPPED = "shipped"
    AT_DELIVERY_CENTRE = "at_delivery_centre"
    CANCELLED = "cancelled"


_S = ProductionStatus
PRODUCTION_TRANSITIONS: Final[TransitionTable[ProductionStatus]] = {
    _S.WAITING: frozenset({_S.SCHEDULED, _S.CANCELLED}),
    _S.SCHEDULED: frozenset({_S.BUILT}),
    _S.BUILT: frozenset({_S.SHIPPED}),
    _S.SHIPPED: frozenset({_S.AT_DELIVERY_CENTRE}),
}


@dataclass(kw_only=True)
class ProductionOrder(Lifecycle[ProductionStatus]):
    """Build and logistics of the one car of a vehicle order."""

    ENTITY = "production_order"

    order_id: str
    status: ProductionStatus = ProductionStatus.WAITING
    vin: str | None = None
    delivery_centre: str | None = None

    def _transitions(self) -> TransitionTable[ProductionStatus]:
        return PRODUCTION_TRANSITIONS

    def schedule(
        self,
        *,
        firm_billing_paid: bool,
        vehicle_model: str,
        options: tuple[str, ...],
        actor: str,
        at: datetime,
        reason: str = "scheduled by the factory",
    ) -> ProductionScheduled:
        """waiting → scheduled; refused with GateClosed (409) until the firm deposit is paid."""
        self.require_can_move_to(ProductionStatus.SCHEDULED)
        if not firm_billing_paid:
            raise GateClosed(
                self.ENTITY,
                self.id,
                self.status,
                ProductionStatus.SCHEDULED,
                gate="firm_billing_paid",
                because="the firm deposit is not paid",
            )
        self._move(ProductionStatus.SCHEDULED, actor=actor, at=at, reason=reason)
        return ProductionScheduled(
            order_id=self.order_id,
            occurred_at=at,
            production_order_id=self.id,
            vehicle_model=vehicle_model,
            options=options,
        )

    def record_built(
        self, *, vin: str, actor: str, at: datetime, reason: str = "vehicle built"
    ) -> VehicleBuilt:
        """scheduled → built; the car gets its VIN."""
        self.require_can_move_to(ProductionStatus.BUILT)
        vin = require_text(vin, "vin")
        self._move(ProductionStatus.BUILT, actor=actor, at=at, reason=reason)
        self.vin = vin
        return VehicleBuilt(
            order_id=self.order_id, occurred_at=at, production_order_id=self.id, vin=vin
        )

    def record_shipped(
        self, *, actor: str, at: datetime, reason: str = "vehicle shipped"
    ) -> VehicleShipped:
        """built → shipped."""
        self._move(ProductionStatus.SHIPPED, actor=actor, at=at, reason=reason)
        return VehicleShipped(
            order_id=self.order_id,
            occurred_at=at,
            production_order_id=self.id,
            vin=self.require_vin(),
        )

    def record_arrival(
        self,
        *,
        delivery_centre: str,
        actor: str,
        at: datetime,
        reason: str = "vehicle arrived at the delivery centre",
    ) -> VehicleArrivedAtDeliveryCentre:
        """shipped → at_delivery_centre."""
        self.require_can_move_to(ProductionStatus.AT_DELIVERY_CENTRE)
        delivery_centre = require_text(delivery_centre, "delivery_centre")
        self._move(ProductionStatus.AT_DELIVERY_CENTRE, actor=actor, at=at, reason=reason)
        self.delivery_centre = delivery_centre
        return VehicleArrivedAtDeliveryCentre(
            order_id=self.order_id,
            occurred_at=at,
            production_order_id=self.id,
            vin=self.require_vin(),
            delivery_centre=delivery_centre,
        )

    def cancel_with_order(self, *, actor: str, at: datetime, reason: str) -> None:
        """waiting → cancelled, as part of the vehicle order's cancellation (no own event)."""
        self._move(ProductionStatus.CANCELLED, actor=actor, at=at, reason=reason)

    def require_vin(self) -> str:
        """The VIN of a built car."""
        # Every state after BUILT has a VIN; a missing one is a bug, not a user error.
        if self.vin is None:
            raise RuntimeError(f"production order {self.id} in {self.status} has no VIN")
        return self.vin
