"""Handlers of the events order-service consumes (billing-service's BillingPaid).

Each gets the consumer's unit of work (an ``OrderUnitOfWork`` over the consumer's
transaction, which also holds the inbox row), so the change and the events it emits commit
once; the consumer commits, never the handler. Times come from the envelope, so a redelivery
would decide the same way.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from order_service.domain import (
    ProductionStatus,
    ServiceOrderStatus,
    VehicleOrder,
    VehicleOrderStatus,
)
from order_service.domain.errors import OrderNotFound
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.events import BillingPaid, EventEnvelope
from otd_shared.observability import set_correlation_id

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
        _record_paid(order, envelope)
        await orders.save(order)
        await uow.publish(order)

    async def on_billing_paid_batch(
        self, uow: OrderUnitOfWork, envelopes: Sequence[EventEnvelope]
    ) -> None:
        """A run of BillingPaid at once: the vehicle orders loaded together under their
        locks (two statements), each event applied in order to its order, then orders,
        changed sub-orders, history and outbox rows with one statement each (each event's
        change staged as its own save: versions, times and history as event by event). A run with
        a service-order or lease stage goes event by event (``on_billing_paid``); an
        unknown order raises, so the consumer applies the run one by one."""
        paid = [_paid(e) for e in envelopes]
        if any(p.stage == "service" or p.stage in LEASE_STAGES for p in paid):
            for envelope in envelopes:
                await self.on_billing_paid(uow, envelope)
            return
        found = await uow.orders.get_many_for_update(p.order_id for p in paid)
        published: list[EventEnvelope] = []
        for envelope, payload in zip(envelopes, paid, strict=True):
            order = found.get(payload.order_id)
            if order is None:
                raise OrderNotFound(payload.order_id)
            _record_paid(order, envelope)
            uow.orders.stage(order)
            set_correlation_id(envelope.correlation_id)
            published += uow.envelopes(order)
        await uow.orders.save_staged()
        await uow.outbox_rows(published)


def _paid(envelope: EventEnvelope) -> BillingPaid:
    payload = envelope.payload
    assert isinstance(payload, BillingPaid)
    return payload


def _record_paid(order: VehicleOrder, envelope: EventEnvelope) -> None:
    """A paid billing on its vehicle order; the firm deposit also schedules production.
    A cancelled order changes nothing."""
    payload = _paid(envelope)
    if order.status is VehicleOrderStatus.CANCELLED:
        log.info("billing paid after cancellation", extra={"order_id": payload.order_id})
        return
    actor, at = envelope.producer, envelope.occurred_at
    order.record_billing_paid(stage=payload.stage, actor=actor, at=at)
    if order.firm_billing_paid and order.production.status is ProductionStatus.WAITING:
        order.schedule_production(actor=actor, at=at, reason=AUTO_SCHEDULE_REASON)
