"""The broker-loss watch: a memory broker restarted under the relay loses every published
event; the watch notices and the relay republishes them from the outbox."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer

from otd_shared.broker_loss import BrokerLossDetector, BrokerProbe, BrokerSnapshot, judge
from otd_shared.db import asyncpg_url
from otd_shared.events import OrderLocked, Topic, topic_for
from otd_shared.events.envelope import decode_envelope
from otd_shared.infra import free_port, start_broker, wait_until
from otd_shared.kafka import EventProducer, ensure_topics
from otd_shared.messaging_tables import messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import OutboxRelay, OutboxWriter

WAIT_S = 30.0


def test_judge_names_every_kind_of_loss() -> None:
    def verdict(
        before: BrokerSnapshot | None, now: BrokerSnapshot, published: dict[str, int]
    ) -> dict[str, str]:
        return judge(before, now, published, expected_partitions=2).reasons

    before = BrokerSnapshot("c1", {"t": {0: 5, 1: 3}})
    assert verdict(before, BrokerSnapshot("c1", {"t": {0: 6, 1: 3}}), {"t": 9}) == {}
    assert "cluster id" in verdict(before, BrokerSnapshot("c2", {"t": {0: 6, 1: 3}}), {"t": 1})["t"]
    assert (
        "partition 1" in verdict(before, BrokerSnapshot("c1", {"t": {0: 9, 1: 2}}), {"t": 1})["t"]
    )
    assert "missing or empty" in verdict(None, BrokerSnapshot(None, {}), {"t": 1})["t"]
    assert (
        "missing or empty"
        in verdict(None, BrokerSnapshot(None, {"t": {0: 0, 1: 0}}), {"t": 1})["t"]
    )
    assert verdict(None, BrokerSnapshot(None, {}), {}) == {}
    assert verdict(None, BrokerSnapshot(None, {}), {"t": 0}) == {}, "missing, nothing published"
    three = BrokerSnapshot(None, {"t": {0: 4, 1: 0, 2: 9}})
    assert "3 partitions, not 2" in verdict(before, three, {"t": 0})["t"], (
        "wrong count, even unused"
    )
    assert "3 partitions, not 2" in verdict(None, three, {"t": 7})["t"]


async def _topic_event_ids(bootstrap: str, topic: str) -> set[uuid.UUID]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, auto_offset_reset="earliest", group_id=None
    )
    await consumer.start()
    ids: set[uuid.UUID] = set()
    try:
        for _ in range(10):
            batches = await consumer.getmany(timeout_ms=500)
            for records in batches.values():
                ids.update(decode_envelope(r.value).event_id for r in records)
    finally:
        await consumer.stop()
    return ids


@pytest.fixture
async def outbox(database_url: str) -> AsyncIterator[tuple[sa.Table, object]]:
    schema = f"loss_{uuid.uuid4().hex[:8]}"
    metadata = sa.MetaData(schema=schema)
    tables = messaging_tables(metadata)
    engine = sa.ext.asyncio.create_async_engine(asyncpg_url(database_url), pool_size=3)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    yield tables.outbox, engine
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


@pytest.mark.integration
@pytest.mark.parametrize("long_lived_client", [False, True], ids=["client-per-check", "probe"])
async def test_a_restarted_memory_broker_gets_the_lost_events_again(
    outbox: tuple[sa.Table, sa.ext.asyncio.AsyncEngine], long_lived_client: bool
) -> None:
    """With a client per check and with the watch's long-lived probe (its connections
    outlive the broker: it must reconnect to the new one and see the loss) and kept
    published counts (read from the outbox every 10 checks)."""
    table, engine = outbox
    port = free_port()
    broker = start_broker(port)
    prefix = f"loss{uuid.uuid4().hex[:6]}."
    topic = topic_for(Topic.ORDERS, prefix)
    writer = OutboxWriter(table, producer="test", topic=Topic.ORDERS, topic_prefix=prefix)
    probe = BrokerProbe(broker.bootstrap_servers) if long_lived_client else None
    detector = BrokerLossDetector(
        engine,
        table,
        broker.bootstrap_servers,
        republish_window_s=600,
        probe=probe,
        counts_every=10 if long_lived_client else 1,
    )

    async def emit(count: int) -> list[uuid.UUID]:
        async with engine.begin() as conn:
            session = sa.ext.asyncio.AsyncSession(bind=conn)
            envelopes = await writer.add(
                session,
                *(
                    OrderLocked(order_id=f"o-{i}", locked_at=datetime.now(UTC))
                    for i in range(count)
                ),
            )
        return [e.event_id for e in envelopes]

    async def relay_all() -> None:
        producer = EventProducer(broker.bootstrap_servers, enable_idempotence=False)
        await producer.start()
        try:
            relay = OutboxRelay(
                engine, table, producer, ServiceMetrics("t"), batch_size=100, idle_sleep_ms=10
            )
            await relay.publish_batch()
        finally:
            await producer.stop()

    try:
        await ensure_topics(broker.bootstrap_servers, prefix)
        first = await emit(20)
        await relay_all()
        assert await detector.check() == 0, "no loss yet"
        assert await _topic_event_ids(broker.bootstrap_servers, topic) == set(first)

        broker.stop()
        broker = start_broker(port)  # memory storage: every topic and message is gone
        assert await detector.check() == 20
        assert detector.republished_rows == 20
        second = await emit(5)
        await relay_all()
        assert await detector.check() == 0, "after the republish the broker holds them all"

        async def all_back() -> bool:
            seen = await _topic_event_ids(broker.bootstrap_servers, topic)
            return seen == set(first) | set(second)

        assert await wait_until(all_back, timeout_s=WAIT_S)
    finally:
        if probe is not None:
            await probe.close()
        broker.stop()
