"""The unit of work of billing-service: the session, its repositories, the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.repository import FundOrderRepository
from otd_shared.uow import SqlUnitOfWork


class BillingUnitOfWork(SqlUnitOfWork):
    """One transaction over fund orders, billings and the outbox."""

    fund_orders: FundOrderRepository

    def _open(self, session: AsyncSession) -> None:
        self.fund_orders = FundOrderRepository(session)
