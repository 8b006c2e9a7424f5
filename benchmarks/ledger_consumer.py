"""ledger-service's postings consumer through the real consumer runtime, without Kafka.

``EventConsumer.process`` gets one partition's records at a time (``BATCH_EVENTS``), as after
a poll: one unit of work per batch, inbox rows in one statement, one savepoint per run, one
commit. Measured twice in one run, each on a fresh database with the same events:

- baseline "one by one": the consumer without the ledger's batch handler (every event through
  ``LedgerEventHandlers.handle`` — accounts checked and opened, the journal posted, per
  event —, a run of them in one savepoint): the consumer before issue 12's batch handler;
- "batch handler": the consumer as built (``LedgerEventHandlers.handle_run``: the run's
  accounts in two statements, its journals, lines, balances and JournalPosted rows in one).

Two shapes of PaymentCallback (what the e2e chain sends the ledger): a first deposit of a new
order (its deposits account opened then) and a later payment of the same orders (accounts
open). Figures: the consumer's CPU per event (process time; robust on a busy machine), the
CPU of the database's PostgreSQL backends per event (from /proc: a local server),
statements per run of ``BATCH_EVENTS``, events/s (wall clock), and the journals and
JournalPosted rows posted (the same in both modes, each JournalPosted with its own event's
correlation id).
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
from aiokafka import ConsumerRecord
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from benchmarks.common import BenchContext, Report
from benchmarks.cpu_account import POSTGRES, CpuAccount
from ledger_service.adapters.tables import SCHEMA
from ledger_service.bootstrap import MIGRATIONS_DIR, build
from ledger_service.config import LedgerSettings
from otd_shared.consumer import EventConsumer
from otd_shared.events import EventEnvelope, PaymentCallback, new_envelope
from otd_shared.migrations import upgrade_head_async

ORDERS = int(os.environ.get("LEDGER_CONSUMER_BENCH_ORDERS", "2000"))
WARMUP_ORDERS = 200
BATCH_EVENTS = 100
TOPIC = "otd.payments"
SHAPES = (("first deposit, new order", "wechatpay"), ("later payment, accounts open", "alipay"))


@dataclass(frozen=True)
class Pass:
    """What one shape cost one consumer."""

    events: int
    elapsed_s: float
    cpu_s: float
    postgres_cpu_s: float
    statements: int

    @property
    def cpu_us_per_event(self) -> float:
        return self.cpu_s * 1_000_000 / self.events

    @property
    def postgres_us_per_event(self) -> float:
        return self.postgres_cpu_s * 1_000_000 / self.events

    @property
    def statements_per_event(self) -> float:
        return self.statements / self.events

    @property
    def per_s(self) -> float:
        return self.events / self.elapsed_s


@dataclass(frozen=True)
class Outcome:
    """One mode's passes (by shape) and what it posted."""

    passes: list[Pass]
    journals: int
    announced: int
    correlation_ids: int


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report("ledger-consumer: PaymentCallback postings through the consumer runtime")
    orders = [str(uuid.uuid4()) for _ in range(ORDERS)]
    warmup = [str(uuid.uuid4()) for _ in range(WARMUP_ORDERS)]
    one = await _measure(ctx, orders, warmup, batched=False)
    batch = await _measure(ctx, orders, warmup, batched=True)
    for (shape, _), before, after in zip(SHAPES, one.passes, batch.passes, strict=True):
        report.lines.append(f"  {shape} ({before.events} events, runs of {BATCH_EVENTS})")
        _figures(report, "one by one (baseline)", before)
        _figures(report, "batch handler", after)
        report.figure("  consumer CPU, one by one / batch", _cpu_ratio(before, after), "x")
    for name, outcome in (("one by one", one), ("batch handler", batch)):
        note = f"{outcome.announced} JournalPosted, {outcome.correlation_ids} correlation ids"
        report.figure(f"journals posted, {name}", float(outcome.journals), "journals", note)
    return report


def _figures(report: Report, mode: str, measured: Pass) -> None:
    report.figure(f"  {mode}: consumer CPU per event", measured.cpu_us_per_event, "µs")
    report.figure(
        f"  {mode}: PostgreSQL backends' CPU per event", measured.postgres_us_per_event, "µs"
    )
    per_run = measured.statements_per_event * BATCH_EVENTS
    report.figure(f"  {mode}: SQL statements per {BATCH_EVENTS} events", per_run, "stmts")
    report.figure(f"  {mode}: events applied (wall clock)", measured.per_s, "events/s")


