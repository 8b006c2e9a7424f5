"""``python -m recon_service recon-daily [--date YYYY-MM-DD]``: the T+1 daily job.

Every other command (``api|relay|consumer|worker|migrate``) is the shared CLI's. The date
defaults to yesterday in Asia/Shanghai. The job fetches the day's statements from the
channels with a download API (WeChat, Lakala, UnionPay), then reconciles every source in the
fixed order (WeChat, Alipay, Lakala, UnionPay, Allinpay, cash, wire) against the latest
statement loaded. Prints one JSON line per fetch and per source, then the integrity check
(``{"integrity": {...}, "ok": …}``: lines and results naming a statement or run that does
not exist, the foreign keys recon checks instead of enforcing) and exits 1 when any source
had no statement or the check found orphans (the Job shows red; re-running a day is
harmless).
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, date, datetime, timedelta

from otd_shared.cli import ExtraCommand
from otd_shared.cli import main as shared_main
from otd_shared.observability import configure_logging
from otd_shared.runtime import ServiceRuntime
from otd_shared.settings import ServiceSettings
from recon_service.adapters.integrity_repo import orphan_counts
from recon_service.adapters.tables import SCHEMA
from recon_service.bootstrap import ENTRY, fetch_deps
from recon_service.config import ReconSettings
from recon_service.domain.statement import business_date_of
from recon_service.service_layer.daily import daily_job
from recon_service.service_layer.fetch import SystemClock

DAILY_COMMAND = "recon-daily"


def main(argv: list[str] | None = None) -> None:
    """The shared CLI with ``recon-daily`` added."""
    shared_main(
        ENTRY,
        argv,
        extra_commands={
            DAILY_COMMAND: ExtraCommand(
                "T+1 statement fetch and reconciliation of every source for one day",
                recon_daily,
            ),
        },
    )


def recon_daily(argv: list[str]) -> int:
    """Run the daily reconciliation for one date; returns the process exit code."""
    parser = argparse.ArgumentParser(prog=f"recon_service {DAILY_COMMAND}")
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    day = args.date or business_date_of(datetime.now(UTC)) - timedelta(days=1)
    settings = ENTRY.load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    reports = asyncio.run(_run(settings, day))
    for report in reports:
        print(json.dumps(report, sort_keys=True))  # noqa: T201  (the job's report on stdout)
    missing = [
        r for r in reports if "fetch" not in r and "integrity" not in r
        and r["status"] != "reconciled"
    ]  # fmt: skip
    broken = [r for r in reports if "integrity" in r and not r["ok"]]
    return 1 if missing or broken else 0


async def _run(settings: ServiceSettings, day: date) -> list[dict[str, object]]:
    runtime = ENTRY.build_runtime(settings)
    try:
        return [*await daily(runtime, day), await integrity(runtime)]
    finally:
        await runtime.engine.dispose()


async def daily(runtime: ServiceRuntime, day: date) -> list[dict[str, object]]:
    """Fetch and reconcile one day; the fetch reports, then one report per source."""
    settings = runtime.settings
    assert isinstance(settings, ReconSettings)
    async with fetch_deps(runtime, SystemClock()) as deps:
        result = await daily_job(deps, settings.recon_policy(), day)
    fetched = [{"fetch": True, **r} for r in result["fetched"]]
    return [*fetched, *result["reconciled"]]


async def integrity(runtime: ServiceRuntime) -> dict[str, object]:
    """The integrity report: orphan lines and results (the dropped foreign keys)."""
    async with runtime.engine.connect() as conn:
        orphans = await orphan_counts(conn, SCHEMA)
    return {"integrity": orphans, "ok": not any(orphans.values())}
