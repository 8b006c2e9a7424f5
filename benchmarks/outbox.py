"""Outbox relay → broker → consumer with inbox, against raw aiokafka (issue 3).

Figures: events/s end to end for a backlog of N events; lag p50/p99 at a steady
1,000 events/s; the same N messages produced and consumed with bare aiokafka as
the baseline. Goals: ≥ 2,000 events/s, lag p99 ≤ 250 ms, ≥ 0.3 of the baseline.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable, Coroutine, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from benchmarks.common import BenchContext, Report, percentile
from otd_shared.consumer import ConsumerConfig, EventConsumer
from otd_shared.db import asyncpg_url, create_session_factory
from otd_shared.events import EventEnvelope, OrderLocked, Topic, topic_for
from otd_shared.kafka import EventProducer, ensure_topics
from otd_shared.messaging_tables import messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import OutboxRelay, OutboxWriter
from otd_shared.uow import SqlUnitOfWork

EVENTS_BACKLOG = 20_000
STEADY_RATE_PER_S = 1_000
STEADY_SECONDS = 5
STEADY_TICK_S = 0.01
WAIT_LIMIT_S = 120.0
# Relay batch and consumer poll size (RELAY_BATCH_SIZE / CONSUMER_BATCH_MAX in production).
BATCH_SIZE = 2_000
RelayJob = Callable[[], Coroutine[Any, Any, None]]


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report("outbox relay → broker → consumer (inbox)")
    baseline = await _raw_kafka(ctx.kafka, EVENTS_BACKLOG)
    pipeline = await _Pipeline.create(ctx)
    batched = await _Pipeline.create(ctx, batch=True)
    try:
        throughput = await pipeline.backlog(EVENTS_BACKLOG)
        lags = await pipeline.steady(STEADY_RATE_PER_S, STEADY_SECONDS)
        batch_throughput = await batched.backlog(EVENTS_BACKLOG)
    finally:
        await pipeline.close()
        await batched.close()
    report.figure("baseline: raw aiokafka produce→consume", baseline, "events/s")
    report.figure("outbox → relay → consumer + inbox", throughput, "events/s", "goal ≥ 2,000")
    report.ratio("ratio to baseline (per-event handler)", throughput / baseline, "≥ 0.30")
    report.figure("same, with a batch handler (one insert/run)", batch_throughput, "events/s")
    report.ratio("ratio to baseline (batch handler)", batch_throughput / baseline, "≥ 0.30")
    report.figure(f"lag p50 at {STEADY_RATE_PER_S}/s", percentile(lags, 0.5) * 1000, "ms")
    report.figure(
        f"lag p99 at {STEADY_RATE_PER_S}/s", percentile(lags, 0.99) * 1000, "ms", "goal ≤ 250"
    )
    return report


async def _raw_kafka(kafka: str, count: int) -> float:
    topic = f"bench-raw-{uuid.uuid4().hex[:8]}"
    await ensure_topics(kafka, f"{topic}.")
    name = topic_for(Topic.ORDERS, f"{topic}.")
    body = _sample_envelope().to_bytes()
    producer = AIOKafkaProducer(bootstrap_servers=kafka, acks="all", linger_ms=2)
    consumer = AIOKafkaConsumer(
        name,
        bootstrap_servers=kafka,
        group_id=topic,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await producer.start()
    await consumer.start()
    try:
        started = time.perf_counter()
        futures = [await producer.send(name, body, key=str(i).encode()) for i in range(count)]
        await asyncio.gather(*futures)
        seen = 0
        while seen < count and time.perf_counter() - started < WAIT_LIMIT_S:
            batches = await consumer.getmany(timeout_ms=200, max_records=1000)
            seen += sum(len(records) for records in batches.values())
            await consumer.commit()
        return count / (time.perf_counter() - started)
    finally:
        await producer.stop()
        await consumer.stop()


def _sample_envelope() -> EventEnvelope:
    from otd_shared.events import new_envelope

    return new_envelope(
        OrderLocked(order_id=str(uuid.uuid4()), locked_at=datetime.now(UTC)),
        producer="bench",
        correlation_id="bench",
    )


class _Pipeline:
    """A schema with messaging tables, a relay and a consumer recording lag."""

    def __init__(self, kafka: str, engine: AsyncEngine, metadata: sa.MetaData, prefix: str) -> None:
        self.kafka = kafka
        self.engine = engine
        self.tables = messaging_tables(metadata)
        self.effects = sa.Table(
            "effects", metadata, sa.Column("event_id", sa.Uuid, primary_key=True)
        )
        self.prefix = prefix
        self.sessions = create_session_factory(engine)
        self.writer = OutboxWriter(
            self.tables.outbox, producer="bench", topic=Topic.ORDERS, topic_prefix=prefix
        )
        self.metrics = ServiceMetrics("bench")
        self.handled = 0
        self.lags: list[float] = []
        self.batch = False

    @classmethod
    async def create(cls, ctx: BenchContext, *, batch: bool = False) -> _Pipeline:
        url = await ctx.new_database()
        engine = create_async_engine(asyncpg_url(url), pool_size=5)
        metadata = sa.MetaData(schema="bench")
        self = cls(ctx.kafka, engine, metadata, f"bench{uuid.uuid4().hex[:8]}.")
        self.batch = batch
        async with engine.begin() as conn:
            await conn.execute(sa.text("CREATE SCHEMA bench"))
            await conn.run_sync(metadata.create_all)
        await ensure_topics(ctx.kafka, self.prefix)
        return self

    async def close(self) -> None:
        await self.engine.dispose()

    async def _handle_run(self, uow: SqlUnitOfWork, events: Sequence[EventEnvelope]) -> None:
        await uow.session.execute(
            sa.insert(self.effects), [{"event_id": e.event_id} for e in events]
        )
        now = time.time()
        self.lags.extend(now - e.occurred_at.timestamp() for e in events)
        self.handled += len(events)

    async def _handle(self, uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        await uow.session.execute(sa.insert(self.effects).values(event_id=event.event_id))
        self.lags.append(time.time() - event.occurred_at.timestamp())
        self.handled += 1

    async def _write(self, count: int) -> None:
        async with self.sessions() as session, session.begin():
            await self.writer.add(
                session,
                *(
                    OrderLocked(order_id=str(uuid.uuid4()), locked_at=datetime.now(UTC))
                    for _ in range(count)
                ),
            )

    def _workers(
        self, stop: asyncio.Event
    ) -> tuple[EventConsumer, Callable[[], Coroutine[Any, Any, None]]]:
        producer = EventProducer(self.kafka, enable_idempotence=False)
        relay = OutboxRelay(
            self.engine,
            self.tables.outbox,
            producer,
            self.metrics,
            batch_size=BATCH_SIZE,
            idle_sleep_ms=10,
        )
        config = ConsumerConfig(
            name="bench",
            group_id=f"{self.prefix}bench",
            topics=[topic_for(Topic.ORDERS, self.prefix)],
            batch_max=BATCH_SIZE,
        )
        consumer = EventConsumer(
            config,
            {} if self.batch else {"OrderLocked": self._handle},
            self.sessions,
            self.tables,
            self.metrics,
            self.kafka,
            batch_handlers={"OrderLocked": self._handle_run} if self.batch else None,
        )

        async def relay_job() -> None:
            await producer.start()
            try:
                await relay.run(stop)
            finally:
                await producer.stop()

        return consumer, relay_job

    async def _start(self, stop: asyncio.Event) -> tuple[list[asyncio.Task[None]], float]:
        """Start the consumer, wait for its partitions, then start the relay (and the clock)."""
        consumer, relay_job = self._workers(stop)
        tasks = [asyncio.create_task(consumer.run(stop))]
        await asyncio.wait_for(consumer.assigned.wait(), WAIT_LIMIT_S)
        started = time.perf_counter()
        tasks.append(asyncio.create_task(relay_job()))
        return tasks, started

    async def backlog(self, count: int) -> float:
        """Events/s from relay start until the consumer applied a pre-written backlog."""
        for start in range(0, count, 1000):
            await self._write(min(1000, count - start))
        stop = asyncio.Event()
        tasks, started = await self._start(stop)
        await self._until(count, started)
        elapsed = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*tasks)
        return count / elapsed

    async def steady(self, rate_per_s: int, seconds: int) -> list[float]:
        """Lags (s) of events written at a steady rate while everything runs."""
        self.handled, self.lags = 0, []
        stop = asyncio.Event()
        tasks, _ = await self._start(stop)
        per_tick = max(1, int(rate_per_s * STEADY_TICK_S))
        started = time.perf_counter()
        written = 0
        while written < rate_per_s * seconds:
            await self._write(per_tick)
            written += per_tick
            next_at = started + written / rate_per_s
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
        await self._until(written, started)
        stop.set()
        await asyncio.gather(*tasks)
        return self.lags

    async def _until(self, count: int, started: float) -> None:
        while self.handled < count:
            if time.perf_counter() - started > WAIT_LIMIT_S:
                raise RuntimeError(f"only {self.handled} of {count} events arrived")
            await asyncio.sleep(0.01)
