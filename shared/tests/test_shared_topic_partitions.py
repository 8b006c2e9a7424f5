"""Topics exist only as we create them: with ``PARTITIONS_PER_TOPIC`` partitions.

Real PostgreSQL and the real bundled broker (memory only), restarted on its port. The cause
of the chaos run's losses (seed 7: 5 of 16 orders without a payable intent billing): after
a restart, the first metadata request of a consumer or an admin client (aiokafka asks for
auto-creation by default) made Tansu create the topic with ITS default of 4 partitions,
while the relay's producer, whose metadata still said 6, wrote the events of about a third
of the orders to partitions 4 and 5. Tansu stores records for partitions a topic does not
have without a word, and no consumer (nor the broker-loss watch, which reads the end
offsets of the partitions in the metadata) ever looked there.
"""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Callable

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.partitioner import murmur2

from otd_shared.consumer import ConsumerConfig, EventConsumer
from otd_shared.consumer_loss import LossGuard
from otd_shared.db import create_session_factory
from otd_shared.events import EventEnvelope, Topic
from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from otd_shared.infra import wait_until
from otd_shared.kafka import EventProducer, TopicNotReady, ensure_topics
from otd_shared.observability import ServiceMetrics
from otd_shared.testing.outbox_rig import (
    ORDERS,
    TANSU_DEFAULT_PARTITIONS,
    OutboxRig,
    outbox_rig,
)

pytestmark = pytest.mark.integration

WAIT_S = 30.0


def _partition(key: str) -> int:
    """The partition aiokafka's default partitioner gives a key on a 6-partition topic."""
    return (murmur2(key.encode()) & 0x7FFFFFFF) % PARTITIONS_PER_TOPIC


def test_the_orders_cover_the_partitions_a_4_partition_topic_lacks() -> None:
    assert {_partition(o) for o in ORDERS} >= {4, 5}


def test_the_consumer_guard_rereads_a_topic_that_changed_partition_count() -> None:
    guard = LossGuard()
    assert guard.topic_changes({"t": 6, "u": 6}, 6) == set()
    assert guard.topic_changes({"t": 0, "u": 6}, 6) == set(), "gone: wait until it is back"
    assert guard.topic_changes({"t": 4, "u": 6}, 6) == set(), "wrong count: not yet"
    assert guard.topic_changes({"t": 6, "u": 6}, 6) == {"t"}
    assert guard.topic_changes({"t": 6, "u": 6}, 6) == set(), "once"


@pytest.fixture
async def rig(database_url: str) -> AsyncIterator[OutboxRig]:
    async with outbox_rig(database_url) as made:
        yield made


async def test_a_restarted_broker_gets_no_auto_created_topic_and_loses_nothing(
    rig: OutboxRig,
) -> None:
    await ensure_topics(rig.bootstrap, rig.topic.removesuffix(Topic.ORDERS.value))
    producer = EventProducer(rig.bootstrap, enable_idempotence=False)
    await producer.start()  # one producer throughout: its metadata outlives the restart
    try:
        first = await rig.emit()
        assert await rig.relay(producer).publish_batch() == len(ORDERS)
        assert await rig.on_broker() == first

        rig.restart_broker()  # memory storage: topics and messages gone
        # What made the 4-partition topic: a consumer's and an admin client's metadata
        # requests for the topic, before the producer's broker-loss watch recreated it.
        await rig.ask_for_metadata()
        assert await rig.partitions() is None, "no client of ours creates a topic"

        assert await rig.detector().check() == len(ORDERS), "the loss is noticed"
        assert await rig.partitions() == PARTITIONS_PER_TOPIC
        second = await rig.emit()
        relay = rig.relay(producer)
        assert await relay.publish_batch() == 2 * len(ORDERS)

        async def all_back() -> bool:
            return await rig.on_broker() == first | second

        assert await wait_until(all_back, timeout_s=WAIT_S), "every partition's events readable"
        assert await rig.detector().check() == 0
    finally:
        await producer.stop()


