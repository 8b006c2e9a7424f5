"""End to end on a cluster started like ``make run``: notification → billing PAID → ledger.

The launcher starts every service (API with relay and consumers in-process, plus
``E2E_REPLICAS - 1`` extra consumer processes per service and as many extra gateway API
workers sharing its port), the broker and the console on ports of their own, on a fresh
database of the benchmark's PostgreSQL server. Then:

1. idle: the CPU of every process of the cluster (the launcher's process tree: services,
   broker, console) over ``E2E_IDLE_S`` seconds, from /proc; goal < 5 % of one core;
2. orders through ``POST /v1/orders`` until each has its payable intent billing in the
   gateway; their ``paying`` WeChat payments are inserted set-based (as the gateway
   benchmark does) and the genuine notifications signed (RSA + AEAD) ahead of time;
3. steady: ``E2E_STEADY_RATE`` notifications/s for ``E2E_STEADY_S`` s (open loop) to
   ``POST /callbacks/wechatpay``; latency from each notification's scheduled send time to
   the gateway's answer (the gateway alone), to billing's BillingPaid and to the ledger's
   JournalPosted, both seen on the broker by an observer in this process; applied rate =
   notifications / (last PAID − first send);
4. burst: ``E2E_BURST_RATE``/s for ``E2E_BURST_S`` s: every answer 2xx, every billing PAID
   exactly once (BillingPaid events and the billing table), and the time until the last.

The load generator and the observer run on the same machine as the cluster.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

import asyncpg  # type: ignore[import-untyped]
import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition

from benchmarks.common import BenchContext, Report, median, percentile
from benchmarks.cpu_account import GENERATOR, POSTGRES, CpuAccount, Row, by_label, table
from benchmarks.gateway import _Pool

IDLE_S = float(os.environ.get("E2E_IDLE_S", "60"))
STEADY_RATE = int(os.environ.get("E2E_STEADY_RATE", "500"))
STEADY_S = float(os.environ.get("E2E_STEADY_S", "20"))
BURST_RATE = int(os.environ.get("E2E_BURST_RATE", "1600"))
BURST_S = float(os.environ.get("E2E_BURST_S", "30"))
REPLICAS = int(os.environ.get("E2E_REPLICAS", "2"))
PYSPY_DIR = os.environ.get("E2E_PYSPY_DIR", "")
"""When set: every Python process of the cluster is sampled by py-spy (on PATH, not a
project dependency) during the steady phase; collapsed stacks land there, one per process."""
IDLE_GOAL_CORE_PCT = 5.0
PAID_P99_GOAL_S = 1.0
APPLIED_RATIO_GOAL = 0.95
DRAIN_GOAL_S = 120.0
IDLE_SHOWN = 0.001
"""Idle processes under 0.1 % of a core are left out of the idle breakdown."""
CPU_BUDGET_MS = 4.0
"""2 cores / 500 notifications/s: the whole chain's CPU per notification must fit this."""
DRAIN_TIMEOUT_S = 300.0
ORDER_IN_FLIGHT = 8
ORDER_ATTEMPTS = 3
"""A retried order creation may leave an extra order behind; only the answered ids count."""
LOAD_CONNECTIONS = 96
CLUSTER_START_TIMEOUT_S = 180.0
SETUP_TIMEOUT_S = 900.0
SIGNING_CHUNK = 250
PRICE_FEN = 30_000_000

