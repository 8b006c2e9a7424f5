"""Transactional outbox: write events with the business change, publish them after.

``OutboxWriter.add`` runs inside the unit of work's transaction, so an event exists
iff its state change committed. ``OutboxRelay`` publishes unsent rows in id order
and marks them sent; a crash between commit and publish loses nothing (the relay
publishes on restart) and a crash after publish re-sends, which the consumers'
inbox absorbs. One relay per service publishes at a time (a PostgreSQL advisory
lock), so the per-order order of events is kept.

The relay sleeps until there is something to publish: a statement trigger on the outbox
(``outbox_notify_sql``) sends ``NOTIFY otd_outbox_<schema>`` at commit, the relay
LISTENs on a connection of its own and wakes at once (after ``coalesce_ms``, so a burst
goes out in a few batches, not one per transaction). A slow safety poll
(``safety_poll_ms``) covers a lost notification; while the listener is down the relay
polls every ``idle_sleep_ms``. Periodic checks (``RelayCheck``, e.g. detecting that the
broker lost messages and republishing kept rows) run on the safety-poll tick.
"""

from __future__ import annotations

import asyncio
import logging
import zlib
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, Final

import asyncpg  # type: ignore[import-untyped]
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from otd_shared.events import EventEnvelope, EventPayload, Topic, new_envelope, topic_for
from otd_shared.kafka import EventProducer
from otd_shared.observability import ServiceMetrics, current_correlation_id
from otd_shared.set_sql import arrays, insert_rows

log = logging.getLogger(__name__)

RELAY_RETRY_DELAY_S_MIN = 0.2
RELAY_RETRY_DELAY_S_MAX = 30.0
RELAY_ATTEMPTS_BEFORE_ALERT = 10
NOTIFY_CHANNEL_PREFIX = "otd_outbox_"
LISTEN_CONNECT_TIMEOUT_S = 5.0
"""A LISTEN connection attempt gives up after this (the caller polls meanwhile)."""
PUBLISHED_CHANNEL = "otd_published"
"""A relay NOTIFYs here, with the topic as payload, once a batch is on the broker."""
PG_IDENTIFIER_MAX_CHARS = 63

RelayCheck = Callable[[], Awaitable[None]]
"""A periodic relay check (run on every safety-poll tick, errors logged, never fatal)."""


def relay_lock_key(table: sa.Table) -> int:
    """The advisory lock one relay of this outbox holds for a whole batch (read, send,
    mark published); the broker-loss watch takes it to mark rows unsent between batches."""
    return zlib.crc32(f"outbox-relay:{table.fullname}".encode())


def notify_channel(schema: str | None) -> str:
    """The LISTEN/NOTIFY channel of a schema's outbox."""
    return f"{NOTIFY_CHANNEL_PREFIX}{schema or 'public'}"[:PG_IDENTIFIER_MAX_CHARS]


def outbox_notify_sql(schema: str) -> list[str]:
    """DDL (idempotent) of the statement trigger that NOTIFYs the relay on outbox inserts.

    FOR EACH STATEMENT and an empty payload: PostgreSQL folds identical notifications of
    one transaction into one, so a business transaction costs one notification at most."""
    channel = notify_channel(schema)
    function = f'"{schema}".outbox_notify'
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        f"$$ BEGIN PERFORM pg_notify('{channel}', ''); RETURN NULL; END $$",
        f'CREATE OR REPLACE TRIGGER outbox_notify AFTER INSERT ON "{schema}".outbox '
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


class PgListener:
    """LISTEN on one channel on a dedicated connection (``listening`` is False while it is
    down; ``connect`` opens it again). Subclasses react in ``on_payload``."""

    def __init__(self, dsn: str, channel: str) -> None:
        self._dsn = dsn
        self._channel = channel
        self._conn: Any = None
        self._connecting = asyncio.Lock()

    @property
    def listening(self) -> bool:
        """True while the LISTEN connection is open."""
        return self._conn is not None and not self._conn.is_closed()

    async def connect(self) -> bool:
        """(Re)open the LISTEN connection; False when the database refuses."""
        async with self._connecting:  # shared by the consumers of a process
            return self.listening or await self._connect()

    async def _connect(self) -> bool:
        try:
            self._conn = await asyncpg.connect(self._dsn, timeout=LISTEN_CONNECT_TIMEOUT_S)
            await self._conn.add_listener(self._channel, self._on_notify)
        except (OSError, TimeoutError, asyncpg.PostgresError) as exc:
            log.warning("LISTEN unavailable", extra={"channel": self._channel, "err": str(exc)})
            self._conn = None
            return False
        self.on_connected()
        return True

    def _on_notify(self, _conn: object, _pid: object, _channel: object, payload: object) -> None:
        self.on_payload(str(payload))

    def on_payload(self, payload: str) -> None:
        """A NOTIFY on the channel arrived."""

    def on_connected(self) -> None:
        """The connection is (re)opened: NOTIFYs may have been missed while it was down."""

    async def close(self) -> None:
        """Close the LISTEN connection."""
        if self._conn is not None and not self._conn.is_closed():
            await self._conn.close()
        self._conn = None


