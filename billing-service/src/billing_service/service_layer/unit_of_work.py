"""The unit of work of billing-service: the session, its repositories, the outbox."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.deferred_repo import DeferredOutcomeRepository
from billing_service.adapters.fund_order_repo import FundOrderRepository
from billing_service.adapters.query_repo import BillingQueries
from billing_service.adapters.webhook_repo import WebhookRepository
from billing_service.domain import STANDARD_REMINDERS, ReminderSchedule
from billing_service.domain.events import BillingEvent
from billing_service.domain.fund_base import FundOrderBase
from billing_service.service_layer.messages import publish
from otd_shared.db import SessionFactory
from otd_shared.events import EventEnvelope
from otd_shared.outbox import OutboxWriter
from otd_shared.uow import SqlUnitOfWork


class BillingUnitOfWork(SqlUnitOfWork):
    """One transaction over fund orders, billings, webhooks and the outbox."""

    fund_orders: FundOrderRepository
    webhooks: WebhookRepository
    deferred: DeferredOutcomeRepository
    queries: BillingQueries

    def __init__(
        self,
        session_factory: SessionFactory,
        outbox: OutboxWriter,
        schedule: ReminderSchedule = STANDARD_REMINDERS,
    ) -> None:
        super().__init__(session_factory, outbox)
        self.schedule = schedule

    def _open(self, session: AsyncSession) -> None:
        self.fund_orders = FundOrderRepository(session, self.schedule)
        self.webhooks = WebhookRepository(session)
        self.deferred = DeferredOutcomeRepository(session)
        self.queries = BillingQueries(session)

    async def publish(
        self, events: Sequence[BillingEvent], *, fund: FundOrderBase | None, at: datetime
    ) -> list[EventEnvelope]:
        """Outbox rows for the domain events and webhook rows for the pushed ones."""
        assert self.outbox is not None
        return await publish(self.session, self.outbox, events, fund=fund, at=at)
