"""Ledger: transfers per second through the API and the batch path, against baselines (issue 6).

One transfer = one journal of two legs (Dr one account / Cr another). Measured in one run:

- baseline "raw asyncpg": the same rows (one journal row, two line rows) inserted with bare
  asyncpg, one transaction per transfer, same concurrency as the API;
- baseline "plain SQL double-entry loop": per transfer, UPDATE both balances (in account order)
  and INSERT a transfer row, one transaction each, same concurrency;
- the ledger API: POST /v1/journals over HTTP (in-process ASGI: the app's full stack — auth,
  validation, idempotency, balance rows, JournalPosted outbox row), and the same command
  without HTTP (service layer);
- the batch path: POST /v1/journals/batch with BATCH_SIZE journals per request;
- each ledger path again with 30% of transfers on one hot account (a channel's clearing).

Goals: API ≥ 0.5 of raw asyncpg; batch ≥ 20,000 transfers/s; 30% hot costs < half.
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import date

import asyncpg  # type: ignore[import-untyped]

from benchmarks.common import BenchContext, Report, percentile
from ledger_service.adapters.tables import SCHEMA
from ledger_service.bootstrap import MIGRATIONS_DIR, LedgerRuntime, build
from ledger_service.config import LedgerSettings
from ledger_service.domain.journal import JournalDraft, Leg
from ledger_service.service_layer.commands import LedgerCommands
from otd_shared.infra import free_port
from otd_shared.migrations import upgrade_head_async

CONCURRENCY = 16
ACCOUNTS = 1_000
HOT_SHARE = 0.30
HOT_ACCOUNT = "clearing:wechatpay"
API_TRANSFERS = 4_000
RAW_TRANSFERS = 8_000
BATCH_SIZE = 1_000
BATCH_REQUESTS = 60
BATCH_CONCURRENCY = 2
BATCH_WARMUP_REQUESTS = 8
WARMUP_TRANSFERS = 300
DAY = date(2024, 5, 1)
TOKEN = "bench-finance-token"  # noqa: S105  (a throwaway token of the bench server)
SERVER_START_TIMEOUT_S = 30.0


@dataclass
class Run:
    """Transfers per second and latencies (seconds) of one measured path."""

    transfers: int
    elapsed_s: float
    latencies_s: list[float]

    @property
    def per_s(self) -> float:
        return self.transfers / self.elapsed_s

    def p99_ms(self) -> float:
        return percentile(self.latencies_s, 0.99) * 1000


class Transfers:
    """Random transfers between the bench accounts; `hot_share` of them touch the hot one."""

    def __init__(self, hot_share: float, seed: int) -> None:
        self._rng = random.Random(seed)  # noqa: S311  (load shape, not secrets)
        self._hot_share = hot_share

    def next(self) -> tuple[str, str, int]:
        debit, credit = self._rng.sample(range(ACCOUNTS), 2)
        pair = [f"bench:A{debit:04d}", f"bench:A{credit:04d}"]
        if self._rng.random() < self._hot_share:
            pair[self._rng.randrange(2)] = HOT_ACCOUNT
        return pair[0], pair[1], self._rng.randint(1, 10_000_000)

    def body(self) -> dict[str, object]:
        debit, credit, fen = self.next()
        return {
            "source_id": uuid.uuid4().hex,
            "business_date": DAY.isoformat(),
            "description": "bench",
            "lines": [
                {"account": debit, "debit_fen": fen, "credit_fen": 0},
                {"account": credit, "debit_fen": 0, "credit_fen": fen},
            ],
        }


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report("ledger: transfers (one journal, two legs)")
    url = await ctx.new_database()
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    await _open_accounts(url)
    raw = await _raw_asyncpg(url, RAW_TRANSFERS)
    loop = await _plain_sql_loop(url, RAW_TRANSFERS, hot_share=0.0)
    loop_hot = await _plain_sql_loop(url, RAW_TRANSFERS, hot_share=HOT_SHARE)
    async with _api_server(url) as port:
        await _api(port, WARMUP_TRANSFERS, 0.0)
        api = await _api(port, API_TRANSFERS, 0.0)
        api_hot = await _api(port, API_TRANSFERS, HOT_SHARE)
        await _batch(port, BATCH_WARMUP_REQUESTS, 0.0)
        batch = await _batch(port, BATCH_REQUESTS, 0.0)
        batch_hot = await _batch(port, BATCH_REQUESTS, HOT_SHARE)
    runtime = build(_settings(url))
    try:
        await _service(runtime, WARMUP_TRANSFERS, 0.0)
        service = await _service(runtime, API_TRANSFERS, 0.0)
        service_hot = await _service(runtime, API_TRANSFERS, HOT_SHARE)
    finally:
        await runtime.engine.dispose()

    _lines(report, "baseline: raw asyncpg insert, same rows", raw)
    _lines(report, "baseline: plain SQL double-entry loop", loop)
    _lines(report, "baseline: plain SQL loop, 30% on one account", loop_hot)
    _lines(report, "ledger posting API, in-process", service, "goal ≥ 0.5 × raw")
    _lines(report, "ledger HTTP API, POST /v1/journals", api)
    _lines(report, f"ledger batch, POST /v1/journals/batch ×{BATCH_SIZE}", batch, "goal ≥ 20,000")
    _lines(report, "ledger posting API, 30% on one hot account", service_hot)
    _lines(report, "ledger HTTP API, 30% on one hot account", api_hot)
    _lines(report, "ledger batch, 30% on one hot account", batch_hot)
    report.ratio("posting API / raw asyncpg", service.per_s / raw.per_s, "≥ 0.50")
    report.ratio("HTTP API / raw asyncpg", api.per_s / raw.per_s, "≥ 0.50")
    report.ratio("posting API hot 30% / uniform", service_hot.per_s / service.per_s, "≥ 0.50")
    report.ratio("HTTP API hot 30% / uniform", api_hot.per_s / api.per_s, "≥ 0.50")
    report.ratio("batch hot 30% / uniform", batch_hot.per_s / batch.per_s, "≥ 0.50")
    report.ratio("plain SQL loop hot 30% / uniform", loop_hot.per_s / loop.per_s, "(reference)")
    return report


def _lines(report: Report, name: str, measured: Run, goal: str = "") -> None:
    report.figure(name, measured.per_s, "xfers/s", goal)
    report.figure("  p99 latency per request", measured.p99_ms(), "ms")


def _settings(url: str) -> LedgerSettings:
    return LedgerSettings(
        database_url=url,
        auth_tokens_json=json.dumps({"finance": TOKEN}),
        kafka_bootstrap_servers="127.0.0.1:1",
        db_pool_size=CONCURRENCY,
        log_level="WARNING",
    )


async def _connect(url: str) -> asyncpg.Pool:
    return await asyncpg.create_pool(
        url.replace("postgresql+asyncpg://", "postgresql://"),
        min_size=CONCURRENCY,
        max_size=CONCURRENCY,
    )


async def _open_accounts(url: str) -> None:
    pool = await _connect(url)
    try:
        codes = [f"bench:A{n:04d}" for n in range(ACCOUNTS)]
        await pool.execute(
            "INSERT INTO ledger.accounts (code, family, owner, type, currency) "
            "SELECT c, 'bench', split_part(c, ':', 2), 'asset', 'CNY' FROM unnest($1::text[]) c",
            codes,
        )
        await pool.execute(
            "CREATE TABLE bench_balances (account text PRIMARY KEY, balance_fen bigint NOT NULL);"
            "CREATE TABLE bench_transfers (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
            " debit text NOT NULL, credit text NOT NULL, amount_fen bigint NOT NULL)"
        )
        await pool.execute(
            "INSERT INTO bench_balances SELECT c, 0 FROM unnest($1::text[]) c",
            [*codes, HOT_ACCOUNT],
        )
    finally:
        await pool.close()


async def _concurrently(count: int, workers: int, one: Callable[[int], Awaitable[None]]) -> Run:
    """Run `one(i)` for i < count on `workers` tasks; latencies of each call."""
    latencies: list[float] = []
    counter = iter(range(count))

    async def worker() -> None:
        for i in counter:
            started = time.perf_counter()
            await one(i)
            latencies.append(time.perf_counter() - started)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return Run(count, time.perf_counter() - started, latencies)


async def _raw_asyncpg(url: str, count: int) -> Run:
    """One journal row and its two lines per transaction, bare asyncpg."""
    pool = await _connect(url)
    transfers = Transfers(0.0, seed=1)
    journal_sql = (
        "INSERT INTO ledger.journals (journal_id, source_id, business_date, description,"
        " source_kind) VALUES ($1, $2, $3, 'bench', 'raw')"
    )
    lines_sql = (
        "INSERT INTO ledger.journal_lines (journal_id, line_no, account, business_date,"
        " debit_fen, credit_fen, currency) VALUES ($1, 1, $2, $4, $3, 0, 'CNY'),"
        " ($1, 2, $5, $4, 0, $3, 'CNY')"
    )

    async def one(_: int) -> None:
        debit, credit, fen = transfers.next()
        journal_id = uuid.uuid4()
        async with pool.acquire() as conn, conn.transaction():
            await conn.execute(journal_sql, journal_id, journal_id.hex, DAY)
            await conn.execute(lines_sql, journal_id, debit, fen, DAY, credit)

    try:
        return await _concurrently(count, CONCURRENCY, one)
    finally:
        await pool.execute("TRUNCATE ledger.journal_lines, ledger.journals")
        await pool.close()


async def _plain_sql_loop(url: str, count: int, *, hot_share: float) -> Run:
    """The textbook transfer: lock both balance rows in account order, update, record."""
    pool = await _connect(url)
    transfers = Transfers(hot_share, seed=2)

    async def one(_: int) -> None:
        debit, credit, fen = transfers.next()
        async with pool.acquire() as conn, conn.transaction():
            for account, delta in sorted([(debit, fen), (credit, -fen)]):
                await conn.execute(
                    "UPDATE bench_balances SET balance_fen = balance_fen + $2 WHERE account = $1",
                    account,
                    delta,
                )
            await conn.execute(
                "INSERT INTO bench_transfers (debit, credit, amount_fen) VALUES ($1, $2, $3)",
                debit,
                credit,
                fen,
            )

    try:
        return await _concurrently(count, CONCURRENCY, one)
    finally:
        await pool.close()


async def _api(port: int, count: int, hot_share: float) -> Run:
    """Single journals over HTTP, CONCURRENCY keep-alive connections, bodies built beforehand."""
    transfers = Transfers(hot_share, seed=3)
    bodies = [json.dumps(transfers.body()).encode() for _ in range(count)]
    return await _http_load(port, "/v1/journals", bodies, CONCURRENCY, expect=201)


async def _batch(port: int, requests: int, hot_share: float) -> Run:
    """BATCH_SIZE journals per request over BATCH_CONCURRENCY connections."""
    transfers = Transfers(hot_share, seed=4)
    bodies = [
        json.dumps({"journals": [transfers.body() for _ in range(BATCH_SIZE)]}).encode()
        for _ in range(requests)
    ]
    measured = await _http_load(port, "/v1/journals/batch", bodies, BATCH_CONCURRENCY, expect=200)
    return Run(requests * BATCH_SIZE, measured.elapsed_s, measured.latencies_s)


async def _http_load(
    port: int, path: str, bodies: list[bytes], connections: int, *, expect: int
) -> Run:
    clients = [await _HttpConnection.open(port) for _ in range(connections)]

    pending = iter(range(len(bodies)))
    latencies: list[float] = []

    async def worker(client: _HttpConnection) -> None:
        for i in pending:
            started = time.perf_counter()
            status = await client.post(path, bodies[i])
            latencies.append(time.perf_counter() - started)
            if status != expect:
                raise RuntimeError(f"POST {path} answered {status}")

    started = time.perf_counter()
    try:
        await asyncio.gather(*(worker(client) for client in clients))
    finally:
        for client in clients:
            client.close()
    return Run(len(bodies), time.perf_counter() - started, latencies)


class _HttpConnection:
    """A minimal HTTP/1.1 keep-alive client: the load generator must cost little CPU."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._reader = reader
        self._writer = writer

    @classmethod
    async def open(cls, port: int) -> _HttpConnection:
        reader, writer = await asyncio.open_connection("127.0.0.1", port, limit=2**24)
        return cls(reader, writer)

    async def post(self, path: str, body: bytes) -> int:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: ledger\r\nAuthorization: Bearer {TOKEN}\r\n"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        self._writer.write(head.encode() + body)
        answer = await self._reader.readuntil(b"\r\n\r\n")
        length = 0
        for line in answer.split(b"\r\n"):
            if line.lower().startswith(b"content-length:"):
                length = int(line.split(b":", 1)[1])
        await self._reader.readexactly(length)
        return int(answer[9:12])

    def close(self) -> None:
        self._writer.close()


