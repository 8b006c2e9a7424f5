"""Scale-out (issue 12): billing-service's PaymentCallback consumer through the real broker,
one consumer process against two sharing the partitions (one consumer group).

Each phase gets a fresh database with ``SCALE_OUT_ORDERS`` fund orders (made through the
order-events consumer, as the billing section does), its own topics and group (a prefix),
and its consumer processes (``python -m benchmarks.scale_out consume …``: the service's
own consumer runtime with its batch handler). Once the group has given out every partition
the phase's PaymentCallbacks are sent, keyed by order as the relay keys them, and the clock
runs until every intent billing is PAID. Figures: events/s applied, the consumer
processes' CPU per event, and what was applied twice (BillingPaid rows beyond one per
billing; inbox rows beyond one per event), goal 0; the ratio of two processes to one.

On two cores the second process competes with PostgreSQL and the first for the same CPU,
so the ratio shows what a second replica buys when this stage is the bottleneck, not what
it buys on a machine with cores to spare.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]

from benchmarks.billing import BATCH_EVENTS, _callbacks, _order_created, _paid, _record
from benchmarks.common import BenchContext, Report
from benchmarks.cpu_account import CLK_TCK, process_ticks
from otd_shared.events import EventEnvelope, Topic, topic_for
from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from otd_shared.infra import drop_database
from otd_shared.kafka import EventProducer, ensure_topics

ORDERS = int(os.environ.get("SCALE_OUT_ORDERS", "8000"))
REPLICA_COUNTS = (1, 2)
PAYMENT_CONSUMER = "billing-payment-events"
READY_TIMEOUT_S = 90.0
SETTLED_S = 2.0  # the assignment must hold this long before the events go out
DRAIN_TIMEOUT_S = 600.0
POLL_S = 0.05
PROJECT_ROOT = Path(__file__).resolve().parents[1]


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report(
        f"scale-out: billing's PaymentCallback consumer, 1 and 2 processes ({ORDERS:,} events)"
    )
    phases = {replicas: await _phase(ctx, replicas) for replicas in REPLICA_COUNTS}
    for replicas, phase in phases.items():
        label = f"{replicas} consumer process{'es' if replicas > 1 else ''}"
        report.figure(f"{label}: applied", phase.rate, "/s")
        report.figure(f"{label}: consumers' CPU per event", phase.cpu_ms_per_event, "ms")
        report.figure(f"{label}: PostgreSQL's CPU per event", phase.server_ms_per_event, "ms")
        report.figure(f"{label}: cores busy (consumers + PostgreSQL)", phase.cores, "")
        report.figure(f"{label}: applied twice", phase.doubled, "", "goal 0")
        report.lines.append(f"  {label}: partitions per process {phase.partitions}")
    one, two = (phases[n].rate for n in REPLICA_COUNTS)
    report.ratio("2 processes / 1 process (applied rate)", two / one, "> 1")
    report.lines.append(f"  load average at the end {os.getloadavg()[0]:.2f}")
    return report


@dataclass
class _Phase:
    rate: float
    cpu_ms_per_event: float
    server_ms_per_event: float
    cores: float  # consumers + PostgreSQL, in cores
    doubled: int
    partitions: list[int]


@dataclass
class _Worker:
    """One consumer process and the partition count it last reported."""

    process: asyncio.subprocess.Process
    partitions: int = 0
    expected: int = 0
    changed_at: float = field(default_factory=time.monotonic)

    async def follow(self) -> None:
        """Read the process's ``assigned N of M`` lines until it ends."""
        assert self.process.stdout is not None
        async for raw in self.process.stdout:
            words = raw.decode().split()
            if len(words) == 4 and words[0] == "assigned":
                self.partitions, self.expected = int(words[1]), int(words[3])
                self.changed_at = time.monotonic()


async def _phase(ctx: BenchContext, replicas: int) -> _Phase:
    url = await ctx.new_database()
    prefix = f"so{uuid.uuid4().hex[:10]}."
    try:
        await _seed(url)
        envelopes = await _callbacks(url)
        await ensure_topics(ctx.kafka, prefix)
        workers = [await _start(url, ctx.kafka, prefix) for _ in range(replicas)]
        followers = [asyncio.create_task(w.follow()) for w in workers]
        try:
            await _until_assigned(workers)
            cpu_before, server_before = _cpu_s(workers), await _server_cpu_s(url)
            started = time.perf_counter()
            await _send(ctx.kafka, prefix, envelopes)
            await _until_paid(url, len(envelopes))
            seconds = time.perf_counter() - started
            cpu_s = _cpu_s(workers) - cpu_before
            server_s = await _server_cpu_s(url) - server_before
            doubled = await _applied_twice(url, len(envelopes))
        finally:
            await _stop(workers)
            for follower in followers:
                follower.cancel()
    finally:
        await drop_database(ctx.pg_server_url, url)
    return _Phase(
        rate=len(envelopes) / seconds,
        cpu_ms_per_event=1000.0 * cpu_s / len(envelopes),
        server_ms_per_event=1000.0 * server_s / len(envelopes),
        cores=(cpu_s + server_s) / seconds,
        doubled=doubled,
        partitions=[w.partitions for w in workers],
    )