Notification = tuple[dict[str, str], bytes]


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report(f"end to end on a make-run cluster ({REPLICAS} replica(s) per consumer)")
    steady_n, burst_n = int(STEADY_RATE * STEADY_S), int(BURST_RATE * BURST_S)
    with tempfile.TemporaryDirectory(prefix="otd-bench-e2e-") as tmp:
        database_url = await ctx.new_database()
        async with _cluster(Path(tmp), database_url) as cluster:
            idle_pct, idle_rates = await _idle_cpu(cluster, IDLE_S)
            print(f"e2e: idle cluster {idle_pct:.1f} % of one core", flush=True)  # noqa: T201
            report.figure(
                f"idle cluster CPU over {IDLE_S:.0f} s",
                idle_pct,
                "% of 1 core",
                f"goal < {IDLE_GOAL_CORE_PCT:.0f}",
            )
            report.lines += [
                f"    idle {name:50} {100 * rate:6.1f} % of 1 core"
                for name, rate in idle_rates.items()
                if rate >= IDLE_SHOWN
            ]
            orders = await _open_orders(cluster, steady_n + burst_n)
            payments = await _seed_payments(database_url, orders)
            notes = _sign_all(cluster.keys_dir, payments)
            traffic_before = await _event_traffic(database_url)
            steady = await _phase(
                cluster, payments[:steady_n], notes[:steady_n], STEADY_RATE, "steady"
            )
            burst = await _phase(
                cluster, payments[steady_n:], notes[steady_n:], BURST_RATE, "burst"
            )
            paid_rows = await _paid_intent_billings(database_url)
            traffic = _traffic_since(traffic_before, await _event_traffic(database_url))
    _report_steady(report, steady, idle_rates)
    _report_burst(report, burst, paid_rows, steady_n + burst_n, idle_rates)
    _report_traffic(report, traffic, steady_n + burst_n)
    return report


# ---------------------------------------------------------------- the cluster


@dataclass
class Cluster:
    """The launched cluster: URLs, tokens, keys, the launcher's pid."""

    pid: int
    urls: dict[str, str]
    kafka: str
    tokens: dict[str, str]
    keys_dir: Path
    database_url: str


@contextlib.asynccontextmanager
async def _cluster(var_dir: Path, database_url: str) -> AsyncIterator[Cluster]:
    from otd_shared.infra import free_port

    ports = {
        name: str(free_port())
        for name in (
            "ORDER_SERVICE",
            "BILLING_SERVICE",
            "PAYMENT_GATEWAY",
            "LEDGER_SERVICE",
            "RECON_SERVICE",
            "CHANNEL_SANDBOX",
            "FINANCE_CONSOLE",
        )
    }
    env = {
        **os.environ,
        **{f"OTD_PORT_{name}": port for name, port in ports.items()},
        "OTD_KAFKA_PORT": str(free_port()),
        "OTD_VAR_DIR": str(var_dir),
        "OTD_REPLICAS": str(REPLICAS),
        "DATABASE_URL": database_url,
        "LOG_LEVEL": "WARNING",
    }
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)  # the launcher starts its own broker
    log = (var_dir / "launcher.log").open("wb")  # noqa: ASYNC230  (once, at start)
    process = _spawn_launcher(env, log)
    try:
        cluster_file = var_dir / "cluster.json"
        deadline = time.monotonic() + CLUSTER_START_TIMEOUT_S
        while not cluster_file.exists():
            if process.poll() is not None or time.monotonic() > deadline:
                tail = (var_dir / "launcher.log").read_text(errors="replace")[-3000:]
                raise RuntimeError(f"cluster did not start:\n{tail}")
            await asyncio.sleep(0.5)
        info = json.loads(cluster_file.read_text())
        yield Cluster(
            pid=process.pid,
            urls=info["services"],
            kafka=info["kafka_bootstrap_servers"],
            tokens=json.loads((var_dir / "dev-tokens.json").read_text()),
            keys_dir=var_dir / "keys",
            database_url=database_url,
        )
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        log.close()


