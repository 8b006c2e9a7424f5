"""``python -m recon_service recon-daily [--date YYYY-MM-DD]``: the T+1 reconciliation job.

Every other command (``api|relay|consumer|worker|migrate``) is the shared CLI's. The date
defaults to yesterday in Asia/Shanghai. Sources run in the fixed order (WeChat, Alipay,
Lakala, UnionPay, Allinpay, cash, wire); each reconciles the latest statement loaded for the
day. Fetching statements from the channels' download APIs is not built yet: a source without a
loaded statement is reported ``statement_missing``. Prints one JSON line per source and exits 1
when any source had no statement (the Job shows red; re-running a day is harmless).
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
from recon_service.bootstrap import ENTRY
from recon_service.config import ReconSettings
from recon_service.domain.errors import StatementMissing
from recon_service.domain.statement import business_date_of, sources_in_processing_order
from recon_service.service_layer.runs import run_recon
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

DAILY_COMMAND = "recon-daily"
REQUESTED_BY = "recon-daily"


def main(argv: list[str] | None = None) -> None:
    """The shared CLI with ``recon-daily`` added."""
    shared_main(
        ENTRY,
        argv,
        extra_commands={
            DAILY_COMMAND: ExtraCommand(
                "T+1 reconciliation of every source for one day", recon_daily
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
    return 1 if any(r["status"] != "reconciled" for r in reports) else 0


async def _run(settings: ServiceSettings, day: date) -> list[dict[str, object]]:
    runtime = ENTRY.build_runtime(settings)
    try:
        return await daily(runtime, day)
    finally:
        await runtime.engine.dispose()


async def daily(runtime: ServiceRuntime, day: date) -> list[dict[str, object]]:
    """Reconcile every source of one day in the fixed order; one report per source."""
    settings = runtime.settings
    assert isinstance(settings, ReconSettings)
    reports: list[dict[str, object]] = []
    for source in sources_in_processing_order():
        uow = ReconUnitOfWork(runtime.sessions, runtime.outbox)
        report: dict[str, object] = {"source": source.value, "date": day.isoformat()}
        try:
            run = await run_recon(
                uow, source, day, settings.recon_policy(), requested_by=REQUESTED_BY
            )
        except StatementMissing:
            report["status"] = "statement_missing"
        else:
            report.update(status="reconciled", run_id=str(run.run_id), counts=run.counts)
        reports.append(report)
    return reports