async def _seed(url: str) -> None:
    """Migrate and open ``ORDERS`` fund orders through the order-events consumer."""
    from billing_service.bootstrap import MIGRATIONS_DIR, build
    from billing_service.config import BillingSettings
    from otd_shared.migrations import upgrade_head_async

    await upgrade_head_async(MIGRATIONS_DIR, url, "billing")
    runtime = build(BillingSettings(database_url=url, db_pool_pre_ping=False))
    orders = runtime.build_consumer(runtime.consumers[0])
    try:
        created = [_record(_order_created(), i) for i in range(ORDERS)]
        for start in range(0, ORDERS, BATCH_EVENTS):
            await orders.process(created[start : start + BATCH_EVENTS])
    finally:
        await runtime.engine.dispose()


async def _start(url: str, kafka: str, prefix: str) -> _Worker:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "benchmarks.scale_out", "consume", url, kafka, prefix,
        stdout=asyncio.subprocess.PIPE,
        cwd=str(PROJECT_ROOT),
    )  # fmt: skip
    return _Worker(process)


async def _until_assigned(workers: Sequence[_Worker]) -> None:
    """Every partition given out, and the assignment unchanged for ``SETTLED_S``."""
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        expected = max(w.expected for w in workers)
        settled = all(time.monotonic() - w.changed_at >= SETTLED_S for w in workers)
        if expected and sum(w.partitions for w in workers) == expected and settled:
            return
        if any(w.process.returncode is not None for w in workers):
            raise RuntimeError("a consumer process ended during start-up")
        await asyncio.sleep(POLL_S)
    raise RuntimeError(f"partitions not given out: {[w.partitions for w in workers]}")


async def _send(kafka: str, prefix: str, envelopes: Sequence[EventEnvelope]) -> None:
    producer = EventProducer(kafka, enable_idempotence=False)
    await producer.start()
    try:
        topic = topic_for(Topic.PAYMENTS, prefix)
        await producer.send_many((topic, str(e.order_id), e.model_dump_json()) for e in envelopes)
    finally:
        await producer.stop()


async def _until_paid(url: str, count: int) -> None:
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    while await _paid(url) < count:
        if time.monotonic() > deadline:
            raise RuntimeError(f"only {await _paid(url)} of {count} billings PAID")
        await asyncio.sleep(POLL_S)


async def _applied_twice(url: str, events: int) -> int:
    """BillingPaid rows beyond one per PAID billing, plus the payment consumer's inbox rows
    beyond one per event."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        announced = await conn.fetchval(
            "SELECT count(*) FROM billing.outbox WHERE event_type = 'BillingPaid'"
        )
        inbox = await conn.fetchval(
            "SELECT count(*) FROM billing.inbox WHERE consumer = $1", PAYMENT_CONSUMER
        )
    finally:
        await conn.close()
    return int(announced) - events + max(0, int(inbox) - events)


def _cpu_s(workers: Sequence[_Worker]) -> float:
    return sum(_process_cpu_s(w.process.pid) for w in workers)


async def _server_cpu_s(url: str) -> float:
    """CPU so far of the PostgreSQL backends connected to the phase's database (the
    consumers' pools keep theirs for the whole phase)."""
    conn = await asyncpg.connect(url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        pids = await conn.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend' AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return sum(_process_cpu_s(pid) for (pid,) in pids)


def _process_cpu_s(pid: int) -> float:
    """utime + stime of one process (0 once it is gone)."""
    return process_ticks(pid) / CLK_TCK


async def _stop(workers: Sequence[_Worker]) -> None:
    for worker in workers:
        if worker.process.returncode is None:
            worker.process.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            await asyncio.wait_for(worker.process.wait(), timeout=30)
        except TimeoutError:
            worker.process.kill()
            await worker.process.wait()


# ---------------------------------------------------------------- consumer process side


async def _consume(url: str, kafka: str, prefix: str) -> None:
    """billing's payment consumer on the phase's topics and group until SIGTERM; prints
    ``assigned N of M`` whenever its partitions change."""
    from billing_service.bootstrap import build
    from billing_service.config import BillingSettings

    settings = BillingSettings(
        database_url=url,
        kafka_bootstrap_servers=kafka,
        kafka_topic_prefix=prefix,
        kafka_consumer_group_prefix=prefix,
        db_pool_pre_ping=False,
        log_json=False,
    )
    runtime = build(settings)
    spec = next(s for s in runtime.consumers if s.name == PAYMENT_CONSUMER)
    consumer = runtime.build_consumer(spec)
    expected = len(spec.topics) * PARTITIONS_PER_TOPIC
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    task = asyncio.create_task(consumer.run(stop))
    reported: set[Any] | None = None
    try:
        while not task.done():
            if consumer.partitions != reported:
                reported = set(consumer.partitions)
                print(f"assigned {len(reported)} of {expected}", flush=True)  # noqa: T201
            await asyncio.sleep(POLL_S)
        await task
    finally:
        with contextlib.suppress(Exception):
            await runtime.engine.dispose()


if __name__ == "__main__" and sys.argv[1:2] == ["consume"]:
    asyncio.run(_consume(*sys.argv[2:5]))
