"""recon end to end (issue 11): a generated WeChat trade bill of ``BILL_LINES`` lines parsed,
loaded (COPY in the upload's transaction), matched against as many internal records and the
results persisted — next to a baseline in the same run: COPY of the same normalised lines
into a table of the same shape. Each side runs in its own process, so its peak RSS is its
own. Goals: ≤ 10 s and ≤ 512 MB RSS for 1,000,000 lines; re-running the day ≤ the first run,
shown twice: with nothing changed (the day's current run answers) and after one record
changed (the day is redone in full).

Then a day of all seven sources (``RECON_BENCH_DAY_LINES`` lines in total, 3,000,000 by
default, split evenly; each source's file in its own layout): every statement uploaded and
its day reconciled, in the processing order, then the whole day re-run. Goals: ≤ 60 s for
the day; the re-run ≤ the first run. Each part runs in a fresh database (dropped after).

``RECON_BENCH_LINES`` / ``RECON_BENCH_DAY_LINES`` override the sizes (a quick look: 50000);
``0`` skips that part.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from benchmarks.common import BenchContext, Report
from otd_shared.infra import drop_database
from otd_shared.statement_files import Txn, write_wechat_bill

BILL_LINES: Final = int(os.environ.get("RECON_BENCH_LINES", "1000000"))
DAY_LINES: Final = int(os.environ.get("RECON_BENCH_DAY_LINES", "3000000"))
DAY: Final = date(2031, 12, 1)
GOAL_S: Final = 10.0
GOAL_DAY_S: Final = 60.0
GOAL_RSS_MB: Final = 512
RECORDS_BATCH: Final = 50_000
RECORD_COLUMNS: Final = ["kind", "ref_id", "payment_id", "order_id", "billing_id", "channel",
                         "method", "status", "out_trade_no", "channel_txn_id", "amount_fen",
                         "completed_at", "business_date", "event_id"]  # fmt: skip
WORKER_TIMEOUT_S: Final = 1_800
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def txns(count: int) -> Iterator[Txn]:
    """The bill's payments, spread over the day."""
    start = datetime(2031, 11, 30, 16, 0, tzinfo=UTC)  # 00:00 in Shanghai
    for n in range(count):
        yield Txn(
            out_trade_no=f"B{n:020d}",
            channel_txn_id=f"4200{n:024d}",
            amount_fen=1_000 + n % 97_000,
            at=start + timedelta(seconds=n * 86_000 // count),
            fee_fen=6,
        )


def source_txns(source_no: int, count: int) -> Iterator[Txn]:
    """One source's payments of the day, in the id shapes every layout accepts."""
    start = datetime(2031, 11, 30, 16, 0, tzinfo=UTC)
    for n in range(count):
        yield Txn(
            out_trade_no=f"P2412{source_no:02d}{n:020d}",
            channel_txn_id=f"4{source_no:06d}{n:014d}",
            amount_fen=1_000 + n % 97_000,
            at=start + timedelta(seconds=n * 86_000 // count),
            fee_fen=0,
        )


def day_sources() -> list[str]:
    """The seven statement sources in their processing order."""
    from recon_service.domain.statement import sources_in_processing_order

    return [str(s) for s in sources_in_processing_order()]


def write_day_files(folder: Path, total: int) -> dict[str, str]:
    """Each source's statement of the day in its own layout; source → path."""
    from otd_shared import statement_files as files

    builders: dict[str, Callable[[list[Txn]], bytes]] = {
        "wechatpay": files.wechat_bill,
        "alipay": lambda t: files.alipay_zip(t, DAY),
        "lakala": files.lakala_csv,
        "unionpay": files.unionpay_zm,
        "allinpay": files.allinpay_csv,
        "cash": lambda t: files.cash_csv(t, DAY),
        "wire": lambda t: files.wire_csv(t, DAY),
    }
    sources = day_sources()
    paths: dict[str, str] = {}
    for no, source in enumerate(sources):
        path = folder / f"{source}.statement"
        path.write_bytes(builders[source](list(source_txns(no, total // len(sources)))))
        paths[source] = str(path)
    return paths


async def run(ctx: BenchContext) -> Report:
    """Run the section and return its report."""
    report = Report(f"recon: WeChat bill of {BILL_LINES:,} lines, parse → load → match → persist")
    if BILL_LINES > 0:
        await _one_bill(ctx, report)
    if DAY_LINES > 0:
        await _seven_sources(ctx, report)
    return report


async def _one_bill(ctx: BenchContext, report: Report) -> None:
    url = await ctx.new_database()
    try:
        with tempfile.TemporaryDirectory(prefix="otd-recon-bench-") as tmp:
            bill = str(Path(tmp) / "bill.csv")
            write_wechat_bill(bill, txns(BILL_LINES))
            _worker("setup", url, bill)
            baseline = _worker("baseline", url, bill)
            first = _worker("recon", url, bill)
            again = _worker("rerun", url, bill)
            redone = _worker("redo", url, bill)
    finally:
        await drop_database(ctx.pg_server_url, url)
    report.figure("baseline: COPY of the normalised lines", baseline["seconds"], "s")
    report.figure("baseline peak RSS", baseline["rss_mb"], "MB")
    report.figure("upload (parse + COPY + statement)", first["load_s"], "s")
    report.figure("reconciliation run (match + persist)", first["run_s"], "s")
    report.figure("end to end", first["seconds"], "s", f"goal ≤ {GOAL_S:g}")
    report.figure("end to end peak RSS", first["rss_mb"], "MB", f"goal ≤ {GOAL_RSS_MB}")
    report.figure("end to end: the worker's CPU (parse, COPY)", first["cpu_s"], "s")
    report.figure("upload: the server's CPU (COPY, checks)", first["load_server_cpu_s"], "s")
    report.figure("end to end: the server's CPU", first["server_cpu_s"], "s")
    report.figure("peak RSS by the end of the upload", first["load_rss_mb"], "MB")
    report.ratio("end to end / baseline", first["seconds"] / baseline["seconds"], "(figure)")
    report.figure("re-run, nothing changed (answers the current run)", again["run_s"], "s",
                  "goal ≤ the first run")  # fmt: skip
    report.figure("re-run after one record changed (redone)", redone["run_s"], "s",
                  "goal ≤ the first run")  # fmt: skip
    report.figure("re-run after a change: the server's CPU", redone["server_cpu_s"], "s")
    report.lines.append(f"  counts {json.dumps(first['counts'], sort_keys=True)}")
    report.lines.append(f"  load average at the end {first['uptime_load']:.2f}")


async def _seven_sources(ctx: BenchContext, report: Report) -> None:
    url = await ctx.new_database()
    try:
        with tempfile.TemporaryDirectory(prefix="otd-recon-day-") as tmp:
            manifest = Path(tmp) / "day.json"
            manifest.write_text(json.dumps(write_day_files(Path(tmp), DAY_LINES)))
            _worker("setup-day", url, str(manifest))
            first = _worker("day", url, str(manifest))
            again = _worker("day-rerun", url, str(manifest))
            redone = _worker("day-redo", url, str(manifest))
    finally:
        await drop_database(ctx.pg_server_url, url)
    lines = DAY_LINES // 7 * 7
    report.lines.append(f"  -- a day of all seven sources, {lines:,} lines in total")
    report.figure("day: uploads (parse + COPY + statement)", first["load_s"], "s")
    report.figure("day: reconciliation runs", first["run_s"], "s")
    report.figure("day: end to end", first["seconds"], "s", f"goal ≤ {GOAL_DAY_S:g}")
    report.figure("day: end to end peak RSS", first["rss_mb"], "MB")
    report.figure("day: the worker's CPU (parse, COPY)", first["cpu_s"], "s")
    report.figure("day: the server's CPU", first["server_cpu_s"], "s")
    report.figure("day: re-run of every source, nothing changed", again["run_s"], "s",
                  "goal ≤ the first run")  # fmt: skip
    report.figure("day: re-run after one record of each source changed", redone["run_s"], "s",
                  "goal ≤ the first run")  # fmt: skip
    report.figure("day: re-run after a change, the server's CPU", redone["server_cpu_s"], "s")
    for name, part in first["sources"].items():
        report.lines.append(f"  {name}: {json.dumps(part, sort_keys=True)}")
    for name, part in redone["sources"].items():
        report.lines.append(f"  re-run after a change {name}: {json.dumps(part, sort_keys=True)}")
    report.lines.append(f"  autovacuum, autoanalyze after the first run {first['autovacuum']}")
    report.lines.append(f"  … and after the re-runs {redone['autovacuum']}")
    report.lines.append(f"  day counts {json.dumps(first['counts'], sort_keys=True)}")
    report.lines.append(f"  load average at the end {first['uptime_load']:.2f}")


def _worker(step: str, url: str, bill: str) -> dict[str, Any]:
    """One step in a fresh process (its own peak RSS); its JSON answer."""
    done = subprocess.run(  # noqa: S603  (our own module)
        [sys.executable, "-m", "benchmarks.recon", step, url, bill],
        check=True,
        capture_output=True,
        text=True,
        timeout=WORKER_TIMEOUT_S,
    )
    answer: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return answer


# ---------------------------------------------------------------- worker side


def _runtime(url: str) -> Any:
    from pydantic import SecretStr

    from recon_service.bootstrap import ENTRY
    from recon_service.config import ReconSettings

    settings = ReconSettings(
        database_url=SecretStr(url),
        auth_tokens_json=SecretStr(json.dumps({"finance": "bench-token"})),
        daily_job_enabled=False,
        log_json=False,
        statement_max_file_bytes=2**31,
        statement_max_lines=5_000_000,
        statement_max_parse_s=3_600,
        statement_copy_batch_lines=20_000,
    )
    return ENTRY.build_runtime(settings), settings


async def _setup(url: str) -> dict[str, Any]:
    """Migrate, and the internal records the bill's lines pair with."""
    from otd_shared.migrations import upgrade_head_async
    from recon_service.adapters.tables import SCHEMA
    from recon_service.bootstrap import MIGRATIONS_DIR

    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    await _copy_records(url, (_record("wechatpay", t) for t in txns(BILL_LINES)))
    return {}


async def _baseline(url: str, bill: str) -> dict[str, Any]:
    """COPY of the same normalised lines (parsed up front, not timed) into a plain table."""
    from recon_service.adapters.statement_repo import line_row
    from recon_service.adapters.statements import ParseContext, parse_statement
    from recon_service.adapters.tables import SCHEMA
    from recon_service.domain.statement import Source

    runtime, settings = _runtime(url)
    statement_id = uuid.uuid4()
    with open(bill, "rb") as stream:  # noqa: PTH123, ASYNC230  (the bench worker)
        ctx = ParseContext(Source.WECHATPAY, settings.statement_limits(), given_date=DAY)
        rows = [line_row(statement_id, line) for line in parse_statement(stream, ctx)]
    try:
        async with runtime.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            await raw.execute(
                f"CREATE TABLE IF NOT EXISTS {SCHEMA}.bench_lines "  # noqa: S608
                f"(LIKE {SCHEMA}.statement_lines)"
            )
            started = time.perf_counter()
            await raw.copy_records_to_table("bench_lines", schema_name=SCHEMA, records=rows)
            seconds = time.perf_counter() - started
    finally:
        await runtime.engine.dispose()
    return {"seconds": seconds}


async def _recon(url: str, bill: str) -> dict[str, Any]:
    """Upload the bill (as the API does) and reconcile the day."""
    from recon_service.domain.statement import Source
    from recon_service.service_layer.runs import run_recon
    from recon_service.service_layer.statements import StatementUpload, load_statement
    from recon_service.service_layer.unit_of_work import ReconUnitOfWork

    runtime, settings = _runtime(url)
    try:
        started = time.perf_counter()
        with open(bill, "rb") as stream:  # noqa: PTH123, ASYNC230  (the bench worker)
            await load_statement(
                ReconUnitOfWork(runtime.sessions, runtime.outbox),
                StatementUpload(
                    source=Source.WECHATPAY,
                    stream=stream,
                    filename="bill.csv",
                    statement_date=DAY,
                    loaded_by="bench",
                ),  # fmt: skip
                settings.statement_limits(),
                batch_lines=settings.statement_copy_batch_lines,
            )
        loaded = time.perf_counter()
        load_rss = _rss_mb()
        load_server = await _server_cpu_s(runtime)
        run = await run_recon(
            ReconUnitOfWork(runtime.sessions, runtime.outbox), Source.WECHATPAY, DAY,
            settings.recon_policy(), requested_by="bench",
        )  # fmt: skip
        finished = time.perf_counter()
        server = await _server_cpu_s(runtime)
    finally:
        await runtime.engine.dispose()
    return {
        "load_s": loaded - started,
        "run_s": finished - loaded,
        "seconds": finished - started,
        "counts": run.counts,
        "load_rss_mb": load_rss,
        "load_server_cpu_s": load_server,
        "server_cpu_s": server,
    }


async def _rerun(url: str, *, change: bool) -> dict[str, Any]:
    """Re-run the bill's day: as it is (``change`` false: the current run answers) or after
    one of its records changed (the day is redone)."""
    from recon_service.domain.statement import Source
    from recon_service.service_layer.runs import run_recon
    from recon_service.service_layer.unit_of_work import ReconUnitOfWork

    runtime, settings = _runtime(url)
    try:
        if change:
            await _touch_one_record(runtime, "wechatpay")
        started = time.perf_counter()
        await run_recon(
            ReconUnitOfWork(runtime.sessions, runtime.outbox), Source.WECHATPAY, DAY,
            settings.recon_policy(), requested_by="bench",
        )  # fmt: skip
        run_s = time.perf_counter() - started
        return {"run_s": run_s, "server_cpu_s": await _server_cpu_s(runtime)}
    finally:
        await runtime.engine.dispose()


async def _touch_one_record(runtime: Any, channel: str) -> None:
    """A new row version of one of the channel's records (same figures): what a run read
    has changed, so the next run is redone in full."""
    from recon_service.adapters.tables import SCHEMA

    async with runtime.engine.begin() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        await raw.execute(
            f"UPDATE {SCHEMA}.internal_records SET updated_at = now()"  # noqa: S608
            f" WHERE (kind, ref_id) = (SELECT kind, ref_id FROM {SCHEMA}.internal_records"
            " WHERE channel = $1 LIMIT 1)",
            channel,
        )


async def _copy_records(url: str, rows: Iterator[tuple[Any, ...]]) -> None:
    """COPY internal records (``RECORD_COLUMNS``) in batches."""
    from recon_service.adapters.tables import SCHEMA

    runtime, _ = _runtime(url)
    try:
        async with runtime.engine.connect() as conn:
            raw = (await conn.get_raw_connection()).driver_connection
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(row)
                if len(batch) >= RECORDS_BATCH:
                    await raw.copy_records_to_table(
                        "internal_records", schema_name=SCHEMA, columns=RECORD_COLUMNS,
                        records=batch,
                    )  # fmt: skip
                    batch = []
            if batch:
                await raw.copy_records_to_table(
                    "internal_records", schema_name=SCHEMA, columns=RECORD_COLUMNS, records=batch
                )
    finally:
        await runtime.engine.dispose()


def _record(channel: str, t: Txn) -> tuple[Any, ...]:
    ref = f"pay-{channel}-{t.out_trade_no}"
    return ("payment", ref, ref, f"o-{ref}", f"b-{ref}", channel, "app", "succeeded",
            t.out_trade_no, t.channel_txn_id, t.amount_fen, t.at, DAY, uuid.uuid4())  # fmt: skip


async def _setup_day(url: str) -> dict[str, Any]:
    """Migrate, and the internal records every source's lines pair with."""
    from otd_shared.migrations import upgrade_head_async
    from recon_service.adapters.tables import SCHEMA
    from recon_service.bootstrap import MIGRATIONS_DIR

    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    sources = day_sources()
    per_source = DAY_LINES // len(sources)
    rows = (
        _record(source, t) for no, source in enumerate(sources) for t in source_txns(no, per_source)
    )
    await _copy_records(url, rows)
    return {}


async def _day(url: str, manifest: str, *, load: bool, change: bool = False) -> dict[str, Any]:
    """Upload every source's statement (when ``load``) and reconcile each source's day
    (after one of the source's records changed, when ``change``)."""
    from recon_service.domain.statement import Source
    from recon_service.service_layer.runs import run_recon
    from recon_service.service_layer.statements import StatementUpload, load_statement
    from recon_service.service_layer.unit_of_work import ReconUnitOfWork

    paths: dict[str, str] = json.loads(Path(manifest).read_text())  # noqa: ASYNC240  (bench)
    runtime, settings = _runtime(url)
    load_s = run_s = 0.0
    counts: dict[str, int] = {}
    per_source: dict[str, dict[str, float]] = {}
    try:
        for name in day_sources():
            cpu = _cpu_s()
            source = Source(name)
            started = time.perf_counter()
            if load:
                with open(paths[name], "rb") as stream:  # noqa: PTH123, ASYNC230  (bench worker)
                    await load_statement(
                        ReconUnitOfWork(runtime.sessions, runtime.outbox),
                        StatementUpload(source=source, stream=stream, filename=name,
                                        statement_date=DAY, loaded_by="bench"),
                        settings.statement_limits(),
                        batch_lines=settings.statement_copy_batch_lines,
                    )  # fmt: skip
            loaded = time.perf_counter()
            load_cpu = _cpu_s() - cpu
            if change:
                await _touch_one_record(runtime, name)
                loaded = time.perf_counter()
            server_before = await _server_cpu_s(runtime)
            run = await run_recon(
                ReconUnitOfWork(runtime.sessions, runtime.outbox), source, DAY,
                settings.recon_policy(), requested_by="bench",
            )  # fmt: skip
            load_s += loaded - started
            run_s += time.perf_counter() - loaded
            per_source[name] = {
                "load_s": round(loaded - started, 2),
                "load_cpu_s": round(load_cpu, 2),
                "run_s": round(time.perf_counter() - loaded, 2),
                "run_server_cpu_s": round(await _server_cpu_s(runtime) - server_before, 2),
                "peak_rss_mb": round(_rss_mb()),
            }
            for outcome, count in run.counts.items():
                counts[outcome] = counts.get(outcome, 0) + count
        server = await _server_cpu_s(runtime)
        vacuums = await _autovacuums(runtime)
    finally:
        await runtime.engine.dispose()
    return {"load_s": load_s, "run_s": run_s, "seconds": load_s + run_s, "counts": counts,
            "sources": per_source, "server_cpu_s": server, "autovacuum": vacuums}  # fmt: skip


async def _autovacuums(runtime: Any) -> dict[str, list[int]]:
    """Autovacuum and autoanalyze counts so far of recon's tables that had any (they run
    beside the runs and their CPU is not the backends')."""
    from recon_service.adapters.tables import SCHEMA

    async with runtime.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        rows = await raw.fetch(
            "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
            " WHERE schemaname = $1 AND autovacuum_count + autoanalyze_count > 0",
            SCHEMA,
        )
    return {row[0]: [row[1], row[2]] for row in rows}


def _cpu_s() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _rss_mb() -> float:
    """This process's peak RSS: VmHWM of /proc/self/status. Not ``ru_maxrss``: Linux carries
    the parent's high-water mark across fork and exec into it, so a worker started by a big
    parent reports the parent's size (the day's "872 MB" was the parent building the files)."""
    try:
        status = Path("/proc/self/status").read_text()
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
    return int(line.split()[1]) / 1024


async def _server_cpu_s(runtime: Any) -> float:
    """CPU of the PostgreSQL backends serving this worker's connections so far (read from
    /proc: the server runs on this machine; parallel workers that have exited not counted);
    NaN when /proc cannot tell."""
    async with runtime.engine.connect() as conn:
        raw = (await conn.get_raw_connection()).driver_connection
        pids = await raw.fetch(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
            " AND backend_type = 'client backend'"
        )
    ticks = 0
    for (pid,) in pids:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()  # noqa: ASYNC240  (bench worker)
            fields = stat.rsplit(")", 1)[1].split()
        except OSError:
            return float("nan")
        ticks += int(fields[11]) + int(fields[12])  # utime, stime
    return ticks / CLOCK_TICKS


def _work(step: str, url: str, bill: str) -> None:
    steps = {
        "setup": lambda: _setup(url),
        "baseline": lambda: _baseline(url, bill),
        "recon": lambda: _recon(url, bill),
        "rerun": lambda: _rerun(url, change=False),
        "redo": lambda: _rerun(url, change=True),
        "setup-day": lambda: _setup_day(url),
        "day": lambda: _day(url, bill, load=True),
        "day-rerun": lambda: _day(url, bill, load=False),
        "day-redo": lambda: _day(url, bill, load=False, change=True),
    }
    answer = asyncio.run(steps[step]())
    usage = resource.getrusage(resource.RUSAGE_SELF)
    answer["rss_mb"] = _rss_mb()
    answer["cpu_s"] = usage.ru_utime + usage.ru_stime  # the worker's own CPU (not the server's)
    answer["uptime_load"] = os.getloadavg()[0]
    print(json.dumps(answer, default=str))  # noqa: T201  (the worker's answer)


if __name__ == "__main__":
    _work(*sys.argv[1:4])
