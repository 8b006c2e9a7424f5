"""Handlers of the events payment-gateway consumes."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.events import BillingDue, EventEnvelope
from payment_gateway.adapters.payable_billings import PayableBilling, PayableBillingRepository


async def on_billing_due(session: AsyncSession, event: EventEnvelope) -> None:
    """Record the billing as payable (the cashier and POS look it up)."""
    payload = event.payload
    assert isinstance(payload, BillingDue)
    await PayableBillingRepository(session).upsert(
        PayableBilling(
            billing_id=uuid.UUID(payload.billing_id),
            order_id=uuid.UUID(payload.order_id),
            customer_id=payload.customer_id,
            stage=payload.stage,
            amount_fen=payload.amount_fen,
            outstanding_fen=payload.outstanding_fen,
            due_at=payload.due_at,
            status="due",
        )
    )
