"""ledger-service's postings consumer through the real consumer runtime, without Kafka.

``EventConsumer.process`` gets one partition's records at a time (``BATCH_EVENTS``), as after
a poll: one unit of work per batch, inbox rows in one statement, one savepoint per run, one
commit. Every shape runs through three consumers in one run, each on a fresh database:

- baseline "one by one": the consumer without the ledger's batch handler (every event through
  ``LedgerEventHandlers.handle`` — accounts checked and opened, the journal posted, per
  event —, a run of them in one savepoint): the consumer before issue 12's batch handler;
- "batch, a run per type": the batch handler as one handler object per type, so the runtime
  cuts a run at every change of type (how the runtime ran it before runs by handler);
- "batch handler": the consumer as built (``LedgerEventHandlers.handle_run`` for every
  batched type: the run's accounts in two statements, its journals, lines, balances and
  JournalPosted rows in one).

Shapes: PaymentCallbacks that open a new order's deposits account (what the e2e chain sends
the ledger), PaymentCallbacks of the same orders again (accounts open), and each order's
money of four interleaved types. Figures: the consumer's CPU per event (process time; robust
on a busy machine), the CPU of the database's PostgreSQL backends per event (from /proc: a
local server), statements per run of ``BATCH_EVENTS``, events/s (wall clock), and the
journals and JournalPosted rows posted (the same in every mode, each JournalPosted with its
own event's correlation id).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import os
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg  # type: ignore[import-untyped]
from aiokafka import ConsumerRecord

from benchmarks.common import BenchContext, Report
from benchmarks.cpu_account import POSTGRES, CpuAccount
from ledger_service.adapters.tables import SCHEMA
from ledger_service.bootstrap import MIGRATIONS_DIR, build
from ledger_service.config import LedgerSettings
from otd_shared.consumer import BatchEventHandler, EventConsumer
from otd_shared.events import (
    EventEnvelope,
    EventPayload,
    LoanDisbursed,
    PaymentCallback,
    RefundRequested,
    WireReceived,
    new_envelope,
)
from otd_shared.migrations import upgrade_head_async
from otd_shared.runtime import ConsumerSpec
from otd_shared.testing.consumer_records import consumer_record, count_statements

ORDERS = int(os.environ.get("LEDGER_CONSUMER_BENCH_ORDERS", "2000"))
WARMUP_ORDERS = 200
BATCH_EVENTS = 100
TOPIC = "otd.payments"
AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)
ONE_BY_ONE, PER_TYPE, BATCHED = "one by one", "batch, a run per type", "batch handler"
MODES = (ONE_BY_ONE, PER_TYPE, BATCHED)
"""The baseline first, the consumer as built last."""
_SERIAL = itertools.count()


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


# ----------------------------------------------------------------------------- shapes


def _callback(order: str, channel: str, **extra: Any) -> PaymentCallback:
    n = next(_SERIAL)
    return PaymentCallback(
        order_id=order,
        billing_id=str(uuid.uuid4()),
        payment_id=str(uuid.uuid4()),
        channel=channel,
        method="app",
        outcome="succeeded",
        out_trade_no=f"L{n:020d}",
        channel_txn_id=f"42{n:020d}",
        amount_fen=500_000,
        completed_at=AT,
        **extra,
    )


def _first_deposits(orders: list[str]) -> list[EventPayload]:
    return [_callback(order, "wechatpay") for order in orders]


def _later_payments(orders: list[str]) -> list[EventPayload]:
    return [_callback(order, "alipay") for order in orders]


def _mixed(orders: list[str]) -> list[EventPayload]:
    """Each order's money in turn: a till payment, a loan, a matched wire, a refund asked."""
    payloads: list[EventPayload] = []
    for order in orders:
        n = next(_SERIAL)
        payloads += [
            _callback(order, "cash", store_id="S1"),
            LoanDisbursed(
                order_id=order, loan_order_id=f"L{n}", amount_fen=10_000_000,
                bank_reference=f"r{n}",
            ),
            WireReceived(
                wire_id=f"w{n}", bank_account="ICBC-001", payer_account_last4="1234",
                amount_fen=1_000_000, matched_order_id=order, received_at=AT,
            ),
            RefundRequested(
                order_id=order, billing_id="b", refund_request_id=f"rq{n}",
                amount_fen=50_000, reason="overpaid", channel="cash",
            ),
        ]  # fmt: skip
    return payloads


