"""Dead letters: list them, redrive them through their consumer's handler, discard them.

A parked event stays in ``dead_letters`` until someone acts. Redrive applies the
event exactly like the consumer would (inbox row + handler in one unit of work of the
consumer's kind) and
marks it resolved; an event already in the inbox is only marked resolved. The events
of one order are redriven oldest first and stop at the first failure, so their order
holds. The consumer confirms a blocked order in the database before parking behind
it, so new events of a redriven order flow at once.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping

from otd_shared.consumer import ConsumerHandlers
from otd_shared.db import SessionFactory
from otd_shared.errors import Conflict, NotFound
from otd_shared.events import decode_envelope
from otd_shared.messaging_tables import MessagingTables

log = logging.getLogger(__name__)

PAGE_SIZE_MAX = 200


@dataclass(frozen=True)
class DeadLetter:
    """One parked event."""

    id: int
    consumer: str
    topic: str
    kafka_partition: int
    kafka_offset: int
    event_id: str | None
    event_type: str | None
    order_id: str | None
    error: str
    attempts: int
    parked_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True)
class RedriveOutcome:
    """What a redrive did to one dead letter."""

    id: int
    result: str  # "applied" | "already_applied" | "failed"
    error: str | None = None


HandlersByConsumer = Mapping[str, ConsumerHandlers]


class DeadLetterStore:
    """Reads and resolves the dead letters of one service."""

    def __init__(self, sessions: SessionFactory, tables: MessagingTables) -> None:
        self._sessions = sessions
        self._table = tables.dead_letters
        self._inbox = tables.inbox

    async def page(
        self,
        *,
        consumer: str | None = None,
        order_id: str | None = None,
        include_resolved: bool = False,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[DeadLetter], int]:
        """A page of dead letters (oldest first) and the total that match."""
        t = self._table
        where = []
        if consumer is not None:
            where.append(t.c.consumer == consumer)
        if order_id is not None:
            where.append(t.c.order_id == order_id)
        if not include_resolved:
            where.append(t.c.resolved_at.is_(None))
        async with self._sessions() as session:
            total = await session.scalar(sa.select(sa.func.count()).select_from(t).where(*where))
            rows = (
                (
                    await session.execute(
                        sa.select(t)
                        .where(*where)
                        .order_by(t.c.id)
                        .limit(min(limit, PAGE_SIZE_MAX))
                        .offset(offset)
                    )
                )
                .mappings()
                .all()
            )
        return [_dead_letter(row) for row in rows], int(total or 0)

    async def redrive(self, dead_letter_id: int, handlers: HandlersByConsumer) -> RedriveOutcome:
        """Apply one parked event now; NotFound / Conflict when it cannot be redriven."""
        consumer = handlers.get(await self._consumer_of(dead_letter_id))
        if consumer is None:
            raise Conflict(f"dead letter {dead_letter_id} belongs to no consumer of this service")
        async with consumer.new_uow() as uow:
            session = uow.session
            row = (
                (
                    await session.execute(
                        sa.select(self._table)
                        .where(self._table.c.id == dead_letter_id)
                        .with_for_update()
                    )
                )
                .mappings()
                .one()
            )
            if row["resolved_at"] is not None:
                raise Conflict(f"dead letter {dead_letter_id} is already resolved")
            try:
                envelope = decode_envelope(row["body"])
            except (ValidationError, ValueError) as exc:
                raise Conflict("a malformed event cannot be redriven; discard it") from exc
            handler = consumer.by_type.get(envelope.event_type)
            if handler is None:
                raise Conflict(
                    f"consumer {row['consumer']} has no handler for {envelope.event_type}"
                )
            try:
                async with session.begin_nested():
                    inserted = await session.execute(
                        pg_insert(self._inbox)
                        .values(
                            consumer=row["consumer"],
                            event_id=envelope.event_id,
                            event_type=envelope.event_type,
                        )
                        .on_conflict_do_nothing()
                        .returning(self._inbox.c.event_id)
                    )
                    fresh = inserted.first() is not None
                    if fresh:
                        await handler(uow, envelope)
            except Exception as exc:  # noqa: BLE001  (reported to the operator, row kept)
                error = f"{type(exc).__name__}: {exc}"
                await session.execute(
                    sa.update(self._table)
                    .where(self._table.c.id == dead_letter_id)
                    .values(attempts=self._table.c.attempts + 1, error=error[:2000])
                )
                await uow.commit()
                return RedriveOutcome(dead_letter_id, "failed", error)
            await session.execute(
                sa.update(self._table)
                .where(self._table.c.id == dead_letter_id)
                .values(resolved_at=sa.func.now())
            )
            await uow.commit()
        log.info("dead letter redriven", extra={"dead_letter_id": dead_letter_id})
        return RedriveOutcome(dead_letter_id, "applied" if fresh else "already_applied")

    async def _consumer_of(self, dead_letter_id: int) -> str:
        async with self._sessions() as session:
            consumer = await session.scalar(
                sa.select(self._table.c.consumer).where(self._table.c.id == dead_letter_id)
            )
        if consumer is None:
            raise NotFound(f"dead letter {dead_letter_id} not found")
        return str(consumer)

    async def redrive_order(
        self, consumer: str, order_id: str, handlers: HandlersByConsumer
    ) -> list[RedriveOutcome]:
        """Redrive an order's open dead letters oldest first, stopping at a failure."""
        letters, _ = await self.page(consumer=consumer, order_id=order_id, limit=PAGE_SIZE_MAX)
        outcomes: list[RedriveOutcome] = []
        for letter in letters:
            outcome = await self.redrive(letter.id, handlers)
            outcomes.append(outcome)
            if outcome.result == "failed":
                break
        return outcomes

    async def discard(self, dead_letter_id: int, reason: str) -> None:
        """Mark a dead letter resolved without applying it (the reason goes to the log)."""
        async with self._sessions() as session, session.begin():
            result = await session.execute(
                sa.update(self._table)
                .where(self._table.c.id == dead_letter_id, self._table.c.resolved_at.is_(None))
                .values(
                    resolved_at=sa.func.now(),
                    error=self._table.c.error + f"\n[discarded: {reason[:500]}]",
                )
                .returning(self._table.c.id)
            )
            found = result.first() is not None
        if not found:
            raise NotFound(f"no open dead letter {dead_letter_id}")
        log.warning(
            "dead letter discarded",
            extra={"dead_letter_id": dead_letter_id, "reason": reason[:500]},
        )


def _dead_letter(row: RowMapping) -> DeadLetter:
    return DeadLetter(
        id=row["id"],
        consumer=row["consumer"],
        topic=row["topic"],
        kafka_partition=row["kafka_partition"],
        kafka_offset=row["kafka_offset"],
        event_id=str(row["event_id"]) if row["event_id"] else None,
        event_type=row["event_type"],
        order_id=row["order_id"],
        error=row["error"],
        attempts=row["attempts"],
        parked_at=row["parked_at"],
        resolved_at=row["resolved_at"],
    )
