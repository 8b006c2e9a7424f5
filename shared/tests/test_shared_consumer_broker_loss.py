"""A consumer notices that the broker lost its data and reads the rebuilt topic again.

Real PostgreSQL and the real bundled broker (memory only), restarted on its port. The
scenario that lost money in the chaos run: a consumer is applying a batch when the broker
restarts; the relay puts new events and then the republished ones on the rebuilt topic;
the consumer's commit of its old position lands on the NEW broker (a group that does not
exist yet accepts it) and the group resumes from there, above the new events. The
consumer must see that the committed offsets it left are gone and seek to the beginning.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import TopicPartition
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.consumer import ConsumerConfig, EventConsumer
from otd_shared.consumer_loss import LossGuard
from otd_shared.db import SessionFactory, create_session_factory
from otd_shared.events import EventEnvelope, OrderLocked, Topic, topic_for
from otd_shared.infra import Broker, free_port, start_broker, wait_until
from otd_shared.kafka import EventProducer, ensure_topics
from otd_shared.messaging_tables import MessagingTables, messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import OutboxRelay, OutboxWriter
from otd_shared.testing.outbox_rig import scratch_schema
from otd_shared.uow import SqlUnitOfWork

WAIT_S = 30.0
ORDER = "order-loss-1"  # one order: every event on one partition


def _tp(partition: int = 0) -> TopicPartition:
    return TopicPartition("t", partition)


def test_guard_names_every_kind_of_loss() -> None:
    guard = LossGuard()
    assert guard.highwater_losses({_tp(0): 5, _tp(1): None}) == {}
    assert guard.highwater_losses({_tp(0): 7}) == {}
    assert "went from 7 to 2" in guard.highwater_losses({_tp(0): 2})[_tp(0)]

    guard.committed_ok({_tp(0): 4})
    assert guard.commit_losses({_tp(0): 4}) == {}
    assert guard.commit_losses({_tp(0): 9}) == {}, "another replica went further"
    assert "gone" in guard.commit_losses({_tp(0): None})[_tp(0)]
    assert "went back" in guard.commit_losses({_tp(0): 2})[_tp(0)]
    assert guard.commit_losses({_tp(1): None}) == {}, "never committed there: unknown"

    assert guard.group_loss(generation=3, cluster_id="c1") is None, "first join"
    assert guard.group_loss(generation=4, cluster_id="c1") is None
    assert "generation went from 4 to 1" in str(guard.group_loss(generation=1, cluster_id="c1"))
    assert "cluster id changed" in str(guard.group_loss(generation=2, cluster_id="c2"))

    guard.forget({"t"})
    assert guard.highwater_losses({_tp(0): 1}) == {}, "a rebuilt topic starts a new baseline"
    assert guard.commit_losses({_tp(0): None}) == {}


@dataclass
class Rig:
    """A throwaway schema (messaging tables and effects) and a broker on a fixed port."""

    engine: AsyncEngine
    sessions: SessionFactory
    tables: MessagingTables
    effects: sa.Table
    writer: OutboxWriter
    topic: str
    prefix: str
    port: int
    broker: Broker

    async def emit(self, count: int) -> list[EventEnvelope]:
        async with self.sessions() as session, session.begin():
            events = [OrderLocked(order_id=ORDER, locked_at=datetime.now(UTC))] * count
            return await self.writer.add(session, *events)

    async def relay_all(self) -> None:
        producer = EventProducer(self.broker.bootstrap_servers, enable_idempotence=False)
        await producer.start()
        try:
            relay = OutboxRelay(
                self.engine,
                self.tables.outbox,
                producer,
                ServiceMetrics("t"),
                batch_size=100,
                idle_sleep_ms=10,
            )
            while await relay.publish_batch():
                pass
        finally:
            await producer.stop()

    async def mark_unsent(self, envelopes: list[EventEnvelope]) -> None:
        """What the producer's broker-loss watch does with the rows it published."""
        outbox = self.tables.outbox
        async with self.engine.begin() as conn:
            await conn.execute(
                sa.update(outbox)
                .where(outbox.c.event_id.in_([e.event_id for e in envelopes]))
                .values(published_at=None)
            )

    async def restart_broker(self) -> None:
        self.broker.stop()
        self.broker = start_broker(self.port)
        await ensure_topics(self.broker.bootstrap_servers, self.prefix)

    async def applied(self) -> list[uuid.UUID]:
        async with self.sessions() as session:
            return list((await session.scalars(sa.select(self.effects.c.event_id))).all())

    async def parked(self) -> int:
        dl = self.tables.dead_letters
        async with self.sessions() as session:
            return int(await session.scalar(sa.select(sa.func.count()).select_from(dl)) or 0)


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[Rig]:
    metadata = sa.MetaData(schema=f"closs_{uuid.uuid4().hex[:8]}")
    tables = messaging_tables(metadata)
    effects = sa.Table("effects", metadata, sa.Column("event_id", sa.Uuid, primary_key=True))
    prefix = f"closs{uuid.uuid4().hex[:6]}."
    port = free_port()
    async with scratch_schema(database_url, metadata, pool_size=5) as engine:
        broker = start_broker(port)
        await ensure_topics(broker.bootstrap_servers, prefix)
        rig = Rig(
            engine,
            create_session_factory(engine),
            tables,
            effects,
            OutboxWriter(tables.outbox, producer="test", topic=Topic.ORDERS, topic_prefix=prefix),
            topic_for(Topic.ORDERS, prefix),
            prefix,
            port,
            broker,
        )
        try:
            yield rig
        finally:
            rig.broker.stop()


@pytest.mark.integration
async def test_a_commit_landing_on_the_restarted_broker_does_not_skip_new_events(
    rig: Rig,
) -> None:
    gate = asyncio.Event()
    held = asyncio.Event()
    first = await rig.emit(5)
    hold: set[uuid.UUID] = set()

    async def handle(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        if event.event_id in hold and not gate.is_set():
            held.set()
            await gate.wait()  # the broker restarts while this batch is being applied
        await uow.session.execute(sa.insert(rig.effects).values(event_id=event.event_id))

    consumer = EventConsumer(
        ConsumerConfig(name="loss", group_id=f"g-{uuid.uuid4().hex[:6]}", topics=[rig.topic]),
        {"OrderLocked": handle},
        rig.sessions,
        rig.tables,
        ServiceMetrics("t"),
        rig.broker.bootstrap_servers,
    )
    stop = asyncio.Event()
    task = asyncio.create_task(consumer.run(stop))
    try:
        await rig.relay_all()

        async def first_applied() -> bool:
            return len(await rig.applied()) == len(first)

        assert await wait_until(first_applied, timeout_s=WAIT_S)  # and their offsets committed
        held_event = (await rig.emit(1))[0]
        hold.add(held_event.event_id)
        await rig.relay_all()  # in a batch of its own
        await asyncio.wait_for(held.wait(), WAIT_S)  # it is applying the held event now

        await rig.restart_broker()
        new = await rig.emit(2)
        await rig.relay_all()  # the new events first on the rebuilt topic...
        await rig.mark_unsent([*first, held_event])
        await rig.relay_all()  # ...then the republished ones, above them
        gate.set()

        expected = {e.event_id for e in [*first, held_event, *new]}

        async def all_applied() -> bool:
            return set(await rig.applied()) == expected

        assert await wait_until(all_applied, timeout_s=WAIT_S, interval_s=0.2), (
            f"missing: {expected - set(await rig.applied())}"
        )
        assert len(await rig.applied()) == len(expected)
        assert await rig.parked() == 0, "a re-read event was applied twice"
    finally:
        gate.set()
        stop.set()
        await task
