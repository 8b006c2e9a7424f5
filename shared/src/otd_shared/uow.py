"""The unit of work base: one session, one transaction, the outbox inside it.

A service subclass adds its repositories in ``_open``. The unit of work is the only
place that commits, so a state change and the events it emits commit together.

API handlers open one per request (``async with uow: ...; await uow.commit()``). The
consumer runtime opens one per partition batch and hands it to every event handler of
the batch (each event inside its own savepoint); the consumer commits it once, so an
event handler never commits. Handlers use only the repositories and ``emit``, so a
test can hand them a fake unit of work.
"""

from __future__ import annotations

from types import TracebackType
from typing import Self

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.db import SessionFactory
from otd_shared.events import EventEnvelope, EventPayload
from otd_shared.outbox import OutboxWriter


class SqlUnitOfWork:
    """``async with uow: ...; await uow.commit()``; leaving without commit rolls back."""

    session: AsyncSession

    def __init__(self, session_factory: SessionFactory, outbox: OutboxWriter | None = None) -> None:
        self._session_factory = session_factory
        self.outbox = outbox
        self._committed = False

    async def __aenter__(self) -> Self:
        self.session = self._session_factory()
        await self.session.begin()
        self._committed = False
        self._open(self.session)
        return self

    def _open(self, session: AsyncSession) -> None:
        """Hook: build repositories on the session."""

    async def emit(self, *payloads: EventPayload) -> list[EventEnvelope]:
        """Write events to the outbox in this transaction."""
        if self.outbox is None:
            raise RuntimeError("this unit of work has no outbox")
        return await self.outbox.add(self.session, *payloads)

    async def commit(self) -> None:
        """Commit the state change and its events together."""
        await self.session.commit()
        self._committed = True

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if not self._committed:
            await self.session.rollback()
        await self.session.close()
