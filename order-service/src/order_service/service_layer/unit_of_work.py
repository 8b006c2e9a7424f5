"""The unit of work of order-service: the session, its repositories, the outbox."""

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.uow import SqlUnitOfWork

from order_service.adapters.repository import OrderRepository


class OrderUnitOfWork(SqlUnitOfWork):
    """One transaction over orders and the outbox."""

    orders: OrderRepository

    def _open(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)