def _cpu_ratio(before: Pass, after: Pass) -> float:
    return before.cpu_s / after.cpu_s if after.cpu_s else float("nan")


async def _measure(
    ctx: BenchContext, orders: list[str], warmup: list[str], *, batched: bool
) -> Outcome:
    """Both shapes through one consumer on a fresh database (warmed up on other orders)."""
    url = await ctx.new_database()
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    runtime = build(_settings(url))
    (spec,) = runtime.consumers
    if not batched:
        spec = dataclasses.replace(spec, batch_handlers={})
    consumer = runtime.build_consumer(spec)
    counter = _count_statements(runtime.engine)
    passes = []
    offset = 0
    try:
        for _, channel in SHAPES:
            await _feed(consumer, _records(warmup, channel, offset))
            offset += len(warmup)
            records = _records(orders, channel, offset)
            offset += len(records)
            passes.append(await _pass(consumer, records, counter, url))
    finally:
        await runtime.engine.dispose()
    journals, announced, correlation_ids = await _posted(url)
    return Outcome(passes, journals, announced, correlation_ids)


async def _pass(
    consumer: EventConsumer,
    records: list[ConsumerRecord[bytes, bytes]],
    counter: list[int],
    url: str,
) -> Pass:
    """Feed the records; the consumer's and its database backends' CPU, statements."""
    counter[0] = 0
    backends = CpuAccount.start((), await _backends(url))
    started, cpu_started = time.perf_counter(), time.process_time()
    await _feed(consumer, records)
    cpu_s, elapsed_s = time.process_time() - cpu_started, time.perf_counter() - started
    rows = backends.stop(await _backends(url))
    postgres_s = sum(row.cpu_s for row in rows if row.label == POSTGRES)
    return Pass(len(records), elapsed_s, cpu_s, postgres_s, counter[0])


async def _backends(url: str) -> list[int]:
    """The client backends of the database (local server: their CPU is read from /proc)."""
    conn = await asyncpg.connect(_plain(url))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(row["pid"]) for row in rows]


def _plain(url: str) -> str:
    return url.replace("postgresql+asyncpg://", "postgresql://")


async def _feed(consumer: EventConsumer, records: list[ConsumerRecord[bytes, bytes]]) -> None:
    for start in range(0, len(records), BATCH_EVENTS):
        await consumer.process(records[start : start + BATCH_EVENTS])


def _settings(url: str) -> LedgerSettings:
    return LedgerSettings(
        database_url=url,
        kafka_bootstrap_servers="127.0.0.1:1",
        db_pool_pre_ping=False,
        log_level="WARNING",
    )


def _records(orders: list[str], channel: str, offset: int) -> list[ConsumerRecord[bytes, bytes]]:
    now = datetime.now(UTC)
    return [
        _record(_callback(order, channel, now, offset + n), offset + n)
        for n, order in enumerate(orders)
    ]


def _callback(order: str, channel: str, at: datetime, n: int) -> EventEnvelope:
    payload = PaymentCallback(
        order_id=order,
        billing_id=str(uuid.uuid4()),
        payment_id=str(uuid.uuid4()),
        channel=channel,
        method="app",
        outcome="succeeded",
        out_trade_no=f"L{n:020d}",
        channel_txn_id=f"42{n:020d}",
        amount_fen=500_000,
        completed_at=at,
    )
    return new_envelope(payload, producer="payment-gateway", correlation_id=f"bench-{n}")


def _record(envelope: EventEnvelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    value = envelope.model_dump_json().encode()
    return ConsumerRecord(
        topic=TOPIC,
        partition=0,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=[],
    )


def _count_statements(engine: AsyncEngine) -> list[int]:
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    return counter


async def _posted(url: str) -> tuple[int, int, int]:
    """Journals, JournalPosted rows and distinct correlation ids among those rows."""
    conn = await asyncpg.connect(_plain(url))
    try:
        journals = int(await conn.fetchval("SELECT count(*) FROM ledger.journals"))
        bodies = await conn.fetch(
            "SELECT body FROM ledger.outbox WHERE event_type = 'JournalPosted'"
        )
    finally:
        await conn.close()
    correlation_ids = {json.loads(row["body"])["correlation_id"] for row in bodies}
    return journals, len(bodies), len(correlation_ids)
