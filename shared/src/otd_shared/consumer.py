"""The consumer runtime: dispatch by event type, inbox, retries, dead letters.

For each batch from Kafka, one database transaction; for each message a savepoint:
record (consumer, event_id) in the inbox and apply the handler. A duplicate (the
inbox row exists) is skipped. A handler that raises is retried up to
``max_attempts`` times with back-off, then the event is parked in
``dead_letters`` with the error; later events of the SAME order are parked behind it
(their order would be wrong) while other orders flow on. A malformed message is
parked at once. Offsets are committed only after the transaction commits; a
rebalance at any point at worst redelivers, which the inbox absorbs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.db import SessionFactory
from otd_shared.events import EventEnvelope, decode_envelope
from otd_shared.messaging_tables import MessagingTables
from otd_shared.observability import ServiceMetrics, set_correlation_id

log = logging.getLogger(__name__)

EventHandler = Callable[[AsyncSession, EventEnvelope], Awaitable[None]]
BatchEventHandler = Callable[[AsyncSession, Sequence[EventEnvelope]], Awaitable[None]]
"""Applies a run of consecutive events of one type at once (e.g. one multi-row insert)."""
POLL_TIMEOUT_MS = 200
# The broker may hold a fetch this long waiting for data; short keeps lag low.
FETCH_MAX_WAIT_MS = 20
RETRY_DELAY_S_MAX = 5.0
MAX_ERROR_CHARS = 2000


@dataclass(frozen=True)
class ConsumerConfig:
    """Named limits of one consumer."""

    name: str
    group_id: str
    topics: Sequence[str]
    max_attempts: int = 5
    retry_delay_ms: int = 50
    batch_max: int = 500


def _qualified(table: sa.Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def one_by_one(batch_handlers: Mapping[str, BatchEventHandler]) -> dict[str, EventHandler]:
    """Per-event handlers calling batch handlers with one event (slow path, redrive)."""

    def single(batch: BatchEventHandler) -> EventHandler:
        async def handle(session: AsyncSession, envelope: EventEnvelope) -> None:
            await batch(session, [envelope])

        return handle

    return {event_type: single(batch) for event_type, batch in batch_handlers.items()}


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, runtime: EventConsumer) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": [str(tp) for tp in revoked]})

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        await self._runtime.reload_blocked_orders()
        self._runtime.assigned.set()


class EventConsumer:
    """Consumes topics and applies handlers exactly once per (consumer, event_id)."""

    def __init__(
        self,
        config: ConsumerConfig,
        handlers: Mapping[str, EventHandler],
        session_factory: SessionFactory,
        tables: MessagingTables,
        metrics: ServiceMetrics,
        bootstrap_servers: str,
        batch_handlers: Mapping[str, BatchEventHandler] | None = None,
    ) -> None:
        self._config = config
        self._batch_handlers = dict(batch_handlers or {})
        self._handlers = {**one_by_one(self._batch_handlers), **handlers}
        self._sessions = session_factory
        self._tables = tables
        self._metrics = metrics
        self._bootstrap = bootstrap_servers
        self._blocked_orders: set[str] = set()
        self._kafka: AIOKafkaConsumer | None = None
        self.assigned = asyncio.Event()
        """Set once the group has given this consumer its partitions."""

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._config.batch_max,
            fetch_max_wait_ms=FETCH_MAX_WAIT_MS,
        )
        self._kafka.subscribe(list(self._config.topics), listener=_Rebalance(self))
        await self._kafka.start()
        try:
            while not stop.is_set():
                batches = await self._kafka.getmany(timeout_ms=POLL_TIMEOUT_MS)
                if batches:
                    await self._process_or_rewind(batches)
        finally:
            await self._kafka.stop()

    async def _process_or_rewind(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        # If the batch transaction itself fails (database down), nothing of it was
        # applied: seek back so the same records come again, after a pause.
        assert self._kafka is not None
        records = [record for part in batches.values() for record in part]
        try:
            await self.process(records)
        except Exception:  # noqa: BLE001  (keep consuming after a database outage)
            log.exception("batch failed; rewinding")
            for partition, part in batches.items():
                self._kafka.seek(partition, part[0].offset)
            await asyncio.sleep(RETRY_DELAY_S_MAX)
            with contextlib.suppress(Exception):  # parks of the failed batch were rolled back
                await self.reload_blocked_orders()
            return
        await self._commit(batches)

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Apply one poll's records (all partitions) in one transaction.

        Fast path: one inbox insert for the whole batch and every handler inside one
        savepoint. If any handler raises, that savepoint is rolled back and the batch
        is applied message by message (a savepoint each, retries, dead letters).
        """
        async with self._sessions() as session, session.begin():
            runnable = await self._triage(session, records)
            if runnable and not await self._apply_batch(session, runnable):
                for record, envelope, handler in runnable:
                    await self._apply_one(session, record, envelope, handler)

    async def _apply_one(
        self,
        session: AsyncSession,
        record: ConsumerRecord,
        envelope: EventEnvelope,
        handler: EventHandler,
    ) -> None:
        """Slow path for one event: parked behind an earlier parked event of its order,
        else applied with retries."""
        if await self._blocked(session, envelope.order_id):
            reason = "blocked behind an earlier parked event of the same order"
            await self._park(session, record, envelope, reason, attempts=0)
            return
        await self._apply_with_retries(session, record, envelope, handler)

    async def _triage(
        self, session: AsyncSession, records: Sequence[ConsumerRecord]
    ) -> list[tuple[ConsumerRecord, EventEnvelope, EventHandler]]:
        """Park malformed and blocked events; return the ones to apply, in order."""
        runnable: list[tuple[ConsumerRecord, EventEnvelope, EventHandler]] = []
        for record in records:
            try:
                envelope = decode_envelope(record.value or b"")
            except (ValidationError, ValueError) as exc:
                await self._park(session, record, None, f"malformed event: {exc}", attempts=1)
                continue
            handler = self._handlers.get(envelope.event_type)
            if handler is None:
                continue
            if await self._blocked(session, envelope.order_id):
                reason = "blocked behind an earlier parked event of the same order"
                await self._park(session, record, envelope, reason, attempts=0)
                continue
            runnable.append((record, envelope, handler))
        return runnable

    async def _apply_batch(
        self,
        session: AsyncSession,
        runnable: list[tuple[ConsumerRecord, EventEnvelope, EventHandler]],
    ) -> bool:
        """All-or-nothing attempt at the batch; False when any handler raised."""
        try:
            async with session.begin_nested():
                fresh_ids = await self._record_in_inbox(session, [e for _, e, _ in runnable])
                fresh: list[tuple[EventEnvelope, EventHandler]] = []
                for _, envelope, handler in runnable:
                    if envelope.event_id in fresh_ids:
                        fresh_ids.discard(envelope.event_id)  # a duplicate inside the batch
                        fresh.append((envelope, handler))
                await self._apply_runs(session, fresh)
                applied = len(fresh)
        except Exception:  # noqa: BLE001  (retried one by one right after)
            log.info("batch fast path failed; applying one by one", exc_info=True)
            return False
        self._metrics.events_consumed.labels(self._config.name, "applied").inc(applied)
        self._metrics.events_consumed.labels(self._config.name, "duplicate").inc(
            len(runnable) - applied
        )
        return True

    async def _apply_runs(
        self, session: AsyncSession, fresh: list[tuple[EventEnvelope, EventHandler]]
    ) -> None:
        """Apply in order; a run of consecutive events of a type with a batch handler goes
        to that handler at once (order across types is kept)."""
        start = 0
        while start < len(fresh):
            envelope, handler = fresh[start]
            set_correlation_id(envelope.correlation_id)
            batch = self._batch_handlers.get(envelope.event_type)
            if batch is None:
                await handler(session, envelope)
                start += 1
                continue
            end = start
            while end < len(fresh) and fresh[end][0].event_type == envelope.event_type:
                end += 1
            await batch(session, [e for e, _ in fresh[start:end]])
            start = end

    async def _record_in_inbox(
        self, session: AsyncSession, envelopes: list[EventEnvelope]
    ) -> set[uuid.UUID]:
        """Insert inbox rows for the batch (one statement over arrays); returns the ids
        seen for the first time."""
        inbox = self._tables.inbox
        types = {e.event_id: e.event_type for e in envelopes}
        inserted = await session.execute(
            sa.text(
                f"INSERT INTO {_qualified(inbox)} (consumer, event_id, event_type) "
                "SELECT :consumer, unnest(CAST(:ids AS uuid[])), unnest(CAST(:types AS text[])) "
                "ON CONFLICT DO NOTHING RETURNING event_id"
            ),
            {"consumer": self._config.name, "ids": list(types), "types": list(types.values())},
        )
        return {row[0] for row in inserted}

    async def _blocked(self, session: AsyncSession, order_id: str | None) -> bool:
        """True when the order has an open dead letter. The in-memory set is a cache,
        confirmed in the database on a hit (an operator may have redriven it)."""
        if order_id is None or order_id not in self._blocked_orders:
            return False
        dl = self._tables.dead_letters
        still_open = await session.scalar(
            sa.select(sa.literal(1))
            .where(
                dl.c.consumer == self._config.name,
                dl.c.order_id == order_id,
                dl.c.resolved_at.is_(None),
            )
            .limit(1)
        )
        if still_open is None:
            self._blocked_orders.discard(order_id)
            return False
        return True

    async def reload_blocked_orders(self) -> None:
        """Reload the orders with open dead letters (after a rebalance or at start)."""
        dl = self._tables.dead_letters
        async with self._sessions() as session:
            rows = await session.execute(
                sa.select(dl.c.order_id)
                .distinct()
                .where(
                    dl.c.consumer == self._config.name,
                    dl.c.resolved_at.is_(None),
                    dl.c.order_id.is_not(None),
                )
            )
            self._blocked_orders = {row[0] for row in rows}

    async def _commit(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        assert self._kafka is not None
        offsets = {partition: part[-1].offset + 1 for partition, part in batches.items()}
        try:
            await self._kafka.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "offset commit failed; the batch may be redelivered", extra={"err": str(exc)}
            )

    async def _apply_with_retries(
        self,
        session: AsyncSession,
        record: ConsumerRecord,
        envelope: EventEnvelope,
        handler: EventHandler,
    ) -> None:
        error = ""
        for attempt in range(1, self._config.max_attempts + 1):
            try:
                async with session.begin_nested():
                    if await self._first_delivery(session, envelope):
                        await handler(session, envelope)
                        self._metrics.events_consumed.labels(self._config.name, "applied").inc()
                    else:
                        self._metrics.events_consumed.labels(self._config.name, "duplicate").inc()
                return
            except Exception as exc:  # noqa: BLE001  (any handler failure is retried, then parked)
                error = f"{type(exc).__name__}: {exc}"
                log.warning(
                    "handler failed",
                    extra={
                        "event_id": str(envelope.event_id),
                        "attempt": attempt,
                        "err": error[:300],
                    },
                )
                await asyncio.sleep(self._retry_delay_s(attempt))
        await self._park(session, record, envelope, error, attempts=self._config.max_attempts)

    def _retry_delay_s(self, attempt: int) -> float:
        return float(
            min(self._config.retry_delay_ms * 2 ** (attempt - 1) / 1000, RETRY_DELAY_S_MAX)
        )

    async def _first_delivery(self, session: AsyncSession, envelope: EventEnvelope) -> bool:
        inbox = self._tables.inbox
        inserted = await session.execute(
            pg_insert(inbox)
            .values(
                consumer=self._config.name,
                event_id=envelope.event_id,
                event_type=envelope.event_type,
            )
            .on_conflict_do_nothing()
            .returning(inbox.c.event_id)
        )
        return inserted.first() is not None

    async def _park(
        self,
        session: AsyncSession,
        record: ConsumerRecord,
        envelope: EventEnvelope | None,
        error: str,
        *,
        attempts: int,
    ) -> None:
        order_id = envelope.order_id if envelope else None
        await session.execute(
            pg_insert(self._tables.dead_letters)
            .values(
                consumer=self._config.name,
                topic=record.topic,
                kafka_partition=record.partition,
                kafka_offset=record.offset,
                event_id=envelope.event_id if envelope else None,
                event_type=envelope.event_type if envelope else None,
                order_id=order_id,
                body=record.value or b"",
                error=error[:MAX_ERROR_CHARS],
                attempts=attempts,
            )
            .on_conflict_do_nothing()
        )
        if order_id is not None:
            self._blocked_orders.add(order_id)
        self._metrics.dead_letters.labels(self._config.name).inc()
        self._metrics.events_consumed.labels(self._config.name, "parked").inc()
        log.error(
            "event parked in dead letters",
            extra={"consumer": self._config.name, "error": error[:300]},
        )
