"""Shared benchmark plumbing: infrastructure, timing, percentiles, the report."""

from __future__ import annotations

import asyncio
import contextlib
import os
import statistics
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from otd_shared.infra import (
    create_database,
    drop_database,
    start_broker,
    start_embedded_postgres,
    stop_embedded_postgres,
)


@dataclass
class BenchContext:
    """Where a benchmark runs: a PostgreSQL server and a broker."""

    pg_server_url: str
    kafka: str
    created: list[str] = field(default_factory=list)

    async def new_database(self) -> str:
        """A fresh database for one benchmark (dropped when the run ends)."""
        url = await create_database(self.pg_server_url, prefix="otdbench")
        self.created.append(url)
        return url

    async def drop_created(self) -> None:
        """Drop the databases this run made that still exist (a section may drop its own)."""
        for url in self.created:
            with contextlib.suppress(Exception):  # already dropped, or the server is gone
                await drop_database(self.pg_server_url, url)


@contextmanager
def bench_infrastructure() -> Iterator[BenchContext]:
    """DATABASE_URL / KAFKA_BOOTSTRAP_SERVERS when set, embedded ones otherwise."""
    server = None
    broker = None
    with tempfile.TemporaryDirectory(prefix="otd-bench-") as tmp:
        pg_url = os.environ.get("DATABASE_URL")
        if not pg_url:
            server, pg_url = start_embedded_postgres(Path(tmp) / "pg")
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
        if not kafka:
            broker = start_broker()
            kafka = broker.bootstrap_servers
        ctx = BenchContext(pg_url, kafka)
        try:
            yield ctx
        finally:
            if server is None:  # an external server keeps nothing of ours
                asyncio.run(ctx.drop_created())
            if broker is not None:
                broker.stop()
            if server is not None:
                stop_embedded_postgres(server)


def percentile(values: list[float], fraction: float) -> float:
    """The ``fraction`` percentile (0..1) of the values, nearest-rank."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered)) - 1))
    return ordered[rank]


def median(values: list[float]) -> float:
    """Median, or NaN for no values."""
    return statistics.median(values) if values else float("nan")


@dataclass(frozen=True)
class Entry:
    """One figure of a section: ``kind`` is ``figure`` or ``ratio``; ``goal`` its goal text."""

    name: str
    value: float
    unit: str
    goal: str = ""
    note: str = ""
    kind: str = "figure"


@dataclass
class Report:
    """Lines of a benchmark section, printed together, and its entries for the report file."""

    title: str
    lines: list[str] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)

    def figure(self, name: str, value: float, unit: str, note: str = "") -> None:
        """One measured figure (a goal, if any, is written in ``note``: ``goal ≥ 2,000``)."""
        self.lines.append(f"  {name:46} {value:12,.1f} {unit:10} {note}")
        goal = note if ("goal" in note or note.strip()[:1] in "≥≤<>") else ""
        self.entries.append(Entry(name, value, unit, goal=goal.strip(), note=note.strip()))

    def ratio(self, name: str, value: float, goal: str) -> None:
        """A ratio against the baseline, with its goal."""
        self.lines.append(f"  {name:46} {value:12.2f} {'x':10} goal {goal}")
        self.entries.append(Entry(name, value, "x", goal=goal, kind="ratio"))

    def print(self) -> None:
        """Print the section."""
        print(f"\n== {self.title}")  # noqa: T201
        for line in self.lines:
            print(line)  # noqa: T201
