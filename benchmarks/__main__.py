"""``make bench``: run every benchmark section and print figures and ratios.

Select sections with ``python -m benchmarks outbox gateway ledger recon``; default all.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import sys

from benchmarks.common import bench_infrastructure

SECTIONS = ("outbox", "gateway", "ledger", "recon")


def main() -> None:
    """Run the chosen sections."""
    logging.basicConfig(level=logging.WARNING)
    chosen = sys.argv[1:] or list(SECTIONS)
    with bench_infrastructure() as ctx:
        for name in chosen:
            try:
                module = importlib.import_module(f"benchmarks.{name}")
            except ModuleNotFoundError:
                print(f"\n== {name}: not available in this checkout")  # noqa: T201
                continue
            report = asyncio.run(module.run(ctx))
            report.print()


main()