class OutboxWakeups(PgListener):
    """The relay's wake-ups: ``wait`` returns early when a NOTIFY of its outbox arrives."""

    def __init__(self, dsn: str, channel: str) -> None:
        super().__init__(dsn, channel)
        self._woken = asyncio.Event()

    def on_payload(self, payload: str) -> None:  # noqa: ARG002  (the payload is empty)
        self._woken.set()

    def on_connected(self) -> None:
        self._woken.set()  # rows may have come while nobody listened

    def clear(self) -> None:
        """Forget earlier wake-ups (called right before reading the outbox)."""
        self._woken.clear()

    async def wait_or_stop(self, stop: asyncio.Event, timeout_s: float) -> bool:
        """Wait for a NOTIFY, ``stop`` or ``timeout_s``; True when a NOTIFY came."""
        return await wait_event_or_stop(self._woken, stop, timeout_s)


async def wait_event_or_stop(event: asyncio.Event, stop: asyncio.Event, timeout_s: float) -> bool:
    """Wait until ``event`` or ``stop`` is set or ``timeout_s`` passed; True when ``event``
    is set."""
    stopping = asyncio.ensure_future(stop.wait())
    woken = asyncio.ensure_future(event.wait())
    try:
        await asyncio.wait(
            {stopping, woken}, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED
        )
    finally:
        stopping.cancel()
        woken.cancel()
    return event.is_set()


class PublishedWakeups(PgListener):
    """Consumers' wake-ups: a relay that published to a topic sends ``NOTIFY
    otd_published, '<topic>'`` when its batch is marked published (after the broker
    acknowledged it); every consumer of this process subscribed to that topic is woken.
    Works where the services share one PostgreSQL database (``make run``, the tests)."""

    def __init__(self, dsn: str) -> None:
        super().__init__(dsn, PUBLISHED_CHANNEL)
        self._events: dict[str, list[asyncio.Event]] = {}

    def subscribe(self, topics: Sequence[str]) -> asyncio.Event:
        """An event set whenever one of ``topics`` got records (and on reconnects)."""
        event = asyncio.Event()
        for topic in topics:
            self._events.setdefault(topic, []).append(event)
        return event

    def on_payload(self, payload: str) -> None:
        for event in self._events.get(payload, ()):
            event.set()

    def on_connected(self) -> None:
        for events in self._events.values():
            for event in events:
                event.set()


def listen_dsn(engine: AsyncEngine) -> str:
    """A plain libpq URL of the engine's database, for a LISTEN connection of asyncpg."""
    return engine.url.set(drivername="postgresql").render_as_string(hide_password=False)


_OUTBOX_COLUMNS: Final = ("event_id", "event_type", "topic", "partition_key", "body")


class OutboxWriter:
    """Adds events to the outbox inside the caller's transaction."""

    def __init__(self, table: sa.Table, *, producer: str, topic: Topic, topic_prefix: str) -> None:
        self._table = table
        self._producer = producer
        self._topic = topic_for(topic, topic_prefix)
        self._insert_many = insert_rows(table, _OUTBOX_COLUMNS)  # ids in the envelopes' order

    def envelope(self, payload: EventPayload) -> EventEnvelope:
        """Wrap a payload with this service as producer and the current correlation id."""
        return new_envelope(
            payload, producer=self._producer, correlation_id=current_correlation_id()
        )

    async def add(self, session: AsyncSession, *payloads: EventPayload) -> list[EventEnvelope]:
        """Write the events in the session's open transaction; returns their envelopes."""
        envelopes = [self.envelope(payload) for payload in payloads]
        await self.add_envelopes(session, envelopes)
        return envelopes

    async def add_envelopes(
        self, session: AsyncSession, envelopes: Sequence[EventEnvelope]
    ) -> None:
        """Write envelopes made with ``envelope`` (e.g. a batch's, each under its event's
        correlation id) in one statement of the session's open transaction, whatever their
        number (arrays through ``unnest``: one execution and one trigger firing, where a
        list of rows would be executed row by row)."""
        if not envelopes:
            return
        rows = [self._row(e) for e in envelopes]
        await session.execute(self._insert_many, arrays(rows, _OUTBOX_COLUMNS))

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