async def test_a_topic_with_another_partition_count_is_recreated_and_republished(
    rig: OutboxRig,
) -> None:
    """Made by someone else's client with the broker's default count: the watch deletes it,
    creates it with the cluster's count and republishes; the relay refuses to send to it
    until its metadata shows the right count."""
    await rig.create_with_default_count()
    producer = EventProducer(rig.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        first = await rig.emit()
        with pytest.raises(TopicNotReady, match="4 partitions"):
            await rig.relay(producer).publish_batch()
        assert await rig.unsent() == len(ORDERS), "nothing marked published"

        async with rig.engine.begin() as conn:  # as if an earlier relay had published them
            await conn.execute(sa.update(rig.table).values(published_at=sa.func.now()))
        assert await rig.detector().check() == len(ORDERS)
        assert await rig.partitions() == PARTITIONS_PER_TOPIC
        assert await rig.relay(producer).publish_batch() == len(ORDERS)
        ends = await _end_offsets(rig)
        assert {p for p, end in ends.items() if end} == {_partition(o) for o in ORDERS}
        assert await rig.on_broker() == first
        assert await rig.detector().check() == 0
    finally:
        await producer.stop()


async def test_a_missing_topic_of_the_service_is_created_before_anything_is_published(
    rig: OutboxRig,
) -> None:
    await rig.ask_for_metadata()
    assert await rig.partitions() is None
    assert await rig.detector().check() == 0, "nothing was published: nothing lost"
    assert await rig.partitions() == PARTITIONS_PER_TOPIC


async def _end_offsets(rig: OutboxRig) -> dict[int, int]:
    consumer = AIOKafkaConsumer(bootstrap_servers=rig.bootstrap)
    await consumer.start()
    try:
        tps = [TopicPartition(rig.topic, p) for p in range(PARTITIONS_PER_TOPIC)]
        return {tp.partition: end for tp, end in (await consumer.end_offsets(tps)).items()}
    finally:
        await consumer.stop()


async def _make_topic_with_wrong_count(rig: OutboxRig) -> None:
    """Someone else's client deletes the topic and makes it with the broker's default."""
    admin = AIOKafkaAdminClient(bootstrap_servers=rig.bootstrap)
    await admin.start()
    try:
        await admin.delete_topics([rig.topic])
        await wait_until(lambda: _absent(admin, rig.topic), timeout_s=WAIT_S)
    finally:
        await admin.close()
    await rig.create_with_default_count()


async def _until(check: Callable[[], bool]) -> bool:
    async def probe() -> bool:
        return check()

    return await wait_until(probe, timeout_s=WAIT_S)


async def _absent(admin: AIOKafkaAdminClient, topic: str) -> bool:
    return topic not in await admin.list_topics()


async def test_a_running_consumer_rereads_a_topic_the_watch_recreated(rig: OutboxRig) -> None:
    """A real EventConsumer keeps running while the topic is replaced by one with 4
    partitions and the watch deletes and recreates it with 6: the events published to the
    rebuilt topic sit at offsets at or below the consumer's old positions (the same keys,
    as many events), so only a consumer that reads the topic again from the beginning sees
    them. Each event is applied exactly once (the inbox drops the republished ones)."""
    await ensure_topics(rig.bootstrap, rig.topic.removesuffix(Topic.ORDERS.value))
    applied: Counter[uuid.UUID] = Counter()

    async def on_locked(_uow: object, envelope: EventEnvelope) -> None:
        applied[envelope.event_id] += 1

    consumer = EventConsumer(
        ConsumerConfig(
            name="reread", group_id=f"reread-{uuid.uuid4().hex[:8]}", topics=[rig.topic]
        ),
        {"OrderLocked": on_locked},
        create_session_factory(rig.engine),
        rig.tables,
        ServiceMetrics("t"),
        rig.bootstrap,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(consumer.run(stop))
    producer = EventProducer(rig.bootstrap, enable_idempotence=False)
    await producer.start()
    try:
        await asyncio.wait_for(consumer.assigned.wait(), WAIT_S)
        first = await rig.emit()
        assert await rig.relay(producer).publish_batch() == len(ORDERS)
        assert await _until(lambda: set(applied) == first)
        async with rig.engine.begin() as conn:  # published long ago: outside the window
            await conn.execute(
                sa.update(rig.table).values(
                    published_at=sa.func.now() - sa.text("interval '1 day'")
                )
            )

        await _make_topic_with_wrong_count(rig)
        noticed = await _until(
            lambda: consumer.rewinds > 0 or rig.topic in consumer.guard.recreated
        )
        assert noticed, "the consumer noticed that the topic was replaced"
        assert await rig.detector().check() == 0, "nothing within the window to republish"
        assert await rig.partitions() == PARTITIONS_PER_TOPIC
        second = await rig.emit()
        assert await rig.relay(producer).publish_batch() == len(ORDERS)

        assert await _until(lambda: set(applied) == first | second), (
            f"{len(second - set(applied))} of {len(second)} events on the rebuilt topic unread"
        )
        assert consumer.rewinds >= 1
        assert set(applied.values()) == {1}, "every event applied exactly once"
    finally:
        stop.set()
        await asyncio.wait_for(running, WAIT_S)
        await producer.stop()


async def test_in_alert_mode_the_watch_reports_and_touches_nothing(rig: OutboxRig) -> None:
    """``BROKER_LOSS_ACTION=alert`` (real Kafka): a topic with a wrong partition count is
    reported once, neither deleted nor recreated, and nothing is marked unsent."""
    await rig.create_with_default_count()
    await rig.emit()
    async with rig.engine.begin() as conn:  # as if a relay had published them
        await conn.execute(sa.update(rig.table).values(published_at=sa.func.now()))
    watch = rig.detector(repair=False)
    assert await watch.check() == 0
    assert await watch.check() == 0
    assert watch.alerts == 1, "reported once while the reasons stay the same"
    assert await rig.partitions() == TANSU_DEFAULT_PARTITIONS, "the topic is left alone"
    assert await rig.unsent() == 0, "nothing republished"
    assert await rig.detector().check() == len(ORDERS), "repair mode repairs the same loss"
    assert await rig.partitions() == PARTITIONS_PER_TOPIC
