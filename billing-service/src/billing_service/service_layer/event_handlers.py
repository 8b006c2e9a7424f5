"""Handlers of the events billing-service consumes.

Each runs inside the consumer's transaction (the inbox row is written in the same
one), so its effects and the events it emits commit together, exactly once.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.repository import BillingRow, FundOrderRepository, FundOrderRow
from billing_service.config import BillingSettings
from otd_shared.events import BillingDue, EventEnvelope, FundOrderOpened, OrderCreated
from otd_shared.outbox import OutboxWriter


class BillingEventHandlers:
    """Event handlers bound to settings and the outbox (built in bootstrap)."""

    def __init__(self, settings: BillingSettings, outbox: OutboxWriter) -> None:
        self._settings = settings
        self._outbox = outbox

    async def on_order_created(self, session: AsyncSession, event: EventEnvelope) -> None:
        """Open the fund order with three billings; the intent billing is due now."""
        payload = event.payload
        assert isinstance(payload, OrderCreated)
        repo = FundOrderRepository(session)
        order_id = uuid.UUID(payload.order_id)
        if await repo.exists_for_order(order_id):
            return
        now = datetime.now(UTC)
        fund_order = self._new_fund_order(payload, order_id, now)
        await repo.add(fund_order)
        intent = fund_order.billings[0]
        await self._outbox.add(
            session,
            FundOrderOpened(
                order_id=payload.order_id,
                fund_order_id=str(fund_order.fund_order_id),
                customer_id=payload.customer_id,
                price_fen=payload.price_fen,
            ),
            BillingDue(
                order_id=payload.order_id,
                billing_id=str(intent.billing_id),
                customer_id=payload.customer_id,
                stage="intent",
                amount_fen=intent.amount_fen,
                outstanding_fen=intent.amount_fen,
                due_at=now,
            ),
        )

    def _new_fund_order(
        self, payload: OrderCreated, order_id: uuid.UUID, now: datetime
    ) -> FundOrderRow:
        intent_fen = self._settings.intent_deposit_fen
        firm_fen = self._settings.firm_deposit_fen
        final_fen = payload.price_fen - intent_fen - firm_fen - payload.loan_fen
        return FundOrderRow(
            fund_order_id=uuid.uuid4(),
            order_id=order_id,
            customer_id=payload.customer_id,
            price_fen=payload.price_fen,
            created_at=now,
            billings=(
                BillingRow(uuid.uuid4(), "intent", intent_fen, 0, "due", now),
                BillingRow(uuid.uuid4(), "firm", firm_fen, 0, "pending", None),
                BillingRow(uuid.uuid4(), "final", final_fen, 0, "pending", None),
            ),
        )
