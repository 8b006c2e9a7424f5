"""Genuine signed WeChat notifications against one gateway worker (issue: payment gateway).

Both servers run as one uvicorn worker process each on loopback; the load comes from this
process with httpx:
* baseline: a bare FastAPI endpoint doing one asyncpg INSERT of the body;
* gateway: ``POST /callbacks/wechatpay`` — signature, AEAD decryption, merchant/amount/order
  checks, raw request stored, guarded UPDATE and the PaymentCallback outbox row, one commit.
Every notification settles its own ``paying`` payment (a state change, not a duplicate).
Figures: throughput with a fixed number of requests in flight, then p50/p99 latency at a steady
1,000 notifications/s (open loop: latency counts from the scheduled send time). Goals: at least
0.6 of the baseline's throughput, p99 ≤ 20 ms at 1,000/s.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import asyncpg  # type: ignore[import-untyped]
import httpx
from fastapi import FastAPI, Request, Response

from benchmarks.common import BenchContext, Report, median, percentile
from benchmarks.cpu_account import CLK_TCK, process_ticks
from otd_shared.gc_pauses import startup_objects_frozen

THROUGHPUT_REQUESTS = 4_000
IN_FLIGHT = 32
POOL_CONNECTIONS = 64
STEADY_RATE_PER_S = 1_000
STEADY_SECONDS = 4
WARMUP_REQUESTS = 300
SERVER_START_TIMEOUT_S = 30.0
REQUEST_TIMEOUT_S = 10.0
AMOUNT_FEN = 100
BASELINE_TABLE = "bench_baseline"
SIGNING_CHUNK = 250


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report("payment gateway: genuine WeChat notifications, one worker")
    total = WARMUP_REQUESTS + THROUGHPUT_REQUESTS + STEADY_RATE_PER_S * STEADY_SECONDS
    with tempfile.TemporaryDirectory(prefix="otd-bench-gw-") as tmp:
        keys_dir = Path(tmp) / "keys"
        _generate_keys(keys_dir)
        gateway_db, baseline_db = await ctx.new_database(), await ctx.new_database()
        await _migrate(gateway_db)
        out_trade_nos = await _seed_payments(gateway_db, total)
        notifications = _sign_all(keys_dir, out_trade_nos)
        await _prepare_baseline(baseline_db)
        baseline = await _measure(_baseline_server(baseline_db), "/notify", notifications)
        gateway = await _measure(
            _gateway_server(gateway_db, keys_dir, ctx.kafka), "/callbacks/wechatpay", notifications
        )
        settled = await _count_settled(gateway_db)
    report.figure("baseline: FastAPI + one asyncpg INSERT", baseline.throughput, "req/s")
    report.figure("gateway: POST /callbacks/wechatpay", gateway.throughput, "req/s")
    report.ratio("ratio to baseline", gateway.throughput / baseline.throughput, "≥ 0.60")
    for name, result in (("baseline", baseline), ("gateway", gateway)):
        report.figure(f"{name} server CPU per request", result.cpu_ms_per_request * 1000, "µs")
    report.ratio(
        "server CPU per request: baseline ÷ gateway",
        baseline.cpu_ms_per_request / gateway.cpu_ms_per_request,
        "(reference)",
    )
    for name, result in (("baseline", baseline), ("gateway", gateway)):
        rate = f"at {STEADY_RATE_PER_S}/s"
        report.figure(f"{name} p50 {rate}", result.p50_ms, "ms")
        note = "goal ≤ 20" if name == "gateway" else ""
        report.figure(f"{name} p99 {rate}", result.p99_ms, "ms", note)
        report.figure(f"{name} non-success answers", float(result.errors), "requests")
    report.figure("payments settled by the gateway", float(settled), "payments", f"of {total}")
    return report


# ---------------------------------------------------------------- preparation


def _generate_keys(keys_dir: Path) -> None:
    from payment_gateway.adapters.channels.keys import generate_dev_keys

    generate_dev_keys(keys_dir)


async def _migrate(database_url: str) -> None:
    from otd_shared.migrations import upgrade_head_async
    from payment_gateway.adapters.tables import SCHEMA
    from payment_gateway.bootstrap import MIGRATIONS_DIR

    await upgrade_head_async(MIGRATIONS_DIR, database_url, SCHEMA)


async def _seed_payments(database_url: str, count: int) -> list[str]:
    """``count`` paying WeChat payments, inserted set-based."""
    conn = await asyncpg.connect(_plain(database_url))
    try:
        await conn.execute(
            """
            INSERT INTO payment.payments (payment_id, out_trade_no, billing_id, order_id, stage,
                channel, method, amount_fen, currency, status, refunded_fen, pay_params,
                requested_by, created_at, updated_at, expires_at, query_attempts)
            SELECT gen_random_uuid(), 'PBENCH' || lpad(i::text, 21, '0'), gen_random_uuid(),
                gen_random_uuid(), 'intent', 'wechatpay', 'app', $2, 'CNY', 'paying', 0, '{}',
                'bench', now(), now(), now() + interval '1 hour', 0
            FROM generate_series(1, $1) AS i
            """,
            count,
            AMOUNT_FEN,
        )
    finally:
        await conn.close()
    return [f"PBENCH{i:021d}" for i in range(1, count + 1)]


def _sign_chunk(args: tuple[str, Sequence[str], int]) -> list[tuple[dict[str, str], bytes]]:
    keys_dir, out_trade_nos, now_s = args
    from channel_sandbox.channels import wechatpay
    from channel_sandbox.channels.base import NotificationEvent
    from channel_sandbox.keys import load_channel_keys

    keys = load_channel_keys(Path(keys_dir), "wechatpay")  # the channel side signs
    signed = []
    for number in out_trade_nos:
        event = NotificationEvent(
            out_trade_no=number, channel_txn_id="42" + number[-26:], amount_fen=AMOUNT_FEN
        )
        notification = wechatpay.notification(keys, event, now_s=now_s)
        signed.append((dict(notification.headers), notification.body))
    return signed


def _sign_all(keys_dir: Path, out_trade_nos: list[str]) -> list[tuple[dict[str, str], bytes]]:
    """Genuine notifications (AEAD-encrypted resource, RSA-signed), signed in parallel."""
    now_s = int(time.time())
    chunks = [
        (str(keys_dir), out_trade_nos[i : i + SIGNING_CHUNK], now_s)
        for i in range(0, len(out_trade_nos), SIGNING_CHUNK)
    ]
    with ProcessPoolExecutor(max_workers=max(1, os.cpu_count() or 1)) as pool:
        return [item for chunk in pool.map(_sign_chunk, chunks) for item in chunk]


async def _prepare_baseline(database_url: str) -> None:
    conn = await asyncpg.connect(_plain(database_url))
    try:
        await conn.execute(
            f"CREATE TABLE {BASELINE_TABLE} (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " received_at timestamptz NOT NULL DEFAULT now(), body bytea NOT NULL)"
        )
    finally:
        await conn.close()


async def _count_settled(database_url: str) -> int:
    conn = await asyncpg.connect(_plain(database_url))
    try:
        return int(
            await conn.fetchval("SELECT count(*) FROM payment.payments WHERE status='succeeded'")
        )
    finally:
        await conn.close()


def _plain(database_url: str) -> str:
    return database_url.replace("postgresql+asyncpg://", "postgresql://", 1)


# ---------------------------------------------------------------- servers


@dataclass(frozen=True)
class Server:
    """How to start one server process."""

    argv: list[str]
    env: dict[str, str]
    port: int


def _free_port() -> int:
    from otd_shared.infra import free_port

    return free_port()


def _baseline_server(database_url: str) -> Server:
    port = _free_port()
    env = {**os.environ, "BENCH_DATABASE_URL": _plain(database_url), "BENCH_PORT": str(port)}
    return Server([sys.executable, "-m", "benchmarks.gateway", "--baseline-server"], env, port)


def _gateway_server(database_url: str, keys_dir: Path, kafka: str) -> Server:
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "KAFKA_BOOTSTRAP_SERVERS": kafka,
        "KEYS_DIR": str(keys_dir),
        "PORT": str(port),
        "AUTH_TOKENS_JSON": json.dumps({"sre": "bench-token"}),
        "LOG_LEVEL": "WARNING",
        "DB_POOL_SIZE": "10",
        "RUN_WORKERS": "false",
    }
    return Server([sys.executable, "-m", "payment_gateway", "api"], env, port)


def _spawn(server: Server, log_path: Path) -> subprocess.Popen[bytes]:
    with log_path.open("wb") as log:
        return subprocess.Popen(  # noqa: S603  (our own server, fixed argv)
            server.argv, env=server.env, stdout=log, stderr=subprocess.STDOUT
        )


@contextlib.asynccontextmanager
async def _running(server: Server) -> AsyncIterator[int]:
    """The server's process id while it runs (ready to answer)."""
    with tempfile.TemporaryDirectory(prefix="otd-bench-server-") as tmp:
        log_path = Path(tmp) / "server.log"
        process = _spawn(server, log_path)
        url = f"http://127.0.0.1:{server.port}"
        try:
            await _wait_ready(process, url, log_path)
            yield process.pid
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