@asynccontextmanager
async def _api_server(url: str) -> AsyncIterator[int]:
    """``python -m ledger_service api`` on a free port (one process, as deployed)."""
    port = free_port()
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "AUTH_TOKENS_JSON": json.dumps({"finance": TOKEN}),
        "HOST": "127.0.0.1",
        "PORT": str(port),
        "DB_POOL_SIZE": str(CONCURRENCY),
        "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
        "LOG_LEVEL": "WARNING",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "ledger_service", "api", env=env
    )
    try:
        deadline = time.monotonic() + SERVER_START_TIMEOUT_S
        while True:
            try:
                _, writer = await asyncio.open_connection("127.0.0.1", port)
            except OSError:
                if time.monotonic() > deadline or process.returncode is not None:
                    raise RuntimeError("the ledger API did not start") from None
                await asyncio.sleep(0.1)
                continue
            writer.close()
            break
        yield port
    finally:
        process.terminate()
        await process.wait()


async def _service(runtime: LedgerRuntime, count: int, hot_share: float) -> Run:
    commands = LedgerCommands(runtime.ledger, runtime.sessions)
    transfers = Transfers(hot_share, seed=5)

    async def one(_: int) -> None:
        debit, credit, fen = transfers.next()
        draft = JournalDraft(
            source_id=uuid.uuid4().hex,
            business_date=DAY,
            description="bench",
            legs=(Leg.debit(debit, fen), Leg.credit(credit, fen)),
        )
        result = await commands.post_journal(draft)
        if not result.created:
            raise RuntimeError("a fresh source was not created")

    return await _concurrently(count, CONCURRENCY, one)
