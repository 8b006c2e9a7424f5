"""The unit of work of billing-service: the session, its repositories, the outbox."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.deferred_repo import DeferredOutcomeRepository
from billing_service.adapters.fund_order_repo import FundOrderRepository
from billing_service.adapters.query_repo import BillingQueries
from billing_service.adapters.webhook_repo import WebhookRepository
from billing_service.domain import STANDARD_REMINDERS, ReminderSchedule
from otd_shared.db import SessionFactory
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
