"""Handlers of the events payment-gateway consumes (billing-service's topic).

The payable-billings projection follows BillingScheduled (lease installments) / BillingDue /
BillingPaid / BillingReopened / BillingAmountChanged / BillingCancelled; RefundRequested
records a refund (sent by the scheduler, or ``manual`` and queued for finance when no channel
can return the money). Each handler runs in the consumer's transaction with the inbox row and is
deterministic on redelivery; BillingPaid, one per payment on launch night, is a batch handler
(a partition's run of them in one statement).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from datetime import datetime

from otd_shared.consumer import EventHandler
from otd_shared.events import (
    BillingAmountChanged,
    BillingCancelled,
    BillingDue,
    BillingPaid,
    BillingReopened,
    BillingScheduled,
    EventEnvelope,
    RefundRequested,
)
from payment_gateway.adapters.payable_billings import PayableBilling
from payment_gateway.service_layer.refunds import record_requested_refund
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

Clock = Callable[[], datetime]
SCHEDULED = "scheduled"


async def on_billing_due(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
    """Record the billing as payable for what the customer must pay now."""
    payload = event.payload
    assert isinstance(payload, BillingDue)
    payable_fen = (
        payload.customer_payable_fen
        if payload.customer_payable_fen is not None
        else payload.outstanding_fen
    )
    await uow.billings.upsert(
        PayableBilling(
            billing_id=uuid.UUID(payload.billing_id),
            order_id=uuid.UUID(payload.order_id),
            customer_id=payload.customer_id,
            stage=payload.stage,
            amount_fen=payload.amount_fen,
            outstanding_fen=payable_fen,
            due_at=payload.due_at,
            status="due",
        )
    )


async def on_billing_scheduled(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
    """A lease installment: known now, payable from its advance window, due later."""
    payload = event.payload
    assert isinstance(payload, BillingScheduled)
    await uow.billings.add_scheduled(
        PayableBilling(
            billing_id=uuid.UUID(payload.billing_id),
            order_id=uuid.UUID(payload.order_id),
            customer_id=payload.customer_id,
            stage=payload.stage,
            amount_fen=payload.amount_fen,
            outstanding_fen=payload.amount_fen,
            due_at=payload.due_at,
            status=SCHEDULED,
            payable_from=payload.payable_from,
        )
    )


async def on_billings_paid(uow: GatewayUnitOfWork, events: Sequence[EventEnvelope]) -> None:
    """Paid billings take no more payments: a run of BillingPaid in one statement (each
    sets the same values, so their order within the run does not matter)."""
    billing_ids = []
    for event in events:
        payload = event.payload
        assert isinstance(payload, BillingPaid)
        billing_ids.append(uuid.UUID(payload.billing_id))
    await uow.billings.set_paid(billing_ids)


async def on_billing_reopened(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
    """A refund or a higher amount took a paid billing below its amount: payable again."""
    payload = event.payload
    assert isinstance(payload, BillingReopened)
    await uow.billings.set_status(
        uuid.UUID(payload.billing_id),
        "due",
        outstanding_fen=payload.amount_fen - payload.paid_fen,
        amount_fen=payload.amount_fen,
    )


async def on_billing_cancelled(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
    """A cancelled billing takes no more payments."""
    payload = event.payload
    assert isinstance(payload, BillingCancelled)
    await uow.billings.set_status(uuid.UUID(payload.billing_id), "cancelled", outstanding_fen=0)


async def on_billing_amount_changed(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
    """The self-pay part moved: the outstanding amount moves by the same difference."""
    payload = event.payload
    assert isinstance(payload, BillingAmountChanged)
    await uow.billings.shift_outstanding(
        uuid.UUID(payload.billing_id),
        amount_fen=payload.amount_fen,
        delta_fen=payload.self_pay_fen - payload.previous_self_pay_fen,
    )


def refund_requested_handler(clock: Clock) -> EventHandler:
    """RefundRequested → a refund record (the clock is injected for tests)."""

    async def on_refund_requested(uow: GatewayUnitOfWork, event: EventEnvelope) -> None:
        payload = event.payload
        assert isinstance(payload, RefundRequested)
        await record_requested_refund(uow, payload, now=clock())

    return on_refund_requested