def _unsent_sql(table: sa.Table) -> sa.TextClause:
    """The relay's advisory lock and, when it got it, the oldest unsent rows: always one row
    (``locked``; ``id`` null when nothing is unsent)."""
    return sa.text(
        f"""SELECT l.locked, o.id, o.topic, o.partition_key, o.body
FROM (SELECT pg_try_advisory_xact_lock(:lock_key) AS locked) l
LEFT JOIN LATERAL (SELECT id, topic, partition_key, body FROM {table.fullname}
                   WHERE published_at IS NULL ORDER BY id LIMIT :limit) o ON l.locked
ORDER BY o.id"""  # noqa: S608  (our own table name)
    )


def _published_sql(table: sa.Table) -> sa.TextClause:
    """Mark the sent rows published and NOTIFY each of their topics once (delivered at the
    batch's commit: wakes the consumers of those topics, PublishedWakeups)."""
    return sa.text(
        f"""WITH marked AS (
    UPDATE {table.fullname} SET published_at = now(), attempts = attempts + 1
    WHERE id = ANY(CAST(:ids AS bigint[])) RETURNING topic)
SELECT pg_notify(:channel, topic) FROM (SELECT DISTINCT topic FROM marked) t"""  # noqa: S608
    )


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
        safety_poll_ms: int | None = None,
        coalesce_ms: int = 0,
        listen: bool = True,
        checks: Sequence[RelayCheck] = (),
    ) -> None:
        self._engine = engine
        self._table = table
        self._producer = producer
        self._metrics = metrics
        self._batch_size = batch_size
        self._idle_sleep_s = idle_sleep_ms / 1000
        self._safety_poll_s = (
            safety_poll_ms if safety_poll_ms is not None else idle_sleep_ms
        ) / 1000
        self._coalesce_s = coalesce_ms / 1000
        self._checks = list(checks)
        self._lock_key = relay_lock_key(table)
        self._unsent_sql = _unsent_sql(table)
        self._published_sql = _published_sql(table)
        self._wakeups = (
            OutboxWakeups(listen_dsn(engine), notify_channel(table.schema)) if listen else None
        )

    async def run(self, stop: asyncio.Event) -> None:
        """Publish until ``stop`` is set; back off (bounded) while Kafka fails."""
        try:
            await self._run(stop)
        finally:
            if self._wakeups is not None:
                await self._wakeups.close()

    async def _run(self, stop: asyncio.Event) -> None:
        delay_s = RELAY_RETRY_DELAY_S_MIN
        loop = asyncio.get_running_loop()
        next_check_s = loop.time() + self._safety_poll_s
        while not stop.is_set():
            if self._wakeups is not None:
                await self._wakeups.connect()
                self._wakeups.clear()
            try:
                published = await self.publish_batch()
                delay_s = RELAY_RETRY_DELAY_S_MIN
            except Exception:  # noqa: BLE001  (relay must outlive broker/db outages)
                log.exception("outbox relay batch failed; retrying in %.1fs", delay_s)
                await _sleep_or_stop(stop, delay_s)
                delay_s = min(delay_s * 2, RELAY_RETRY_DELAY_S_MAX)
                continue
            if loop.time() >= next_check_s:
                await self._run_checks()
                next_check_s = loop.time() + self._safety_poll_s
            if published < self._batch_size:
                await self._idle(stop, max(0.0, next_check_s - loop.time()))

    async def _idle(self, stop: asyncio.Event, until_check_s: float) -> None:
        """Sleep until a NOTIFY (then ``coalesce_ms`` more), the safety poll or ``stop``."""
        wakeups = self._wakeups
        if wakeups is None or not wakeups.listening:
            await _sleep_or_stop(stop, min(self._idle_sleep_s, until_check_s))
            return
        if await wakeups.wait_or_stop(stop, until_check_s) and self._coalesce_s:
            await _sleep_or_stop(stop, self._coalesce_s)

    async def _run_checks(self) -> None:
        for check in self._checks:
            try:
                await check()
            except Exception:  # noqa: BLE001  (a check never stops the relay)
                log.exception("relay check failed")

    async def publish_batch(self) -> int:
        """Publish one batch; returns how many rows were marked sent. Two statements: the
        relay's advisory lock with the unsent rows, then the marks with the consumers'
        NOTIFY (which PostgreSQL sends at the commit)."""
        async with self._engine.connect() as conn, conn.begin():
            found = (
                await conn.execute(
                    self._unsent_sql, {"lock_key": self._lock_key, "limit": self._batch_size}
                )
            ).all()
            if not found[0].locked:
                return 0
            rows = [r for r in found if r.id is not None]
            if not rows:
                self._metrics.outbox_backlog.set(0)
                return 0
            try:
                await self._producer.send_many((r.topic, r.partition_key, r.body) for r in rows)
            except Exception as exc:
                await self._record_failure([r.id for r in rows], exc)
                raise
            await conn.execute(
                self._published_sql, {"ids": [r.id for r in rows], "channel": PUBLISHED_CHANNEL}
            )
        self._metrics.outbox_published.inc(len(rows))
        self._metrics.outbox_backlog.set(len(rows))
        return len(rows)

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
