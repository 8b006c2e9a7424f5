"""``make bench``: run every benchmark section and print figures and ratios.

Select sections with ``python -m benchmarks outbox ledger ledger_consumer``; default all.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from benchmarks.common import Report, bench_infrastructure
from benchmarks.report_file import write_report

REPORT_DIR = Path(__file__).resolve().parents[1] / "docs" / "bench"
"""Where ``make bench`` writes the latest report (docs/status.md links it)."""

SECTIONS = (
    "outbox", "gateway", "ledger", "ledger_consumer", "recon", "billing", "scale_out", "e2e",
)  # fmt: skip


def main() -> None:
    """Run the chosen sections; write the report file (markdown + PNG) of the run."""
    logging.basicConfig(level=logging.WARNING)
    chosen = sys.argv[1:] or list(SECTIONS)
    started = datetime.now(UTC)
    reports: list[Report] = []
    with bench_infrastructure() as ctx:
        for name in chosen:
            try:
                module = importlib.import_module(f"benchmarks.{name}")
            except ModuleNotFoundError:
                print(f"\n== {name}: not available in this checkout")  # noqa: T201
                continue
            report = asyncio.run(module.run(ctx))
            report.print()
            reports.append(report)
    path = write_report(reports, REPORT_DIR, started=started)
    print(f"\nreport: {path} (chart beside it)")  # noqa: T201


main()