Shape = Callable[[list[str]], list[EventPayload]]
SHAPES: tuple[tuple[str, Shape], ...] = (
    ("PaymentCallback, first deposit of a new order", _first_deposits),
    ("PaymentCallback, later payment (accounts open)", _later_payments),
    ("mixed: till payment, loan, wire, refund asked", _mixed),
)


# ----------------------------------------------------------------------------- the run


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report("ledger-consumer: postings through the consumer runtime (no broker)")
    orders = [str(uuid.uuid4()) for _ in range(ORDERS)]
    warmup = [str(uuid.uuid4()) for _ in range(WARMUP_ORDERS)]
    outcomes = {mode: await _measure(ctx, orders, warmup, mode) for mode in MODES}
    baseline, built = outcomes[ONE_BY_ONE], outcomes[BATCHED]
    for index, (shape, _) in enumerate(SHAPES):
        events = baseline.passes[index].events
        report.lines.append(f"  {shape} ({events} events, runs of {BATCH_EVENTS})")
        for mode, outcome in outcomes.items():
            _figures(report, mode, outcome.passes[index])
        ratio = _cpu_ratio(baseline.passes[index], built.passes[index])
        report.figure("  consumer CPU, one by one / batch handler", ratio, "x")
    for mode, outcome in outcomes.items():
        note = f"{outcome.announced} JournalPosted, {outcome.correlation_ids} correlation ids"
        report.figure(f"journals posted, {mode}", float(outcome.journals), "journals", note)
    return report


def _figures(report: Report, mode: str, measured: Pass) -> None:
    report.figure(f"  {mode}: consumer CPU per event", measured.cpu_us_per_event, "µs")
    postgres = measured.postgres_us_per_event
    report.figure(f"  {mode}: PostgreSQL backends' CPU per event", postgres, "µs")
    per_run = measured.statements_per_event * BATCH_EVENTS
    report.figure(f"  {mode}: SQL statements per {BATCH_EVENTS} events", per_run, "stmts")
    report.figure(f"  {mode}: events applied (wall clock)", measured.per_s, "events/s")


def _cpu_ratio(before: Pass, after: Pass) -> float:
    return before.cpu_s / after.cpu_s if after.cpu_s else float("nan")


def _spec_for(spec: ConsumerSpec, mode: str) -> ConsumerSpec:
    """The consumer of a mode: without its batch handler, with one handler object per type
    (the runtime then cuts a run at every change of type), or as built."""
    if mode == ONE_BY_ONE:
        return dataclasses.replace(spec, batch_handlers={})
    if mode == PER_TYPE:
        own = {event_type: _own(h) for event_type, h in spec.batch_handlers.items()}
        return dataclasses.replace(spec, batch_handlers=own)
    return spec


def _own(handler: BatchEventHandler) -> BatchEventHandler:
    async def handle(uow: Any, envelopes: Sequence[EventEnvelope]) -> None:
        await handler(uow, envelopes)

    return handle


async def _measure(ctx: BenchContext, orders: list[str], warmup: list[str], mode: str) -> Outcome:
    """Every shape through one consumer on a fresh database (warmed up on other orders)."""
    url = await ctx.new_database()
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    runtime = build(_settings(url))
    (spec,) = runtime.consumers
    consumer = runtime.build_consumer(_spec_for(spec, mode))
    counter = count_statements(runtime.engine)
    passes = []
    offset = 0
    try:
        for _, shape in SHAPES:
            warm = _records(shape(warmup), offset)
            await _feed(consumer, warm)
            records = _records(shape(orders), offset + len(warm))
            offset += len(warm) + len(records)
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


def _records(payloads: list[EventPayload], offset: int) -> list[ConsumerRecord[bytes, bytes]]:
    records = []
    for n, payload in enumerate(payloads, start=offset):
        envelope = new_envelope(payload, producer="bench", correlation_id=f"bench-{n}")
        records.append(_record(envelope, n))
    return records


def _record(envelope: EventEnvelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    return consumer_record(envelope, offset, topic=TOPIC)


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
