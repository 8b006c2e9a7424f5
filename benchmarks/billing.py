"""billing-service's PaymentCallback path through the real consumer runtime, without Kafka.

``EventConsumer.process`` gets one partition's records at a time (``BATCH_EVENTS``), exactly
as after a poll: one unit of work per batch, inbox rows in one statement, the batch handler
in one savepoint (the fund orders of the run loaded under their row locks together, the
payments applied, billings PAID, then one statement per kind of row: fund orders,
billings, payments, outbox, webhooks), one commit. A run the batch handler refuses is
applied event by event (a savepoint each), as before. Figures: events/s applied, and the
statements per event and the consumer's CPU per event (robust on a busy machine, where
wall-clock rates are not). ``BENCH_PROFILE=1`` prints the cProfile of the measured part
(top functions by cumulative time), the profile docs/status.md quotes.
"""

from __future__ import annotations

import cProfile
import io
import os
import pstats
import time
import uuid
from datetime import UTC, datetime

import asyncpg  # type: ignore[import-untyped]
from aiokafka import ConsumerRecord

from benchmarks.common import BenchContext, Report
from otd_shared.events import EventEnvelope
from otd_shared.testing.consumer_records import consumer_record, count_statements

ORDERS = int(os.environ.get("BILLING_BENCH_ORDERS", "3000"))
BATCH_EVENTS = 100
PROFILE_TOP = 30
TOPIC = "otd.payments"


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    from billing_service.bootstrap import MIGRATIONS_DIR, build
    from billing_service.config import BillingSettings
    from otd_shared.migrations import upgrade_head_async

    report = Report("billing: PaymentCallback through the consumer runtime (no broker)")
    database_url = await ctx.new_database()
    await upgrade_head_async(MIGRATIONS_DIR, database_url, "billing")
    settings = BillingSettings(database_url=database_url, db_pool_pre_ping=False)
    runtime = build(settings)
    orders, payments = (runtime.build_consumer(spec) for spec in runtime.consumers)
    try:
        created = [_record(_order_created(), i) for i in range(ORDERS)]
        for start in range(0, ORDERS, BATCH_EVENTS):
            await orders.process(created[start : start + BATCH_EVENTS])
        callbacks = [_record(c, i) for i, c in enumerate(await _callbacks(database_url))]
        statements = count_statements(runtime.engine)
        profiler = cProfile.Profile() if os.environ.get("BENCH_PROFILE") else None
        started, cpu_started = time.perf_counter(), time.process_time()
        if profiler:
            profiler.enable()
        for start in range(0, len(callbacks), BATCH_EVENTS):
            await payments.process(callbacks[start : start + BATCH_EVENTS])
        if profiler:
            profiler.disable()
        elapsed = time.perf_counter() - started
        cpu_ms = (time.process_time() - cpu_started) * 1000 / len(callbacks)
        paid = await _paid(database_url)
    finally:
        await runtime.engine.dispose()
    report.figure("PaymentCallback applied (billing PAID)", len(callbacks) / elapsed, "events/s")
    report.figure("consumer CPU per event (this process)", cpu_ms, "ms", "1000/x = events/s/core")
    report.figure("SQL statements per event", statements[0] / len(callbacks), "statements")
    report.figure("intent billings PAID", float(paid), "billings", f"of {len(callbacks)}")
    if profiler:
        report.lines.append(_profile_text(profiler))
    return report


def _order_created() -> EventEnvelope:
    from otd_shared.events import OrderCreated, new_envelope

    payload = OrderCreated(
        order_id=str(uuid.uuid4()),
        customer_id="bench",
        vehicle_model="OTD-S",
        price_fen=30_000_000,
        loan_fen=0,
        fund_order_id=str(uuid.uuid4()),
    )
    return new_envelope(payload, producer="order-service", correlation_id="bench")


async def _callbacks(database_url: str) -> list[EventEnvelope]:
    from otd_shared.events import PaymentCallback, new_envelope

    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        rows = await conn.fetch(
            "SELECT order_id, billing_id, amount_fen FROM billing.billings WHERE stage='intent'"
        )
    finally:
        await conn.close()
    now = datetime.now(UTC)
    return [
        new_envelope(
            PaymentCallback(
                order_id=str(r["order_id"]),
                billing_id=str(r["billing_id"]),
                payment_id=str(uuid.uuid4()),
                channel="wechatpay",
                method="app",
                outcome="succeeded",
                out_trade_no=f"B{i:020d}",
                channel_txn_id=f"42{i:020d}",
                amount_fen=r["amount_fen"],
                completed_at=now,
            ),
            producer="payment-gateway",
            correlation_id="bench",
        )
        for i, r in enumerate(rows)
    ]


def _record(envelope: EventEnvelope, offset: int) -> ConsumerRecord[bytes, bytes]:
    return consumer_record(envelope, offset, topic=TOPIC)


async def _paid(database_url: str) -> int:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM billing.billings WHERE stage='intent' AND status='paid'"
            )
        )
    finally:
        await conn.close()


def _profile_text(profiler: cProfile.Profile) -> str:
    out = io.StringIO()
    pstats.Stats(profiler, stream=out).sort_stats("cumulative").print_stats(PROFILE_TOP)
    return out.getvalue()
