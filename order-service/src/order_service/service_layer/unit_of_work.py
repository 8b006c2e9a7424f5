"""The unit of work of order-service: the session, its repositories, the outbox."""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from order_service.adapters.repository import OrderRepository
from order_service.domain.lifecycle import AggregateRoot
from order_service.service_layer.messages import to_payloads
from otd_shared.events import EventEnvelope
from otd_shared.uow import SqlUnitOfWork


class OrderUnitOfWork(SqlUnitOfWork):
    """One transaction over orders and the outbox."""

    orders: OrderRepository

    def _open(self, session: AsyncSession) -> None:
        self.orders = OrderRepository(session)

    async def publish(self, aggregate: AggregateRoot[Any]) -> None:
        """Write the aggregate's recorded events to the outbox (in this transaction)."""
        await self.emit(*to_payloads(aggregate.pull_events()))

    def envelopes(self, aggregate: AggregateRoot[Any]) -> list[EventEnvelope]:
        """Envelopes of the aggregate's recorded events under the current correlation id,
        for ``outbox_rows`` (a batch writes many aggregates' events in one statement)."""
        assert self.outbox is not None
        return [self.outbox.envelope(p) for p in to_payloads(aggregate.pull_events())]

    async def outbox_rows(self, envelopes: list[EventEnvelope]) -> None:
        """Write envelopes made by ``envelopes`` to the outbox in one statement."""
        assert self.outbox is not None
        await self.outbox.add_envelopes(self.session, envelopes)