def _spawn_launcher(env: dict[str, str], log: IO[bytes]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(  # noqa: S603  (the launcher of this checkout)
        [sys.executable, "-m", "otd_launcher"],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _tree(root: int) -> list[int]:
    """The pids of ``root`` and all its descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, IndexError, ValueError):
            stat = (entry / "stat").read_text()
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


async def _idle_cpu(cluster: Cluster, seconds: float) -> tuple[float, dict[str, float]]:
    """CPU of the cluster's process tree over ``seconds`` in % of one core, and the CPU
    rate (CPU-s per s) of every process label, PostgreSQL backends included."""
    await asyncio.sleep(5.0)  # let start-up settle
    account = CpuAccount.start(_tree(cluster.pid), await _backends(cluster.database_url))
    started = time.monotonic()
    await asyncio.sleep(seconds)
    rows = account.stop()
    elapsed = time.monotonic() - started
    tree_s = sum(r.cpu_s for r in rows if r.label not in (GENERATOR, POSTGRES))
    rates = {name: cpu / elapsed for name, (_, cpu) in by_label(rows).items()}
    return 100.0 * tree_s / elapsed, rates


# ---------------------------------------------------------------- setup


async def _open_orders(cluster: Cluster, count: int) -> list[str]:
    """``count`` vehicle orders through the order API."""
    headers = {"Authorization": f"Bearer {cluster.tokens['app-backend']}"}
    body = {"customer_id": "bench", "vehicle_model": "OTD-S", "price_fen": PRICE_FEN}
    order_ids: list[str] = []
    todo = iter(range(count))
    limits = httpx.Limits(max_connections=ORDER_IN_FLIGHT)
    async with httpx.AsyncClient(
        base_url=cluster.urls["order-service"], headers=headers, timeout=30.0, limits=limits
    ) as client:

        async def create() -> str:
            for attempt in range(1, ORDER_ATTEMPTS + 1):
                try:
                    answer = await client.post("/v1/orders", json=body)
                except httpx.TransportError:  # a keep-alive connection the server closed
                    if attempt == ORDER_ATTEMPTS:
                        raise
                    continue
                answer.raise_for_status()
                return str(answer.json()["order_id"])
            raise AssertionError("unreachable")

        async def worker() -> None:
            for _ in todo:
                order_ids.append(await create())

        await asyncio.gather(*(worker() for _ in range(ORDER_IN_FLIGHT)))
    return order_ids


@dataclass(frozen=True)
class Payment:
    """A paying WeChat payment of an order's intent billing."""

    order_id: str
    out_trade_no: str
    amount_fen: int


async def _seed_payments(database_url: str, order_ids: list[str]) -> list[Payment]:
    """Wait for every order's payable intent billing, then insert its paying payment."""
    conn = await asyncpg.connect(_plain(database_url))
    try:
        deadline = time.monotonic() + SETUP_TIMEOUT_S
        while True:
            ready = await conn.fetchval(
                "SELECT count(*) FROM payment.payable_billings WHERE stage = 'intent'"
                " AND status = 'due' AND order_id = ANY($1::uuid[])",
                order_ids,
            )
            if ready == len(order_ids):
                break
            if time.monotonic() > deadline:
                raise RuntimeError(f"only {ready} of {len(order_ids)} billings became payable")
            await asyncio.sleep(1.0)
        rows = await conn.fetch(
            """
            INSERT INTO payment.payments (payment_id, out_trade_no, billing_id, order_id, stage,
                channel, method, amount_fen, currency, status, refunded_fen, pay_params,
                requested_by, created_at, updated_at, expires_at, query_attempts)
            SELECT gen_random_uuid(), 'PE2E' || lpad(n::text, 23, '0'), billing_id, order_id,
                'intent', 'wechatpay', 'app', outstanding_fen, 'CNY', 'paying', 0, '{}',
                'bench', now(), now(), now() + interval '1 hour', 0
            FROM (SELECT *, row_number() OVER (ORDER BY order_id) AS n
                  FROM payment.payable_billings
                  WHERE stage = 'intent' AND order_id = ANY($1::uuid[])) AS due
            RETURNING order_id, out_trade_no, amount_fen
            """,
            order_ids,
        )
        # Current statistics, as on a cluster that has run a while (autovacuum analyses a
        # table within a minute of this much change): plans of the empty tables at start
        # scan whole tables of thousands of rows otherwise.
        await conn.execute("ANALYZE")
    finally:
        await conn.close()
    by_order = {str(r["order_id"]): r for r in rows}
    return [
        Payment(o, by_order[o]["out_trade_no"], int(by_order[o]["amount_fen"])) for o in order_ids
    ]


def _sign_chunk(args: tuple[str, Sequence[tuple[str, int]], int]) -> list[Notification]:
    keys_dir, items, now_s = args
    from channel_sandbox.channels import wechatpay
    from channel_sandbox.channels.base import NotificationEvent
    from channel_sandbox.keys import load_channel_keys

    keys = load_channel_keys(Path(keys_dir), "wechatpay")  # the channel side signs
    signed = []
    for number, amount_fen in items:
        event = NotificationEvent(
            out_trade_no=number, channel_txn_id="42" + number[-26:], amount_fen=amount_fen
        )
        notification = wechatpay.notification(keys, event, now_s=now_s)
        signed.append((dict(notification.headers), notification.body))
    return signed


def _sign_all(keys_dir: Path, payments: list[Payment]) -> list[Notification]:
    """Genuine notifications, signed in parallel ahead of the load."""
    now_s = int(time.time())
    items = [(p.out_trade_no, p.amount_fen) for p in payments]
    chunks = [
        (str(keys_dir), items[i : i + SIGNING_CHUNK], now_s)
        for i in range(0, len(items), SIGNING_CHUNK)
    ]
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return [item for chunk in pool.map(_sign_chunk, chunks) for item in chunk]


# ---------------------------------------------------------------- a load phase


@dataclass
class Phase:
    """What one load phase measured (times in seconds, perf_counter)."""

    sent: int
    rate: int
    answers_2xx: int = 0
    ack_s: list[float] = field(default_factory=list)
    paid_s: list[float] = field(default_factory=list)
    ledger_s: list[float] = field(default_factory=list)
    paid_events: int = 0
    doubled: int = 0
    lost: int = 0
    last_paid_after_s: float = float("nan")
    send_window_s: float = 0.0
    cpu: list[Row] = field(default_factory=list)
    """CPU of every process from the first send until all were PAID and posted."""
    cpu_wall_s: float = 0.0


class _Observer:
    """Records when each order's BillingPaid and JournalPosted reach the broker."""

    def __init__(self, kafka: str) -> None:
        self._kafka = kafka
        self.paid: dict[str, list[float]] = {}
        self.posted: dict[str, float] = {}
        self._consumer: AIOKafkaConsumer | None = None
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._consumer = AIOKafkaConsumer(
            bootstrap_servers=self._kafka, enable_auto_commit=False, fetch_max_wait_ms=20
        )
        await self._consumer.start()
        partitions = [
            TopicPartition(topic, p)
            for topic in ("otd.billing", "otd.ledger")
            for p in (self._consumer.partitions_for_topic(topic) or set())
        ]
        self._consumer.assign(partitions)
        await self._consumer.seek_to_end(*partitions)
        for tp in partitions:
            await self._consumer.position(tp)
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        assert self._consumer is not None
        while True:
            batches = await self._consumer.getmany(timeout_ms=100)
            now = time.perf_counter()
            for records in batches.values():
                for record in records:
                    self._note(json.loads(record.value), now)

    def _note(self, event: dict[str, object], now: float) -> None:
        order_id = str(event.get("order_id"))
        if event.get("event_type") == "BillingPaid":
            self.paid.setdefault(order_id, []).append(now)
        elif event.get("event_type") == "JournalPosted":
            self.posted.setdefault(order_id, now)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._consumer is not None:
            await self._consumer.stop()


async def _phase(
    cluster: Cluster,
    payments: list[Payment],
    notes: list[Notification],
    rate: int,
    phase_name: str,
) -> Phase:
    """Send at ``rate``/s, then wait for every order to be PAID and posted."""
    phase = Phase(sent=len(payments), rate=rate)
    observer = _Observer(cluster.kafka)
    await observer.start()
    port = int(cluster.urls["payment-gateway"].rsplit(":", 1)[1])
    pool = await _Pool.open(port, LOAD_CONNECTIONS)
    scheduled: dict[str, float] = {}
    account = CpuAccount.start(_tree(cluster.pid), await _backends(cluster.database_url))
    samplers = _py_spy(account.labels, phase_name) if PYSPY_DIR else []
    start = time.perf_counter() + 0.2
    try:

        async def one(index: int) -> None:
            at = start + index / rate
            scheduled[payments[index].order_id] = at
            delay = at - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            if await pool.post("/callbacks/wechatpay", notes[index]):
                phase.answers_2xx += 1
            phase.ack_s.append(time.perf_counter() - at)

        await asyncio.gather(*(one(i) for i in range(len(payments))))
        phase.send_window_s = time.perf_counter() - start
        deadline = time.perf_counter() + DRAIN_TIMEOUT_S
        while time.perf_counter() < deadline:
            if all(o in observer.paid and o in observer.posted for o in scheduled):
                break
            await asyncio.sleep(0.2)
        phase.cpu = account.stop(await _backends(cluster.database_url))
        phase.cpu_wall_s = time.perf_counter() - start
        _stop_samplers(samplers)
        await asyncio.sleep(2.0)  # late duplicates would show up now
    finally:
        await pool.close()
        await observer.stop()
    _tally(phase, scheduled, observer, start)
    return phase


def _py_spy(labels: dict[int, str], phase_name: str) -> list[subprocess.Popen[bytes]]:
    """A py-spy sampler per Python service process (raw collapsed stacks, 50 Hz)."""
    out = Path(PYSPY_DIR)
    out.mkdir(parents=True, exist_ok=True)
    samplers = []
    for pid, name in labels.items():
        if not any(m in name for m in ("service", "gateway")):
            continue
        target = out / f"{phase_name}-{name.replace(' ', '_')}-{pid}.txt"
        samplers.append(
            subprocess.Popen(  # noqa: S603  (a developer's profiler, fixed arguments)
                ["py-spy", "record", "--pid", str(pid), "--rate", "50", "--nonblocking"]
                + ["--format", "raw", "--output", str(target)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    return samplers


def _stop_samplers(samplers: list[subprocess.Popen[bytes]]) -> None:
    for sampler in samplers:
        sampler.send_signal(signal.SIGINT)
    for sampler in samplers:
        try:
            sampler.wait(timeout=30)
        except subprocess.TimeoutExpired:
            sampler.kill()
            sampler.wait()


def _tally(phase: Phase, scheduled: dict[str, float], observer: _Observer, start: float) -> None:
    last = start
    for order_id, at in scheduled.items():
        paid = observer.paid.get(order_id, [])
        if not paid:
            phase.lost += 1
            continue
        phase.paid_events += len(paid)
        phase.doubled += len(paid) > 1
        phase.paid_s.append(paid[0] - at)
        last = max(last, paid[0])
        if order_id in observer.posted:
            phase.ledger_s.append(observer.posted[order_id] - at)
    phase.last_paid_after_s = last - start


async def _backends(database_url: str) -> list[int]:
    """The pids of the PostgreSQL backends connected to the cluster's database."""
    conn = await asyncpg.connect(_plain(database_url))
    try:
        rows = await conn.fetch(
            "SELECT pid FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
    finally:
        await conn.close()
    return [int(r["pid"]) for r in rows]


async def _paid_intent_billings(database_url: str) -> int:
    conn = await asyncpg.connect(_plain(database_url))
    try:
        return int(
            await conn.fetchval(
                "SELECT count(*) FROM billing.billings WHERE stage = 'intent' AND status = 'paid'"
            )
        )
    finally:
        await conn.close()


async def _event_traffic(database_url: str) -> dict[str, int]:
    """Rows so far of every schema's outbox (by event type) and inbox (by consumer)."""
    conn = await asyncpg.connect(_plain(database_url))
    try:
        schemas = [
            r["table_schema"]
            for r in await conn.fetch(
                "SELECT table_schema FROM information_schema.tables WHERE table_name = 'outbox'"
            )
        ]
        counts: dict[str, int] = {}
        for schema in schemas:
            for table, column in (("outbox", "event_type"), ("inbox", "consumer")):
                rows = await conn.fetch(
                    f"SELECT {column} AS k, count(*) AS n FROM {schema}.{table} GROUP BY 1"  # noqa: S608
                )
                counts |= {f"{schema} {table} {r['k']}": int(r["n"]) for r in rows}
        return counts
    finally:
        await conn.close()


def _traffic_since(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    """What the notifications added (retention deletes nothing within a run)."""
    grown = {k: n - before.get(k, 0) for k, n in after.items()}
    return {k: n for k, n in sorted(grown.items()) if n > 0}


def _plain(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ---------------------------------------------------------------- the report


def _report_steady(report: Report, p: Phase, idle_rates: dict[str, float]) -> None:
    applied_rate = p.sent / p.last_paid_after_s if p.last_paid_after_s > 0 else 0.0
    report.figure(f"steady: offered ({p.sent} notifications)", float(p.rate), "/s")
    report.figure("steady: applied (billing PAID)", applied_rate, "/s")
    report.ratio("steady: applied / offered", applied_rate / p.rate, f"≥ {APPLIED_RATIO_GOAL}")
    for name, values, goal in (
        ("gateway alone: notification → 2xx", p.ack_s, ""),
        ("notification → billing PAID", p.paid_s, f"p99 goal ≤ {PAID_P99_GOAL_S * 1000:.0f}"),
        ("notification → ledger posted", p.ledger_s, ""),
    ):
        report.figure(f"steady: {name} p50", median(values) * 1000, "ms")
        report.figure(f"steady: {name} p99", percentile(values, 0.99) * 1000, "ms", goal)
    report.figure(
        "steady: non-2xx answers, lost, doubled",
        float(p.sent - p.answers_2xx),
        "",
        f"lost {p.lost}, doubled {p.doubled}",
    )
    _report_cpu(report, "steady", p, idle_rates)


def _report_cpu(report: Report, name: str, p: Phase, idle_rates: dict[str, float]) -> None:
    """The CPU account: total CPU-ms per applied notification (the budget), then the table."""
    applied = len(p.paid_s)
    total_ms = sum(r.cpu_s for r in p.cpu) * 1000 / max(applied, 1)
    report.figure(
        f"{name}: CPU per applied notification, all processes",
        total_ms,
        "ms",
        f"goal ≤ {CPU_BUDGET_MS:.0f} (2 cores at 500/s)",
    )
    report.lines.append(
        f"  {name}: CPU account over {p.cpu_wall_s:.1f} s (first send → all PAID and posted),"
        f" {applied} applied; /proc utime+stime"
    )
    report.lines += table(p.cpu, applied, p.cpu_wall_s, idle_rates)


def _report_burst(
    report: Report, p: Phase, paid_rows: int, total: int, idle_rates: dict[str, float]
) -> None:
    report.figure(f"burst: offered ({p.sent} notifications)", float(p.rate), "/s")
    report.figure("burst: answered 2xx", float(p.answers_2xx), "", f"of {p.sent}")
    report.figure("burst: gateway answer p99", percentile(p.ack_s, 0.99) * 1000, "ms")
    report.figure("burst: lost (never PAID)", float(p.lost), "", "goal 0")
    report.figure("burst: doubled (PAID twice)", float(p.doubled), "", "goal 0")
    report.figure(
        "burst: last PAID after first send",
        p.last_paid_after_s,
        "s",
        f"goal ≤ {DRAIN_GOAL_S:.0f}",
    )
    report.figure("burst: notification → PAID p99", percentile(p.paid_s, 0.99), "s")
    report.figure("intent billings PAID in billing's table", float(paid_rows), "", f"of {total}")
    _report_cpu(report, "burst", p, idle_rates)


def _report_traffic(report: Report, traffic: dict[str, int], notifications: int) -> None:
    """Events written (outbox) and consumed (inbox) per notification, steady and burst."""
    per = max(notifications, 1)
    published = sum(n for k, n in traffic.items() if " outbox " in k)
    consumed = sum(n for k, n in traffic.items() if " inbox " in k)
    report.figure("events published per notification (outbox rows)", published / per, "")
    report.figure("events consumed per notification (inbox rows)", consumed / per, "")
    report.lines += [f"    {key:60} {n / per:6.2f}" for key, n in traffic.items()]
