"""The unit of work of order-service: the session, its repositories, the outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.repository import OrderRepository
from order_service.domain.lifecycle import AggregateRoot
from order_service.service_layer.messages import to_payloads
from otd_shared.uow import SqlUnitOfWork


class OrderUnitOfWork(SqlUnitOfWork):
    """One transaction over orders and the outbox."""

    orders: OrderRepository

    def _open(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)

    async def publish(self, aggregate: AggregateRoot[Any]) -> None:
        """Write the aggregate's recorded events to the outbox (in this transaction)."""
        await self.emit(*to_payloads(aggregate.pull_events()))
