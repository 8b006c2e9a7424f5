"""``python -m ledger_service sap-post [--date YYYY-MM-DD]``: the daily SAP posting job.

Every other command (``api|relay|consumer|worker|migrate``) is the shared CLI's. The date
defaults to yesterday in Asia/Shanghai. Prints the date's documents as JSON lines and exits
1 when any of them is still pending (delivery failed) or rejected.
"""

from __future__ import annotations

import argparse
import asyncio
import json
from datetime import UTC, date, datetime, timedelta

from ledger_service.adapters.sap_repo import SapDocumentRecord
from ledger_service.bootstrap import ENTRY, build
from ledger_service.domain.business_date import business_date_of
from ledger_service.service_layer.sap_posting import SapPosting
from otd_shared.cli import ExtraCommand
from otd_shared.cli import main as shared_main
from otd_shared.observability import configure_logging

SAP_COMMAND = "sap-post"
FAILED_STATUSES = frozenset({"pending", "rejected"})


def main(argv: list[str] | None = None) -> None:
    """The shared CLI with ``sap-post`` added."""
    shared_main(
        ENTRY,
        argv,
        extra_commands={
            SAP_COMMAND: ExtraCommand("post a business day's journals to SAP", sap_post),
        },
    )


def sap_post(argv: list[str]) -> int:
    """Run the SAP job for one date; returns the process exit code."""
    parser = argparse.ArgumentParser(prog=f"ledger_service {SAP_COMMAND}")
    parser.add_argument("--date", type=date.fromisoformat, default=None, help="YYYY-MM-DD")
    args = parser.parse_args(argv)
    day = args.date or business_date_of(datetime.now(UTC)) - timedelta(days=1)
    settings = ENTRY.load_settings()
    configure_logging(settings.log_level, json_lines=settings.log_json)
    documents = asyncio.run(_run(settings, day))
    for document in documents:
        print(json.dumps(_summary(document)))  # noqa: T201  (the job's report on stdout)
    return 1 if any(d.status in FAILED_STATUSES for d in documents) else 0


async def _run(settings: object, day: date) -> list[SapDocumentRecord]:
    runtime = build(settings)  # type: ignore[arg-type]
    connector = runtime.ledger.connector_factory()
    try:
        return await SapPosting(runtime.ledger, runtime.sessions, connector).run_day(day)
    finally:
        await connector.aclose()
        await runtime.engine.dispose()


def _summary(document: SapDocumentRecord) -> dict[str, object]:
    return {
        "reference": document.reference,
        "company_code": document.company_code,
        "posting_date": document.posting_date.isoformat(),
        "status": document.status,
        "journal_count": document.journal_count,
        "total_debit_fen": document.total_debit_fen,
        "reason": document.reason,
        "last_error": document.last_error,
    }
