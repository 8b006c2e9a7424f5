"""Handlers of the events order-service consumes (billing-service's BillingPaid).

Each gets the consumer's unit of work (an ``OrderUnitOfWork`` over the consumer's
transaction, which also holds the inbox row), so the change and the events it emits commit
once; the consumer commits, never the handler. Times come from the envelope, so a redelivery
would decide the same way.
"""

from __future__ import annotations

import logging

from order_service.domain import ProductionStatus, ServiceOrderStatus, VehicleOrderStatus
from order_service.domain.errors import OrderNotFound
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.events import BillingPaid, EventEnvelope

log = logging.getLogger(__name__)
AUTO_SCHEDULE_REASON = "scheduled automatically: the firm deposit is paid"


LEASE_STAGES = frozenset({"installment", "payoff"})


class OrderEventHandlers:
    """Event handlers of order-service (built in bootstrap)."""

    async def on_billing_paid(self, uow: OrderUnitOfWork, envelope: EventEnvelope) -> None:
        """Record the paid billing on its order; the firm deposit also schedules production.

        A billing paid after the order was cancelled changes nothing here (billing-service
        refunds it when it applies the cancellation)."""
        payload = envelope.payload
        assert isinstance(payload, BillingPaid)
        orders = uow.orders
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
            await uow.publish(service)
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
        await uow.publish(order)
