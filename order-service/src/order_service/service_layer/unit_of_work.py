"""The unit of work of order-service: the session, its repositories, the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.repository import OrderRepository
from otd_shared.uow import SqlUnitOfWork


class OrderUnitOfWork(SqlUnitOfWork):
    """One transaction over orders and the outbox."""

    orders: OrderRepository

    def _open(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)
