"""The consumer runtime: dispatch by event type, inbox, retries, dead letters.

A poll returns records of several partitions. The records of ONE partition are applied
in one unit of work (one database transaction): their inbox rows go in with one
statement (a duplicate, whose row exists, is skipped), then every event runs in its own
savepoint with the unit of work handed to its handler. A handler that raises has its
savepoint rolled back alone and is retried up to ``max_attempts`` times with back-off;
then the event is parked in ``dead_letters`` with the error (its inbox row removed, so
a redrive applies it) and later events of the SAME order are parked behind it (their
order would be wrong) while other orders flow on. A malformed message is parked at once.
The unit of work commits once per partition batch; offsets are committed only after
that, so a crash or a rebalance at any point at worst redelivers, which the inbox absorbs.

A broker that lost its data (the bundled memory broker restarted, a topic recreated, a
cluster rebuilt) is noticed (``otd_shared.consumer_loss``: high-water mark going back,
committed offsets gone, group generation or cluster id reset) and the affected topics are
read again from the beginning, so the events the producers republish below the old
position are not skipped. Offsets are never committed to a broker that lost ours.

Events of one order share a partition (the key is the order id), so per-order order is
kept; replicas of a consumer in one group split the partitions between them.

A run of consecutive events of one type that has a batch handler goes to it at once in
one savepoint (e.g. one multi-row insert); a run of consecutive events without batch
handlers goes through their handlers in one savepoint too. If a run raises, its savepoint
is rolled back and the run is applied event by event as above (so a handler must be
re-runnable after a rollback, as for a retry: it reloads what it reads).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.abc import ConsumerRebalanceListener
from aiokafka.errors import CommitFailedError, KafkaError
from pydantic import ValidationError
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.consumer_loss import LossGuard, cluster_id, group_generation
from otd_shared.crash_points import crash_point
from otd_shared.db import SessionFactory
from otd_shared.events import EventEnvelope, decode_envelope
from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from otd_shared.kafka import forbid_topic_auto_creation
from otd_shared.messaging_tables import MessagingTables
from otd_shared.observability import ServiceMetrics, set_correlation_id
from otd_shared.outbox import PublishedWakeups, wait_event_or_stop
from otd_shared.uow import SqlUnitOfWork

log = logging.getLogger(__name__)

EventHandler = Callable[[Any, EventEnvelope], Awaitable[None]]
"""Applies one event; the first argument is the consumer's unit of work (the service's
``SqlUnitOfWork`` subclass, or a fake in a unit test). It never commits."""
BatchEventHandler = Callable[[Any, Sequence[EventEnvelope]], Awaitable[None]]
"""Applies a run of consecutive events at once (e.g. one multi-row insert): of one type, or
of several when one handler object is registered for them all."""
UnitOfWorkFactory = Callable[[], SqlUnitOfWork]

# Long poll: the broker holds an empty fetch up to FETCH_MAX_WAIT_MS. Kafka answers as soon
# as a record arrives; the bundled local broker only at its tick (see the setting
# CONSUMER_FETCH_MAX_WAIT_MS), hence the short default. With wake-ups (PublishedWakeups) a
# consumer whose poll came back empty pauses its partitions (no fetches at all) until a
# relay's NOTIFY otd_published for one of its topics, a rebalance or IDLE_POLL_MS: an idle
# cluster then costs the broker a few requests a second in all, and an event is fetched at
# once instead of at the broker's tick.
POLL_TIMEOUT_MS = 1000
FETCH_MAX_WAIT_MS = 50
IDLE_POLL_MS = 5000
FETCHER_TICK_MS = 1000
"""aiokafka's background fetcher wakes at least this often (its default 200 ms cost an idle
consumer five empty rounds a second while paused; it reacts to rebalances, consumed
records and resumed partitions at once anyway)."""
CHECK_POLL_FETCHES = 3
"""A poll after an idle doze that no relay ended lasts this many fetch waits."""
RETRY_DELAY_S_MAX = 5.0
MAX_ERROR_CHARS = 2000
BLOCKED_REASON = "blocked behind an earlier parked event of the same order"
CLUSTER_ID_TIMEOUT_S = 5.0
TOPIC_CHECK_INTERVAL_S = 0.5


@dataclass(frozen=True)
class ConsumerConfig:
    """Named limits of one consumer."""

    name: str
    group_id: str
    topics: Sequence[str]
    max_attempts: int = 5
    retry_delay_ms: int = 50
    batch_max: int = 500
    fetch_max_wait_ms: int = FETCH_MAX_WAIT_MS
    poll_timeout_ms: int = POLL_TIMEOUT_MS
    idle_poll_ms: int = IDLE_POLL_MS
    fetch_min_bytes: int = 1
    """With wake-ups: how long an idle consumer stops fetching unless a relay wakes it."""


@dataclass(frozen=True)
class ConsumerHandlers:
    """What applies one consumer's events: its unit of work and its handlers by type
    (redrive of dead letters uses the same)."""

    new_uow: UnitOfWorkFactory
    by_type: Mapping[str, EventHandler]


@dataclass(frozen=True)
class _Work:
    record: ConsumerRecord
    envelope: EventEnvelope
    handler: EventHandler


def _qualified(table: sa.Table) -> str:
    return f'"{table.schema}"."{table.name}"' if table.schema else f'"{table.name}"'


def one_by_one(batch_handlers: Mapping[str, BatchEventHandler]) -> dict[str, EventHandler]:
    """Per-event handlers calling batch handlers with one event (slow path, redrive)."""

    def single(batch: BatchEventHandler) -> EventHandler:
        async def handle(uow: Any, envelope: EventEnvelope) -> None:
            await batch(uow, [envelope])

        return handle

    return {event_type: single(batch) for event_type, batch in batch_handlers.items()}


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]  # aiokafka is untyped
    def __init__(self, runtime: EventConsumer) -> None:
        self._runtime = runtime

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        log.info("partitions revoked", extra={"partitions": [str(tp) for tp in revoked]})
        self._runtime.guard.revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._runtime.partitions = {(tp.topic, tp.partition) for tp in assigned}
        await self._runtime.check_group()
        self._runtime.rewind_pending()
        await self._runtime.reload_blocked_orders()
        self._runtime.assigned.set()
        self._runtime.wake()


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
        new_uow: UnitOfWorkFactory | None = None,
        wakeups: PublishedWakeups | None = None,
    ) -> None:
        self._config = config
        self._wakeups = wakeups
        self._woken = wakeups.subscribe(config.topics) if wakeups else asyncio.Event()
        self._next_listen_try = 0.0
        self.dozing = False
        """True while idle with fetching paused, waiting for a wake-up (for tests)."""
        self._batch_handlers = dict(batch_handlers or {})
        self._handlers = {**one_by_one(self._batch_handlers), **handlers}
        self._sessions = session_factory
        self._new_uow = new_uow or (lambda: SqlUnitOfWork(session_factory))
        self._tables = tables
        self._metrics = metrics
        self._bootstrap = bootstrap_servers
        self._blocked_orders: set[str] = set()
        self._kafka: AIOKafkaConsumer | None = None
        self.assigned = asyncio.Event()
        """Set once the group has given this consumer its partitions."""
        self.partitions: set[tuple[str, int]] = set()
        """The (topic, partition) pairs assigned to this consumer now."""
        self.guard = LossGuard()
        """What this consumer saw of the broker, to notice that it lost data."""
        self._rewound: set[TopicPartition] = set()
        self._pending_rewind: set[str] = set()
        self._next_topic_check = 0.0
        self.rewinds = 0
        """How many times the consumer re-read topics the broker lost (for tests)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Consume until ``stop`` is set."""
        forbid_topic_auto_creation()  # a subscription must never make a topic (otd_shared.kafka)
        self._kafka = AIOKafkaConsumer(
            bootstrap_servers=self._bootstrap,
            group_id=self._config.group_id,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self._config.batch_max,
            fetch_max_wait_ms=self._config.fetch_max_wait_ms,
            consumer_timeout_ms=FETCHER_TICK_MS,
            fetch_min_bytes=self._config.fetch_min_bytes,
        )
        self._kafka.subscribe(list(self._config.topics), listener=_Rebalance(self))
        try:  # start inside: a failed or cancelled start must still close the client
            await self._kafka.start()
            timeout_ms = self._config.poll_timeout_ms
            while not stop.is_set():
                batches = await self._kafka.getmany(timeout_ms=timeout_ms)
                self._check_highwaters()
                self._check_topics()
                timeout_ms = self._config.poll_timeout_ms
                if batches:
                    await self._process_or_rewind(batches)
                elif await self._may_doze():
                    timeout_ms = await self._doze(stop)
        finally:
            await self._kafka.stop()

    def wake(self) -> None:
        """End an idle doze now (a rebalance; the relays' NOTIFY does it through wakeups)."""
        self._woken.set()

    async def _may_doze(self) -> bool:
        """Idle with wake-ups listening (a dropped LISTEN connection is retried at most
        every ``idle_poll_ms``; meanwhile the consumer long-polls as without wake-ups)."""
        if self._wakeups is None:
            return False
        if self._wakeups.listening:
            return True
        now = time.monotonic()
        if now < self._next_listen_try:
            return False
        self._next_listen_try = now + self._config.idle_poll_ms / 1000
        return await self._wakeups.connect()

    async def _doze(self, stop: asyncio.Event) -> int:
        """Stop fetching (paused partitions cost the broker nothing) until a relay published
        to one of our topics, a rebalance, ``idle_poll_ms`` or ``stop``; returns the next
        poll's timeout. The wake-up is cleared BEFORE fetching resumes, so a record that
        reached the broker before that is fetched now and a later one wakes the next doze.
        """
        assert self._kafka is not None
        self._kafka.pause(*self._kafka.assignment())
        self.dozing = True
        try:
            await wait_event_or_stop(self._woken, stop, self._config.idle_poll_ms / 1000)
        finally:
            self.dozing = False
            relayed = self._woken.is_set()
            self._woken.clear()
            self._kafka.resume(*self._kafka.assignment())
        if relayed:
            return self._config.poll_timeout_ms
        return CHECK_POLL_FETCHES * self._config.fetch_max_wait_ms

    async def _process_or_rewind(self, batches: dict[TopicPartition, list[ConsumerRecord]]) -> None:
        """One transaction per partition; offsets of the committed ones are committed.

        If a partition's transaction itself fails (database down), nothing of it was
        applied: seek back so the same records come again, after a pause."""
        assert self._kafka is not None
        done: dict[TopicPartition, int] = {}
        failed = False
        for partition, records in batches.items():
            try:
                await self.process(records)
            except Exception:  # noqa: BLE001  (keep consuming after a database outage)
                log.exception("partition batch failed; rewinding", extra={"tp": str(partition)})
                self._kafka.seek(partition, records[0].offset)
                failed = True
                continue
            done[partition] = records[-1].offset + 1
        if done:
            await self._commit(done)
        if failed:
            await asyncio.sleep(RETRY_DELAY_S_MAX)
            with contextlib.suppress(Exception):  # parks of the failed batch were rolled back
                await self.reload_blocked_orders()

    async def process(self, records: Sequence[ConsumerRecord]) -> None:
        """Apply records (one partition's, in offset order) in one unit of work."""
        async with self._new_uow() as uow:
            runnable = await self._triage(uow.session, records)
            fresh = await self._fresh(uow.session, runnable)
            self._count("duplicate", len(runnable) - len(fresh))
            await self._apply_runs(uow, fresh)
            if fresh:  # test-only crash points, off by default (otd_shared.crash_points)
                crash_point("consumer_before_db_commit", self._config.group_id)
            await uow.commit()
        if fresh:
            crash_point("consumer_after_db_commit", self._config.group_id)

    async def _triage(
        self, session: AsyncSession, records: Sequence[ConsumerRecord]
    ) -> list[_Work]:
        """Park malformed and blocked events; return the ones to apply, in order."""
        runnable: list[_Work] = []
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
                await self._park(session, record, envelope, BLOCKED_REASON, attempts=0)
                continue
            runnable.append(_Work(record, envelope, handler))
        return runnable

    async def _fresh(self, session: AsyncSession, runnable: list[_Work]) -> list[_Work]:
        """Record the inbox rows (one statement); the events seen for the first time."""
        if not runnable:
            return []
        fresh_ids = await self._record_in_inbox(session, [w.envelope for w in runnable])
        fresh: list[_Work] = []
        for work in runnable:
            if work.envelope.event_id in fresh_ids:
                fresh_ids.discard(work.envelope.event_id)  # a duplicate inside the batch
                fresh.append(work)
        return fresh

    async def _apply_runs(self, uow: SqlUnitOfWork, fresh: list[_Work]) -> None:
        """Apply in order; a run of consecutive events whose types have one batch handler
        (the same handler object: a service registering one handler for several types
        gets their mixed runs) goes to that handler at once, a run of consecutive events
        without one goes through their handlers in one savepoint (order across types is
        kept). A run that raises is applied event by event."""
        start = 0
        while start < len(fresh):
            batch = self._batch_handlers.get(fresh[start].envelope.event_type)
            end = start + 1
            while end < len(fresh) and (
                self._batch_handlers.get(fresh[end].envelope.event_type) is batch
            ):
                end += 1
            run = fresh[start:end]
            if batch is not None:
                if not await self._apply_run(uow, batch, run):
                    for work in run:
                        await self._apply_one(uow, work)
            elif len(run) == 1:
                await self._apply_one(uow, run[0])
            else:
                await self._apply_together(uow, run)
            start = end

    async def _apply_together(self, uow: SqlUnitOfWork, run: list[_Work]) -> None:
        """Events through their own handlers, in order, in ONE savepoint (two round trips
        instead of two per event). When one raises, the whole savepoint is rolled back and
        the run is applied event by event; the failed one goes on from its second attempt
        (so it is tried ``max_attempts`` times in all), the ones before it run again."""
        for work in run:
            if await self._blocked(uow.session, work.envelope.order_id):
                for each in run:
                    await self._apply_one(uow, each)
                return
        failed, error = 0, ""
        try:
            async with uow.session.begin_nested():
                for failed, work in enumerate(run):  # noqa: B007  (kept: the one that raised)
                    set_correlation_id(work.envelope.correlation_id)
                    await work.handler(uow, work.envelope)
        except Exception as exc:  # noqa: BLE001  (applied one by one right after)
            error = f"{type(exc).__name__}: {exc}"
        else:
            self._count("applied", len(run))
            return
        for index, work in enumerate(run):
            await self._apply_one(uow, work, first_failure=error if index == failed else None)

    async def _apply_run(
        self, uow: SqlUnitOfWork, batch: BatchEventHandler, run: list[_Work]
    ) -> bool:
        """A run through its batch handler in one savepoint; False when it raised."""
        for work in run:
            if await self._blocked(uow.session, work.envelope.order_id):
                return False
        set_correlation_id(run[0].envelope.correlation_id)
        try:
            async with uow.session.begin_nested():
                await batch(uow, [w.envelope for w in run])
        except Exception:  # noqa: BLE001  (applied one by one right after)
            log.info("batch handler failed; applying one by one", exc_info=True)
            return False
        self._count("applied", len(run))
        return True

    async def _apply_one(
        self, uow: SqlUnitOfWork, work: _Work, *, first_failure: str | None = None
    ) -> None:
        """One event in its own savepoint, retried; parked when it keeps failing or when an
        earlier event of its order was parked in this batch. ``first_failure``: the event
        already failed its first attempt (inside a run), this goes on from the second."""
        if await self._blocked(uow.session, work.envelope.order_id):
            await self._park_recorded(uow.session, work, BLOCKED_REASON, attempts=0)
            return
        set_correlation_id(work.envelope.correlation_id)
        error, first = "", 1
        if first_failure is not None:
            error, first = first_failure, 2
            await self._failed(work, 1, error)
        for attempt in range(first, self._config.max_attempts + 1):
            try:
                async with uow.session.begin_nested():
                    await work.handler(uow, work.envelope)
            except Exception as exc:  # noqa: BLE001  (any handler failure is retried, then parked)
                error = f"{type(exc).__name__}: {exc}"
                await self._failed(work, attempt, error)
                continue
            self._count("applied")
            return
        await self._park_recorded(uow.session, work, error, attempts=self._config.max_attempts)

    async def _failed(self, work: _Work, attempt: int, error: str) -> None:
        """Log a failed attempt; pause before the next one (if any)."""
        log.warning(
            "handler failed",
            extra={"event_id": str(work.envelope.event_id), "attempt": attempt, "err": error[:300]},
        )
        if attempt < self._config.max_attempts:
            await asyncio.sleep(self._retry_delay_s(attempt))

    def _count(self, outcome: str, n: int = 1) -> None:
        if n:
            self._metrics.events_consumed.labels(self._config.name, outcome).inc(n)

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

    async def _commit(self, offsets: dict[TopicPartition, int]) -> None:
        """Commit, unless the broker lost what we committed before (then re-read) or the
        partition was rewound since the batch was fetched."""
        assert self._kafka is not None
        try:
            on_broker = await self._committed_on_broker(list(offsets))
        except KafkaError as exc:
            log.warning("committed offsets unreadable; not committing", extra={"err": str(exc)})
            return
        losses = self.guard.commit_losses(on_broker)
        if losses:
            self.rewind(losses)
        offsets = {tp: o for tp, o in offsets.items() if tp not in self._rewound}
        self._rewound.clear()
        if not offsets:
            return
        try:
            await self._kafka.commit(offsets)
        except (CommitFailedError, KafkaError) as exc:
            log.warning(
                "offset commit failed; the batch may be redelivered", extra={"err": str(exc)}
            )
            return
        self.guard.committed_ok(offsets)

    async def _committed_on_broker(
        self, partitions: list[TopicPartition]
    ) -> dict[TopicPartition, int | None]:
        assert self._kafka is not None
        found = await asyncio.gather(*(self._kafka.committed(tp) for tp in partitions))
        return dict(zip(partitions, found, strict=True))

    def _check_highwaters(self) -> None:
        """After a fetch: a high-water mark below the highest seen means a lost log."""
        assert self._kafka is not None
        current = {tp: self._kafka.highwater(tp) for tp in self._kafka.assignment()}
        losses = self.guard.highwater_losses(current)
        if losses:
            self.rewind(losses)

    def _check_topics(self) -> None:
        """A subscribed topic missing or with another partition count than the cluster's:
        refresh the metadata now; one that changed count and is back: read it again."""
        assert self._kafka is not None
        now = time.monotonic()
        if now < self._next_topic_check:
            return
        self._next_topic_check = now + TOPIC_CHECK_INTERVAL_S
        metadata = self._kafka._client.cluster  # noqa: SLF001  (aiokafka keeps it there)
        counts = {t: len(metadata.partitions_for_topic(t) or ()) for t in self._config.topics}
        if any(count != PARTITIONS_PER_TOPIC for count in counts.values()):
            self._kafka._client.force_metadata_update()  # noqa: SLF001
        self._pending_rewind |= self.guard.topic_changes(counts, PARTITIONS_PER_TOPIC)
        self.rewind_pending()

    def rewind_pending(self) -> None:
        """Rewind the recreated topics once some of their partitions are assigned here."""
        assert self._kafka is not None
        ready = {tp.topic for tp in self._kafka.assignment()} & self._pending_rewind
        if ready:
            self._pending_rewind -= ready
            reason = "the topic was recreated (its partition count changed)"
            self.rewind({tp: reason for tp in self._kafka.assignment() if tp.topic in ready})

    async def check_group(self) -> None:
        """After a (re)join: a group the coordinator forgot means the broker lost data."""
        assert self._kafka is not None
        found: str | None = None
        try:
            found = await asyncio.wait_for(cluster_id(self._kafka), CLUSTER_ID_TIMEOUT_S)
        except (KafkaError, OSError, TimeoutError) as exc:
            log.info("cluster id unreadable", extra={"err": str(exc)})
        reason = self.guard.group_loss(generation=group_generation(self._kafka), cluster_id=found)
        if reason:
            self.rewind(dict.fromkeys(self._kafka.assignment(), reason))

    def rewind(self, reasons: Mapping[TopicPartition, str]) -> None:
        """Read every assigned partition of the affected topics again from the beginning
        (offset 0; on a broker whose log starts later the client resets to the earliest)."""
        assert self._kafka is not None
        topics = {tp.topic for tp in reasons}
        partitions = [tp for tp in self._kafka.assignment() if tp.topic in topics]
        for tp in partitions:
            self._kafka.seek(tp, 0)
        self._rewound.update(partitions)
        self.guard.forget(topics)
        self.rewinds += 1
        log.warning(
            "the broker lost data; reading the topics again from the beginning",
            extra={
                "consumer": self._config.name,
                "topics": sorted(topics),
                "reasons": {str(tp): why for tp, why in reasons.items()},
            },
        )

    def _retry_delay_s(self, attempt: int) -> float:
        return float(
            min(self._config.retry_delay_ms * 2 ** (attempt - 1) / 1000, RETRY_DELAY_S_MAX)
        )

    async def _park_recorded(
        self, session: AsyncSession, work: _Work, error: str, *, attempts: int
    ) -> None:
        """Park an event whose inbox row this batch wrote: the row goes (not applied)."""
        inbox = self._tables.inbox
        await session.execute(
            sa.delete(inbox).where(
                inbox.c.consumer == self._config.name,
                inbox.c.event_id == work.envelope.event_id,
            )
        )
        await self._park(session, work.record, work.envelope, error, attempts=attempts)

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
        self._count("parked")
        log.error(
            "event parked in dead letters",
            extra={"consumer": self._config.name, "error": error[:300]},
        )
