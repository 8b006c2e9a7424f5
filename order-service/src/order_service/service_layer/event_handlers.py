"""Handlers of the events order-service consumes (billing-service's BillingPaid).

Each runs inside the consumer's transaction together with its inbox row, so the change
and the events it emits commit once. Times come from the envelope, so a redelivery
would decide the same way.
"""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.repository import OrderRepository
from order_service.domain import ProductionStatus, ServiceOrderStatus, VehicleOrderStatus
from order_service.domain.errors import OrderNotFound
from order_service.service_layer.messages import to_payloads
from otd_shared.events import BillingPaid, EventEnvelope
from otd_shared.outbox import OutboxWriter

log = logging.getLogger(__name__)
AUTO_SCHEDULE_REASON = "scheduled automatically: the firm deposit is paid"


LEASE_STAGES = frozenset({"installment", "payoff"})


class OrderEventHandlers:
    """Event handlers bound to the outbox (built in bootstrap)."""

    def __init__(self, outbox: OutboxWriter) -> None:
        self._outbox = outbox

    async def on_billing_paid(self, session: AsyncSession, envelope: EventEnvelope) -> None:
        """Record the paid billing on its order; the firm deposit also schedules production.

        A billing paid after the order was cancelled changes nothing here (billing-service
        refunds it when it applies the cancellation)."""
        payload = envelope.payload
        assert isinstance(payload, BillingPaid)
        orders = OrderRepository(session)
        actor, at = envelope.producer, envelope.occurred_at
        # A lease is paid once its fund order is (every installment, or the payoff).
        if payload.stage in LEASE_STAGES and not payload.fund_order_paid:
            return
        if payload.stage == "service" or payload.stage in LEASE_STAGES:
            service = await orders.get_service_order(payload.order_id, for_update=True)
            if service is None:
                raise OrderNotFound(payload.order_id)
            if service.status is ServiceOrderStatus.CANCELLED:
                log.info("billing paid after cancellation", extra={"order_id": payload.order_id})
                return
            service.record_paid(actor=actor, at=at)
            await orders.save_service_order(service)
            await self._outbox.add(session, *to_payloads(service.pull_events()))
            return
        order = await orders.get(payload.order_id, for_update=True)
        if order is None:
            raise OrderNotFound(payload.order_id)
        if order.status is VehicleOrderStatus.CANCELLED:
            log.info("billing paid after cancellation", extra={"order_id": payload.order_id})
            return
        order.record_billing_paid(stage=payload.stage, actor=actor, at=at)
        if order.firm_billing_paid and order.production.status is ProductionStatus.WAITING:
            order.schedule_production(actor=actor, at=at, reason=AUTO_SCHEDULE_REASON)
        await orders.save(order)
        await self._outbox.add(session, *to_payloads(order.pull_events()))
