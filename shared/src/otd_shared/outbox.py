"""Transactional outbox: write events with the business change, publish them after.

``OutboxWriter.add`` runs inside the unit of work's transaction, so an event exists
iff its state change committed. ``OutboxRelay`` publishes unsent rows in id order
and marks them sent; a crash between commit and publish loses nothing (the relay
publishes on restart) and a crash after publish re-sends, which the consumers'
inbox absorbs. One relay per service publishes at a time (a PostgreSQL advisory
lock), so the per-order order of events is kept.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from otd_shared.events import EventEnvelope, EventPayload, Topic, new_envelope, topic_for
from otd_shared.kafka import EventProducer
from otd_shared.observability import ServiceMetrics, current_correlation_id

log = logging.getLogger(__name__)

RELAY_RETRY_DELAY_S_MIN = 0.2
RELAY_RETRY_DELAY_S_MAX = 30.0
RELAY_ATTEMPTS_BEFORE_ALERT = 10


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, table: sa.Table, *, producer: str, topic: Topic, topic_prefix: str) -> None:
        self._table = table
        self._producer = producer
        self._topic = topic_for(topic, topic_prefix)

    def envelope(self, payload: EventPayload) -> EventEnvelope:
        """Wrap a payload with this service as producer and the current correlation id."""
        return new_envelope(
            payload, producer=self._producer, correlation_id=current_correlation_id()
        )

    async def add(self, session: AsyncSession, *payloads: EventPayload) -> list[EventEnvelope]:
        """Write the events in the session's open transaction; returns their envelopes."""
        envelopes = [self.envelope(payload) for payload in payloads]
        if envelopes:
            await session.execute(sa.insert(self._table), [self._row(e) for e in envelopes])
        return envelopes

    def row(self, envelope: EventEnvelope) -> dict[str, object]:
        """The outbox row of an envelope, for a caller that inserts it in its own statement
        (still inside the transaction of the state change it belongs to)."""
        return self._row(envelope)

    def _row(self, envelope: EventEnvelope) -> dict[str, object]:
        return {
            "event_id": envelope.event_id,
            "event_type": envelope.event_type,
            "topic": self._topic,
            "partition_key": envelope.partition_key.decode(),
            "body": envelope.model_dump_json(),
        }


class OutboxRelay:
    """Publishes unsent outbox rows to Kafka, oldest first, in batches."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        producer: EventProducer,
        metrics: ServiceMetrics,
        *,
        batch_size: int,
        idle_sleep_ms: int,
    ) -> None:
        self._engine = engine
        self._table = table
        self._producer = producer
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_sleep_s = idle_sleep_ms / 1000
        self._lock_key = zlib.crc32(f"outbox-relay:{table.fullname}".encode())

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; back off (bounded) while Kafka fails."""
        delay_s = RELAY_RETRY_DELAY_S_MIN
        while not stop.is_set():
            try:
                published = await self.publish_batch()
                delay_s = RELAY_RETRY_DELAY_S_MIN
            except Exception:  # noqa: BLE001  (relay must outlive broker/db outages)
                log.exception("outbox relay batch failed; retrying in %.1fs", delay_s)
                await _sleep_or_stop(stop, delay_s)
                delay_s = min(delay_s * 2, RELAY_RETRY_DELAY_S_MAX)
                continue
            if published < self._batch_size:
                await _sleep_or_stop(stop, self._idle_sleep_s)

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows were marked sent."""
        async with self._engine.connect() as conn, conn.begin():
            locked = await conn.scalar(sa.select(sa.func.pg_try_advisory_xact_lock(self._lock_key)))
            if not locked:
                return 0
            rows = (await conn.execute(self._unsent_query())).all()
            if not rows:
                self._metrics.outbox_backlog.set(0)
                return 0
            try:
                await self._producer.send_many((r.topic, r.partition_key, r.body) for r in rows)
            except Exception as exc:
                await self._record_failure([r.id for r in rows], exc)
                raise
            await conn.execute(
                sa.update(self._table)
                .where(self._table.c.id.in_([r.id for r in rows]))
                .values(published_at=sa.func.now(), attempts=self._table.c.attempts + 1)
            )
        self._metrics.outbox_published.inc(len(rows))
        self._metrics.outbox_backlog.set(len(rows))
        return len(rows)

    def _unsent_query(self) -> sa.Select[tuple[int, str, str, str]]:
        t = self._table
        return (
            sa.select(t.c.id, t.c.topic, t.c.partition_key, t.c.body)
            .where(t.c.published_at.is_(None))
            .order_by(t.c.id)
            .limit(self._batch_size)
        )

    async def _record_failure(self, ids: Sequence[int], exc: Exception) -> None:
        # The transaction will roll back; record the failure in its own one.
        async with self._engine.begin() as other:
            result = await other.execute(
                sa.update(self._table)
                .where(self._table.c.id.in_(ids))
                .values(attempts=self._table.c.attempts + 1, last_error=repr(exc)[:500])
                .returning(self._table.c.attempts)
            )
            worst = max((row[0] for row in result), default=0)
        if worst >= RELAY_ATTEMPTS_BEFORE_ALERT:
            log.error("outbox rows failing to publish", extra={"attempts": worst})


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