async def _wait_ready(process: subprocess.Popen[bytes], url: str, log_path: Path) -> None:
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    async with httpx.AsyncClient(timeout=1.0) as client:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                tail = log_path.read_text(errors="replace")[-2000:]  # noqa: ASYNC240  (it died)
                raise RuntimeError(f"benchmark server exited with {process.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if (await client.get(url + "/healthz")).status_code == 200:
                    return
            await asyncio.sleep(0.1)
    raise RuntimeError("benchmark server did not start")


# ---------------------------------------------------------------- load


@dataclass(frozen=True)
class Result:
    """What one server did."""

    throughput: float
    p50_ms: float
    p99_ms: float
    errors: int
    cpu_ms_per_request: float
    """The server process's own CPU (user + system) per request of the burst: what it costs,
    whatever else the machine is doing (wall-clock rates here move with the load)."""


async def _measure(
    server: Server, path: str, notifications: list[tuple[dict[str, str], bytes]]
) -> Result:
    # the generator's own full collections would count as the server's latency
    with startup_objects_frozen():
        return await _measure_frozen(server, path, notifications)


async def _measure_frozen(
    server: Server, path: str, notifications: list[tuple[dict[str, str], bytes]]
) -> Result:
    warmup = notifications[:WARMUP_REQUESTS]
    burst = notifications[WARMUP_REQUESTS : WARMUP_REQUESTS + THROUGHPUT_REQUESTS]
    steady = notifications[WARMUP_REQUESTS + THROUGHPUT_REQUESTS :]
    async with _running(server) as pid:
        pool = await _Pool.open(server.port, POOL_CONNECTIONS)
        try:
            errors = await _closed_loop(pool, path, warmup, IN_FLIGHT)
            started, ticks = time.perf_counter(), process_ticks(pid)
            errors += await _closed_loop(pool, path, burst, IN_FLIGHT)
            throughput = len(burst) / (time.perf_counter() - started)
            cpu_s = (process_ticks(pid) - ticks) / CLK_TCK
            latencies, steady_errors = await _open_loop(pool, path, steady, STEADY_RATE_PER_S)
        finally:
            await pool.close()
    return Result(
        throughput=throughput,
        p50_ms=median(latencies) * 1000,
        p99_ms=percentile(latencies, 0.99) * 1000,
        errors=errors + steady_errors,
        cpu_ms_per_request=cpu_s * 1000 / len(burst),
    )


class _Connection:
    """One keep-alive HTTP/1.1 connection speaking just enough of the protocol.

    The load generator must cost far less than the servers it measures: on our 2-core
    machines httpx spends 1–3 ms of CPU per request (measured), which would make the
    generator the bottleneck, so requests go out over plain asyncio streams.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, host: str, port: int) -> _Connection:
        reader, writer = await asyncio.open_connection(host, port)
        return cls(reader, writer)

    async def post(self, path: str, headers: dict[str, str], body: bytes) -> int:
        head = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        request = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{head}Content-Length: {len(body)}\r\n\r\n"
        ).encode()
        self._writer.write(request + body)
        await self._writer.drain()
        status_line = await self._reader.readline()
        length = 0
        while True:
            line = await self._reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value)
        if length:
            await self._reader.readexactly(length)
        return int(status_line.split()[1])

    async def close(self) -> None:
        self._writer.close()
        with contextlib.suppress(ConnectionError):
            await self._writer.wait_closed()


class _Pool:
    """A fixed set of connections handed out one request at a time."""

    def __init__(self, connections: list[_Connection]) -> None:
        self._idle: asyncio.Queue[_Connection] = asyncio.Queue()
        for connection in connections:
            self._idle.put_nowait(connection)
        self._all = connections

    @classmethod
    async def open(cls, port: int, size: int) -> _Pool:
        return cls([await _Connection.open("127.0.0.1", port) for _ in range(size)])

    async def post(self, path: str, item: tuple[dict[str, str], bytes]) -> bool:
        connection = await self._idle.get()
        try:
            status = await asyncio.wait_for(connection.post(path, *item), REQUEST_TIMEOUT_S)
        except (TimeoutError, ConnectionError, ValueError, IndexError):
            return False
        finally:
            self._idle.put_nowait(connection)
        return status in (200, 204)

    async def close(self) -> None:
        for connection in self._all:
            await connection.close()


async def _closed_loop(
    pool: _Pool,
    path: str,
    items: list[tuple[dict[str, str], bytes]],
    in_flight: int,
) -> int:
    """Send everything with ``in_flight`` requests outstanding; returns the failures."""
    queue = iter(items)
    failures = 0

    async def worker() -> None:
        nonlocal failures
        for item in _share(queue):
            if not await pool.post(path, item):
                failures += 1

    await asyncio.gather(*(worker() for _ in range(in_flight)))
    return failures


def _share(queue: Iterator[tuple[dict[str, str], bytes]]) -> Iterator[tuple[dict[str, str], bytes]]:
    yield from queue


async def _open_loop(
    pool: _Pool, path: str, items: list[tuple[dict[str, str], bytes]], rate: int
) -> tuple[list[float], int]:
    """Send at a fixed rate; latency from each request's scheduled time to its answer."""
    latencies: list[float] = []
    failures = 0
    start = time.perf_counter() + 0.05

    async def one(index: int, item: tuple[dict[str, str], bytes]) -> None:
        nonlocal failures
        scheduled = start + index / rate
        delay = scheduled - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        if not await pool.post(path, item):
            failures += 1
        latencies.append(time.perf_counter() - scheduled)

    await asyncio.gather(*(one(i, item) for i, item in enumerate(items)))
    return latencies, failures


# ---------------------------------------------------------------- the baseline server


def _baseline_app() -> FastAPI:
    pool: dict[str, asyncpg.Pool] = {}

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool["db"] = await asyncpg.create_pool(
            os.environ["BENCH_DATABASE_URL"], min_size=10, max_size=10
        )
        yield
        await pool["db"].close()

    app = FastAPI(lifespan=lifespan)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.post("/notify")
    async def notify(request: Request) -> Response:
        body = await request.body()
        await pool["db"].execute(f"INSERT INTO {BASELINE_TABLE} (body) VALUES ($1)", body)  # noqa: S608
        return Response(status_code=204)

    return app


def _serve_baseline() -> None:
    import uvicorn

    uvicorn.run(
        _baseline_app(),
        host="127.0.0.1",
        port=int(os.environ["BENCH_PORT"]),
        log_level="warning",
        access_log=False,
    )


if __name__ == "__main__" and "--baseline-server" in sys.argv:
    _serve_baseline()
