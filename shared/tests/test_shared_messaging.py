"""Outbox → relay → broker → consumer with inbox, on real PostgreSQL and the real broker.

The guarantees of docs/service-guide.md: nothing lost, nothing applied twice,
failures retried then parked without blocking other orders, malformed events
parked, two instances sharing partitions.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from functools import partial

import pytest
import sqlalchemy as sa
from aiokafka import AIOKafkaProducer, ConsumerRecord
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from otd_shared.consumer import ConsumerConfig, ConsumerHandlers, EventConsumer, EventHandler
from otd_shared.db import SessionFactory, asyncpg_url, create_session_factory
from otd_shared.events import EventEnvelope, OrderLocked, Topic, topic_for
from otd_shared.infra import wait_until
from otd_shared.kafka import EventProducer
from otd_shared.messaging_tables import MessagingTables, messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import (
    OutboxRelay,
    OutboxWriter,
    PublishedWakeups,
    listen_dsn,
    outbox_notify_sql,
)
from otd_shared.testing.consumer_records import partition_records
from otd_shared.uow import SqlUnitOfWork

pytestmark = pytest.mark.integration
WAIT_S = 20.0


@dataclass
class Harness:
    """A throwaway schema with messaging tables and an effects table."""

    engine: AsyncEngine
    sessions: SessionFactory
    tables: MessagingTables
    effects: sa.Table
    writer: OutboxWriter
    kafka: str
    topic: str
    metrics: ServiceMetrics

    async def emit(self, *order_ids: str) -> list[EventEnvelope]:
        """Commit one OrderLocked per order id through the outbox."""
        async with self.sessions() as session, session.begin():
            return await self.writer.add(
                session, *(OrderLocked(order_id=o, locked_at=_now()) for o in order_ids)
            )

    def relay(self, producer: EventProducer) -> OutboxRelay:
        return OutboxRelay(
            self.engine,
            self.tables.outbox,
            producer,
            self.metrics,
            batch_size=100,
            idle_sleep_ms=10,
        )

    def consumer(
        self,
        handler: EventHandler,
        *,
        group: str,
        name: str = "test-consumer",
        max_attempts: int = 3,
        wakeups: PublishedWakeups | None = None,
        idle_poll_ms: int = 5000,
    ) -> EventConsumer:
        config = ConsumerConfig(
            name=name,
            group_id=group,
            topics=[self.topic],
            max_attempts=max_attempts,
            retry_delay_ms=1,
            idle_poll_ms=idle_poll_ms,
        )
        return EventConsumer(
            config,
            {"OrderLocked": handler},
            self.sessions,
            self.tables,
            self.metrics,
            self.kafka,
            wakeups=wakeups,
        )

    async def count(self, query: sa.Select[tuple[int]]) -> int:
        async with self.sessions() as session:
            return int(await session.scalar(query) or 0)

    async def effect_count(self) -> int:
        return await self.count(sa.select(sa.func.count()).select_from(self.effects))

    async def parked(self) -> list[sa.Row[tuple[str | None, str]]]:
        dl = self.tables.dead_letters
        async with self.sessions() as session:
            return list(
                (
                    await session.execute(sa.select(dl.c.order_id, dl.c.error).order_by(dl.c.id))
                ).all()
            )


def _now():  # type: ignore[no-untyped-def]
    from datetime import UTC, datetime

    return datetime.now(UTC)


@pytest.fixture
async def harness(
    database_url: str, kafka_bootstrap: str, topic_prefix: str
) -> AsyncIterator[Harness]:
    schema = f"msg_{uuid.uuid4().hex[:8]}"
    metadata = sa.MetaData(schema=schema)
    tables = messaging_tables(metadata)
    effects = sa.Table(
        "effects",
        metadata,
        sa.Column("event_id", sa.Uuid, primary_key=True),
        sa.Column("order_id", sa.Text, nullable=False),
    )
    engine = create_async_engine(asyncpg_url(database_url), pool_size=5)
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
        for statement in outbox_notify_sql(schema):
            await conn.execute(sa.text(statement))
    writer = OutboxWriter(
        tables.outbox, producer="test", topic=Topic.ORDERS, topic_prefix=topic_prefix
    )
    yield Harness(
        engine,
        create_session_factory(engine),
        tables,
        effects,
        writer,
        kafka_bootstrap,
        topic_for(Topic.ORDERS, topic_prefix),
        ServiceMetrics("test"),
    )
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


def recording_handler(h: Harness) -> EventHandler:
    async def handle(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        await uow.session.execute(
            sa.insert(h.effects).values(event_id=event.event_id, order_id=event.order_id)
        )

    return handle


@pytest.fixture
async def producer(kafka_bootstrap: str) -> AsyncIterator[EventProducer]:
    p = EventProducer(kafka_bootstrap, enable_idempotence=False)
    await p.start()
    yield p
    await p.stop()


class Running:
    """Run coroutines in the background until the block ends."""

    def __init__(self, *starts: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self.stop = asyncio.Event()
        self._starts = starts
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> Running:
        self._tasks = [asyncio.create_task(s(self.stop)) for s in self._starts]
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop.set()
        await asyncio.gather(*self._tasks)


async def test_events_of_one_transaction_go_into_the_outbox_in_one_statement_in_order(
    harness: Harness,
) -> None:
    """Row ids follow the envelopes' order (the relay publishes by id), and 40 events are
    one execution in PostgreSQL as one is (a statement trigger counts the executions: a
    list of rows would be executed row by row)."""
    outbox = harness.tables.outbox.fullname
    schema = harness.tables.outbox.schema
    async with harness.engine.begin() as conn:
        for ddl in (
            f'CREATE TABLE "{schema}".executions (n serial)',
            f'CREATE FUNCTION "{schema}".count_execution() RETURNS trigger LANGUAGE plpgsql'
            f' AS $$ BEGIN INSERT INTO "{schema}".executions DEFAULT VALUES; RETURN NULL;'
            " END $$",
            f"CREATE TRIGGER count_execution AFTER INSERT ON {outbox}"
            f' FOR EACH STATEMENT EXECUTE FUNCTION "{schema}".count_execution()',
        ):
            await conn.execute(sa.text(ddl))
    written = await harness.emit("order-one")
    written += await harness.emit(*(f"order-{i}" for i in range(40)))
    async with harness.engine.connect() as conn:
        executions = await conn.scalar(
            sa.text(f'SELECT count(*) FROM "{schema}".executions')  # noqa: S608  (test schema)
        )
        rows = (
            await conn.execute(
                sa.select(harness.tables.outbox.c.event_id, harness.tables.outbox.c.body).order_by(
                    harness.tables.outbox.c.id
                )
            )
        ).all()
    assert executions == 2
    assert [row.event_id for row in rows] == [e.event_id for e in written]
    assert [row.body for row in rows] == [e.model_dump_json() for e in written]


async def test_events_flow_once_and_redelivery_changes_nothing(
    harness: Harness, producer: EventProducer
) -> None:
    await harness.emit(*(f"order-{i}" for i in range(20)))
    relay = harness.relay(producer)
    consumer = harness.consumer(recording_handler(harness), group=f"g-{uuid.uuid4()}")
    async with Running(relay.run, consumer.run):
        assert await wait_until(lambda: _eq(harness.effect_count, 20), WAIT_S)
        # Redeliver everything: mark the outbox unsent, the relay publishes again.
        async with harness.engine.begin() as conn:
            await conn.execute(sa.update(harness.tables.outbox).values(published_at=None))
        assert await wait_until(lambda: _unsent_is(harness, 0), WAIT_S)
        await asyncio.sleep(1.0)
    assert await harness.effect_count() == 20


async def test_crash_before_publish_loses_nothing(
    harness: Harness, producer: EventProducer
) -> None:
    # The business transaction committed, then the process died before any publish.
    await harness.emit("order-a", "order-b", "order-c")
    assert await _unsent(harness) == 3
    consumer = harness.consumer(recording_handler(harness), group=f"g-{uuid.uuid4()}")
    async with Running(consumer.run):
        await asyncio.sleep(0.5)
        assert await harness.effect_count() == 0
        # The relay starts again ("restart") and publishes what was left behind.
        async with Running(harness.relay(producer).run):
            assert await wait_until(lambda: _eq(harness.effect_count, 3), WAIT_S)
    assert await _unsent(harness) == 0


async def test_replay_from_offset_zero_changes_nothing(
    harness: Harness, producer: EventProducer
) -> None:
    await harness.emit(*(f"order-{i}" for i in range(10)))
    handler = recording_handler(harness)
    async with Running(
        harness.relay(producer).run, harness.consumer(handler, group=f"g-{uuid.uuid4()}").run
    ):
        assert await wait_until(lambda: _eq(harness.effect_count, 10), WAIT_S)
    # A new group starts at offset 0 and reads everything again.
    replay = harness.consumer(handler, group=f"replay-{uuid.uuid4()}")
    async with Running(replay.run):
        assert await wait_until(lambda: _eq(lambda: _inbox_count(harness), 10), WAIT_S)
        await asyncio.sleep(1.5)
    assert await harness.effect_count() == 10


async def test_failing_event_is_retried_then_parked_without_blocking_other_orders(
    harness: Harness, producer: EventProducer
) -> None:
    attempts: dict[str, int] = {}
    record = recording_handler(harness)

    async def flaky(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        assert event.order_id is not None
        attempts[event.order_id] = attempts.get(event.order_id, 0) + 1
        if event.order_id == "poison":
            raise RuntimeError("cannot apply this one")
        if event.order_id == "transient" and attempts["transient"] < 2:
            raise RuntimeError("temporary")
        await record(uow, event)

    await harness.emit("poison", "transient", "healthy-1")
    await harness.emit("poison", "healthy-2")  # a later event of the poisoned order
    consumer = harness.consumer(flaky, group=f"g-{uuid.uuid4()}", max_attempts=3)
    async with Running(harness.relay(producer).run, consumer.run):
        assert await wait_until(lambda: _eq(harness.effect_count, 3), WAIT_S)
        assert await wait_until(lambda: _parked_count(harness, 2), WAIT_S)
    # each event in its own savepoint: max_attempts exactly; the second poison event:
    # blocked, never called.
    assert attempts["poison"] == 3
    assert attempts["transient"] == 2
    parked = await harness.parked()
    assert [row.order_id for row in parked] == ["poison", "poison"]
    assert "cannot apply this one" in parked[0].error
    assert "blocked behind" in parked[1].error


async def test_malformed_event_is_parked_and_consumption_goes_on(
    harness: Harness, producer: EventProducer, kafka_bootstrap: str
) -> None:
    raw = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap)
    await raw.start()
    try:
        await raw.send_and_wait(
            harness.topic, b'{"event_type": "OrderLocked", "oops": 1}', key=b"bad"
        )
        await raw.send_and_wait(harness.topic, b"\x00garbage", key=b"bad")
    finally:
        await raw.stop()
    await harness.emit("fine")
    consumer = harness.consumer(recording_handler(harness), group=f"g-{uuid.uuid4()}")
    async with Running(harness.relay(producer).run, consumer.run):
        assert await wait_until(lambda: _eq(harness.effect_count, 1), WAIT_S)
        assert await wait_until(lambda: _parked_count(harness, 2), WAIT_S)
    errors = [row.error for row in await harness.parked()]
    assert all(e.startswith("malformed event") for e in errors)


async def test_two_instances_share_partitions_and_apply_each_event_once(
    harness: Harness, producer: EventProducer
) -> None:
    seen_by: dict[str, set[str]] = {"a": set(), "b": set()}
    record = recording_handler(harness)

    def tagged(tag: str) -> EventHandler:
        async def handle(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
            seen_by[tag].add(str(event.order_id))
            await record(uow, event)

        return handle

    group = f"g-{uuid.uuid4()}"
    first = harness.consumer(tagged("a"), group=group)
    second = harness.consumer(tagged("b"), group=group)
    async with Running(first.run, second.run):
        await asyncio.sleep(3.0)  # let the group settle with two members
        await harness.emit(*(f"order-{i}" for i in range(300)))
        async with Running(harness.relay(producer).run):
            assert await wait_until(lambda: _eq(harness.effect_count, 300), WAIT_S * 2)
    assert seen_by["a"], "both instances should own partitions"
    assert seen_by["b"], "both instances should own partitions"
    assert await harness.effect_count() == 300  # primary key: no event applied twice


async def _eq(count: Callable[[], Awaitable[int]], expected: int) -> bool:
    return await count() == expected


async def _unsent(h: Harness) -> int:
    ob = h.tables.outbox
    return await h.count(sa.select(sa.func.count()).where(ob.c.published_at.is_(None)))


async def _unsent_is(h: Harness, expected: int) -> bool:
    return await _unsent(h) == expected


async def _inbox_count(h: Harness) -> int:
    return await h.count(sa.select(sa.func.count()).select_from(h.tables.inbox))


async def _parked_count(h: Harness, expected: int) -> bool:
    return len(await h.parked()) == expected


async def test_parked_order_is_redriven_in_order_and_then_flows_again(
    harness: Harness, producer: EventProducer
) -> None:
    from otd_shared.dead_letters import DeadLetterStore

    broken = {"now": True}
    record = recording_handler(harness)
    applied: list[str] = []

    async def handler(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        if broken["now"] and event.order_id == "stuck":
            raise RuntimeError("downstream bug")
        applied.append(str(event.event_id))
        await record(uow, event)

    first = await harness.emit("stuck")
    second = await harness.emit("stuck")
    consumer = harness.consumer(handler, group=f"g-{uuid.uuid4()}", max_attempts=2)
    store = DeadLetterStore(harness.sessions, harness.tables)
    handlers = {
        "test-consumer": ConsumerHandlers(
            lambda: SqlUnitOfWork(harness.sessions), {"OrderLocked": handler}
        )
    }
    async with Running(harness.relay(producer).run, consumer.run):
        assert await wait_until(lambda: _parked_count(harness, 2), WAIT_S)
        broken["now"] = False  # the bug is fixed; the operator redrives the order
        outcomes = await store.redrive_order("test-consumer", "stuck", handlers)
        assert [o.result for o in outcomes] == ["applied", "applied"]
        assert applied == [str(first[0].event_id), str(second[0].event_id)]
        # Redriving again is refused: nothing open remains.
        assert await store.redrive_order("test-consumer", "stuck", handlers) == []
        # New events of the order flow again once the consumer refreshes its blocked set.
        await harness.emit("stuck")
        assert await wait_until(lambda: _eq(harness.effect_count, 3), WAIT_S)
    letters, total = await store.page(include_resolved=True)
    assert total == 2
    assert all(letter.resolved_at is not None for letter in letters)


async def test_batch_handler_gets_runs_of_events_and_applies_each_once(
    harness: Harness, producer: EventProducer
) -> None:
    from collections.abc import Sequence

    from otd_shared.consumer import ConsumerConfig as Config

    sizes: list[int] = []

    async def bulk(uow: SqlUnitOfWork, events: Sequence[EventEnvelope]) -> None:
        sizes.append(len(events))
        await uow.session.execute(
            sa.insert(harness.effects),
            [{"event_id": e.event_id, "order_id": e.order_id} for e in events],
        )

    config = Config(name="bulk", group_id=f"g-{uuid.uuid4()}", topics=[harness.topic])
    consumer = EventConsumer(
        config,
        {},
        harness.sessions,
        harness.tables,
        harness.metrics,
        harness.kafka,
        batch_handlers={"OrderLocked": bulk},
    )
    await harness.emit(*(f"order-{i}" for i in range(200)))
    async with Running(consumer.run):
        await asyncio.wait_for(consumer.assigned.wait(), WAIT_S)
        async with Running(harness.relay(producer).run):
            assert await wait_until(lambda: _eq(harness.effect_count, 200), WAIT_S)
        # Redeliver all of them: the inbox filters every one before the batch handler.
        async with harness.engine.begin() as conn:
            await conn.execute(sa.update(harness.tables.outbox).values(published_at=None))
        async with Running(harness.relay(producer).run):
            assert await wait_until(lambda: _unsent_is(harness, 0), WAIT_S)
            await asyncio.sleep(1.0)
    assert await harness.effect_count() == 200
    assert sum(sizes) == 200
    assert max(sizes) > 1  # events really arrived in runs


async def test_failing_event_is_rolled_back_alone_inside_its_partition_batch(
    harness: Harness, producer: EventProducer
) -> None:
    """One partition's events share one unit of work; a failing event's writes (made before
    it raised) are rolled back with its savepoint, its neighbours' writes commit."""
    record = recording_handler(harness)
    uows: set[int] = set()

    async def half_done(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        uows.add(id(uow))
        await record(uow, event)  # written, then the handler fails: must not survive
        if event.order_id == "poison":
            raise RuntimeError("fails after writing")

    orders = [f"order-{i}" for i in range(40)]
    await harness.emit(*orders[:20], "poison", *orders[20:])
    consumer = harness.consumer(half_done, group=f"g-{uuid.uuid4()}", max_attempts=2)
    async with Running(consumer.run):
        await asyncio.wait_for(consumer.assigned.wait(), WAIT_S)
        async with Running(harness.relay(producer).run):
            assert await wait_until(lambda: _eq(harness.effect_count, 40), WAIT_S)
            assert await wait_until(lambda: _parked_count(harness, 1), WAIT_S)
    async with harness.sessions() as session:
        effect_orders = set(await session.scalars(sa.select(harness.effects.c.order_id)))
    assert effect_orders == set(orders)
    inbox = harness.tables.inbox
    # The parked event has no inbox row (a redrive applies it); the others all do.
    assert await _inbox_count(harness) == 40
    assert (
        await harness.count(sa.select(sa.func.count()).where(inbox.c.event_type == "OrderLocked"))
        == 40
    )
    # Fewer units of work than events: events of one partition shared one transaction.
    assert len(uows) < 41


async def test_relay_wakes_on_notify_and_runs_its_checks_on_the_safety_poll(
    harness: Harness, producer: EventProducer
) -> None:
    """With a one-minute safety poll the relay still publishes within a second of the
    commit (the outbox trigger's NOTIFY wakes it); checks run on the safety-poll tick."""
    checks: list[float] = []

    async def check() -> None:
        checks.append(asyncio.get_running_loop().time())

    def relay(safety_poll_ms: int) -> OutboxRelay:
        return OutboxRelay(
            harness.engine,
            harness.tables.outbox,
            producer,
            harness.metrics,
            batch_size=100,
            idle_sleep_ms=60_000,
            safety_poll_ms=safety_poll_ms,
            coalesce_ms=2,
            checks=[check],
        )

    async with Running(relay(60_000).run):
        await asyncio.sleep(0.5)  # the relay is idle, listening
        for round_ in range(3):
            await harness.emit(f"order-{round_}")
            assert await wait_until(lambda: _unsent_is(harness, 0), 2.0)  # not 60 s
    assert checks == []  # the safety poll never came in these few seconds
    async with Running(relay(100).run):
        assert await wait_until(lambda: _len_at_least(checks, 3), 5.0)


async def test_an_idle_consumer_stops_fetching_and_the_relays_notify_wakes_it(
    harness: Harness, producer: EventProducer
) -> None:
    """With a one-minute idle poll, an idle consumer pauses its partitions (no fetches to
    the broker) and still applies each event within about a second of its commit: the
    relay's NOTIFY otd_published (payload: the topic) wakes it."""
    wakeups = PublishedWakeups(listen_dsn(harness.engine))
    assert await wakeups.connect()
    consumer = harness.consumer(
        recording_handler(harness), group=f"g-{uuid.uuid4()}", wakeups=wakeups,
        idle_poll_ms=60_000,
    )  # fmt: skip

    async def dozing() -> bool:
        return consumer.dozing

    try:
        async with Running(harness.relay(producer).run, consumer.run):
            assert await wait_until(lambda: _event_set(consumer.assigned), WAIT_S)
            for applied in range(1, 4):
                assert await wait_until(dozing, 5.0), "idle: fetching paused"
                await harness.emit(f"order-{applied}")
                assert await wait_until(partial(_eq, harness.effect_count, applied), 3.0)
    finally:
        await wakeups.close()
    assert await harness.effect_count() == 3


async def _event_set(event: asyncio.Event) -> bool:
    return event.is_set()


async def _len_at_least(items: list[float], n: int) -> bool:
    return len(items) >= n


def _records(harness: Harness, envelopes: list[EventEnvelope]) -> list[ConsumerRecord]:
    """One partition's records of the envelopes, as a poll returns them."""
    return partition_records(envelopes, topic=harness.topic)


async def test_a_run_of_events_shares_one_savepoint_and_a_failure_is_still_retried_alone(
    harness: Harness,
) -> None:
    record = recording_handler(harness)
    calls: dict[str, int] = {}

    async def handler(uow: SqlUnitOfWork, event: EventEnvelope) -> None:
        assert event.order_id is not None
        calls[event.order_id] = calls.get(event.order_id, 0) + 1
        await record(uow, event)
        if event.order_id == "poison":
            raise RuntimeError("fails after writing")

    savepoints = [0]

    def count(_conn: object, _cursor: object, statement: str, *_: object) -> None:
        savepoints[0] += statement.startswith("SAVEPOINT")

    sync_engine = harness.engine.sync_engine
    consumer = harness.consumer(handler, group=f"g-{uuid.uuid4()}", max_attempts=3)
    healthy = [f"order-{i}" for i in range(10)]
    sa.event.listen(sync_engine, "before_cursor_execute", count)
    try:
        await consumer.process(_records(harness, await harness.emit(*healthy)))
        together = savepoints[0]
        await consumer.process(_records(harness, await harness.emit("a", "poison", "b")))
    finally:
        sa.event.remove(sync_engine, "before_cursor_execute", count)
    assert together == 1  # ten events, one savepoint
    async with harness.sessions() as session:
        applied = sorted(await session.scalars(sa.select(harness.effects.c.order_id)))
    assert applied == sorted([*healthy, "a", "b"])
    assert calls["poison"] == 3  # exactly max_attempts, the run's attempt included
    assert (calls["a"], calls["b"]) == (2, 1)  # "a" ran again after the run rolled back
    assert [row.order_id for row in await harness.parked()] == ["poison"]


async def test_types_sharing_one_batch_handler_form_one_run_and_other_handlers_split_it(
    harness: Harness,
) -> None:
    from collections.abc import Sequence

    from otd_shared.consumer import BatchEventHandler
    from otd_shared.events import EventPayload, OrderCancelled, new_envelope

    runs: list[tuple[str, list[str]]] = []

    def bulk(name: str) -> BatchEventHandler:
        async def handle(uow: object, events: Sequence[EventEnvelope]) -> None:
            runs.append((name, [e.event_type for e in events]))

        return handle

    shared, other = bulk("shared"), bulk("other")
    config = ConsumerConfig(name="mixed", group_id=f"g-{uuid.uuid4()}", topics=[harness.topic])

    def consumer(batch_handlers: dict[str, BatchEventHandler]) -> EventConsumer:
        return EventConsumer(
            config, {}, harness.sessions, harness.tables, harness.metrics, harness.kafka,
            batch_handlers=batch_handlers,
        )  # fmt: skip

    def batch() -> list[EventEnvelope]:
        locked = OrderLocked(order_id="o", locked_at=_now())
        cancelled = OrderCancelled(order_id="o", reason="r")
        payloads: list[EventPayload] = [locked, cancelled, locked, cancelled]
        return [new_envelope(p, producer="test", correlation_id="c") for p in payloads]

    both = {"OrderLocked": shared, "OrderCancelled": shared}
    await consumer(both).process(_records(harness, batch()))
    assert runs == [("shared", ["OrderLocked", "OrderCancelled"] * 2)]
    runs.clear()
    await consumer({"OrderLocked": shared, "OrderCancelled": other}).process(
        _records(harness, batch())
    )
    assert [name for name, _ in runs] == ["shared", "other", "shared", "other"]
