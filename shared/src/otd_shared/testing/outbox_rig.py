"""An outbox, a relay and a broker-loss watch over a real PostgreSQL schema and a real
bundled broker (restartable on its port), for the broker-loss tests of ``shared/tests``."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import UnknownTopicOrPartitionError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine

from otd_shared.broker_loss import BrokerLossDetector
from otd_shared.db import asyncpg_url
from otd_shared.events import OrderLocked, Topic, topic_for
from otd_shared.events.envelope import decode_envelope
from otd_shared.infra import Broker, free_port, start_broker
from otd_shared.kafka import EventProducer
from otd_shared.messaging_tables import MessagingTables, messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import OutboxRelay, OutboxWriter

ORDERS = [f"order-{i}" for i in range(24)]
"""One event per order: their keys cover every partition of a 6-partition topic."""
TANSU_DEFAULT_PARTITIONS = 4
METADATA_WAIT_MS = 3000


@dataclass
class OutboxRig:
    """One outbox of the orders topic (with the other messaging tables), its writer and the
    broker it publishes to."""

    engine: AsyncEngine
    tables: MessagingTables
    writer: OutboxWriter
    topic: str
    port: int
    broker: Broker

    @property
    def table(self) -> sa.Table:
        """The outbox table."""
        return self.tables.outbox

    @property
    def bootstrap(self) -> str:
        """The broker's address (the same port across restarts)."""
        return self.broker.bootstrap_servers

    def restart_broker(self) -> None:
        """Stop the broker and start an empty one on the same port (memory storage: every
        topic, message and committed offset is gone; a new cluster id)."""
        self.broker.stop()
        self.broker = start_broker(self.port)

    async def emit(self) -> set[uuid.UUID]:
        """One event per order (keys on every partition)."""
        async with self.engine.begin() as conn:
            envelopes = await self.writer.add(
                AsyncSession(bind=conn),
                *(OrderLocked(order_id=o, locked_at=datetime.now(UTC)) for o in ORDERS),
            )
        return {e.event_id for e in envelopes}

    def detector(self, *, repair: bool = True) -> BrokerLossDetector:
        """A broker-loss watch of this outbox (a new one: as in a process just started)."""
        return BrokerLossDetector(
            self.engine,
            self.table,
            self.bootstrap,
            republish_window_s=600,
            topics=[self.topic],
            repair=repair,
        )

    def relay(self, producer: EventProducer) -> OutboxRelay:
        """A relay of this outbox through ``producer``."""
        return OutboxRelay(
            self.engine, self.table, producer, ServiceMetrics("t"), batch_size=500, idle_sleep_ms=10
        )

    async def unsent(self) -> int:
        """Rows of the outbox not marked published."""
        query = sa.select(sa.func.count()).where(self.table.c.published_at.is_(None))
        async with self.engine.connect() as conn:
            return int(await conn.scalar(query) or 0)

    async def partitions(self) -> int | None:
        """The topic's partition count on the broker (None: it does not exist)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            if self.topic not in await admin.list_topics():
                return None
            [described] = await admin.describe_topics([self.topic])
            return len(described["partitions"])
        finally:
            await admin.close()

    async def create_with_default_count(self) -> None:
        """The topic as someone else's client makes it: with Tansu's default count."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.create_topics([NewTopic(self.topic, TANSU_DEFAULT_PARTITIONS, 1)])
        finally:
            await admin.close()

    async def ask_for_metadata(self) -> None:
        """What clients do at once after a restart: an admin client describes the topic, a
        consumer subscribes to it (both asked the broker to auto-create it)."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        if await self.on_broker():
            raise AssertionError("the metadata requests made the topic")

    async def on_broker(self) -> set[uuid.UUID]:
        """Every event a consumer of the topic reads (every partition in the metadata)."""
        consumer = AIOKafkaConsumer(
            self.topic,
            bootstrap_servers=self.bootstrap,
            auto_offset_reset="earliest",
            request_timeout_ms=METADATA_WAIT_MS,  # how long start waits for a missing topic
        )
        ids: set[uuid.UUID] = set()
        try:
            try:
                await consumer.start()
            except UnknownTopicOrPartitionError:
                return ids
            for _ in range(6):
                for records in (await consumer.getmany(timeout_ms=300)).values():
                    ids.update(decode_envelope(r.value).event_id for r in records)
        finally:
            await consumer.stop()
        return ids


@contextlib.asynccontextmanager
async def scratch_schema(
    database_url: str, metadata: sa.MetaData, *, pool_size: int = 4
) -> AsyncIterator[AsyncEngine]:
    """An engine, and ``metadata``'s tables in its schema (created here, dropped after)."""
    engine = create_async_engine(asyncpg_url(database_url), pool_size=pool_size)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{metadata.schema}"'))
        await conn.run_sync(metadata.create_all)
    try:
        yield engine
    finally:
        async with engine.begin() as conn:
            await conn.execute(sa.text(f'DROP SCHEMA "{metadata.schema}" CASCADE'))
        await engine.dispose()


@contextlib.asynccontextmanager
async def outbox_rig(database_url: str) -> AsyncIterator[OutboxRig]:
    """A schema of its own with the messaging tables, and a broker of its own; both go."""
    metadata = sa.MetaData(schema=f"rig_{uuid.uuid4().hex[:8]}")
    tables = messaging_tables(metadata)
    prefix = f"rig{uuid.uuid4().hex[:6]}."
    port = free_port()
    writer = OutboxWriter(tables.outbox, producer="test", topic=Topic.ORDERS, topic_prefix=prefix)
    async with scratch_schema(database_url, metadata) as engine:
        rig = OutboxRig(
            engine, tables, writer, topic_for(Topic.ORDERS, prefix), port, start_broker(port)
        )
        try:
            yield rig
        finally:
            rig.broker.stop()
