"""One benchmark report for a whole ``make bench`` run: markdown plus a PNG chart.

Generic over sections: every ``Report`` a section returns is written the same way. Each
figure is shown with its section's same-run baseline (the figures whose name starts with
``baseline``) and its goal, read from the goal text a section gives (``≥ 0.60``,
``goal ≥ 2,000``, ``≤ 50 ms``); the report says which goals are met. The chart plots every
figure that has a numeric goal as measured / goal (1.0 = just met).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

from benchmarks.common import Entry, Report

GOAL = re.compile(r"(≥|>=|≤|<=|>|<)\s*([0-9][0-9,]*(?:\.[0-9]+)?)")
AT_LEAST: Final = frozenset({"≥", ">=", ">"})
REPORT_NAME: Final = "bench-report"


@dataclass(frozen=True)
class Goal:
    """A numeric goal: at least or at most ``bound``."""

    at_least: bool
    bound: float
    text: str

    def met(self, value: float) -> bool:
        """True when ``value`` meets the goal (NaN never does)."""
        if math.isnan(value):
            return False
        return value >= self.bound if self.at_least else value <= self.bound

    def score(self, value: float) -> float:
        """Measured relative to the goal, oriented so that ≥ 1 means met."""
        if math.isnan(value) or value <= 0 or self.bound <= 0:
            return 0.0
        return value / self.bound if self.at_least else self.bound / value


def parse_goal(text: str) -> Goal | None:
    """The first ``≥ n`` / ``≤ n`` in ``text``; None for reference figures."""
    found = GOAL.search(text or "")
    if found is None:
        return None
    return Goal(found.group(1) in AT_LEAST, float(found.group(2).replace(",", "")), text.strip())


def _baseline(report: Report) -> Entry | None:
    return next((e for e in report.entries if e.name.lower().startswith("baseline")), None)


def _value(entry: Entry) -> str:
    if math.isnan(entry.value):
        return "n/a"
    return f"{entry.value:,.2f}" if entry.kind == "ratio" else f"{entry.value:,.1f}"


def markdown(reports: list[Report], *, started: datetime, chart_name: str) -> str:
    """The report as markdown."""
    lines = [
        "# Benchmark report",
        "",
        f"Run of `make bench` started {started:%Y-%m-%d %H:%M} UTC on this machine; every figure"
        " is measured in this run, next to its section's baseline from the same run.",
        "",
        f"![goals]({chart_name})",
        "",
    ]
    met_total = goals_total = 0
    for report in reports:
        baseline = _baseline(report)
        lines += [f"## {report.title}", ""]
        if baseline is not None:
            lines += [
                f"Same-run baseline: {baseline.name} = {_value(baseline)} {baseline.unit}",
                "",
            ]
        lines += [
            "| figure | value | unit | baseline | goal | met |",
            "|---|---:|---|---:|---|---|",
        ]
        for entry in report.entries:
            goal = parse_goal(entry.goal)
            met = "" if goal is None else ("yes" if goal.met(entry.value) else "**no**")
            if goal is not None:
                goals_total += 1
                met_total += goal.met(entry.value)
            base = (
                ""
                if baseline is None or entry is baseline
                else f"{_value(baseline)} {baseline.unit}"
            )
            lines.append(
                f"| {entry.name.strip()} | {_value(entry)} | {entry.unit} | {base} "
                f"| {entry.goal or entry.note} | {met} |"
            )
        lines.append("")
    lines.insert(4, f"**Goals met: {met_total} of {goals_total}.**\n")
    return "\n".join(lines)


def chart(reports: list[Report], path: Path) -> None:
    """A horizontal bar per figure with a numeric goal: measured / goal, green when met."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = [
        (
            f"{report.title[:28]}: {entry.name.strip()[:44]}",
            goal.score(entry.value),
            goal.met(entry.value),
        )
        for report in reports
        for entry in report.entries
        if (goal := parse_goal(entry.goal)) is not None
    ]
    height = max(2.5, 0.35 * len(rows) + 1.2)
    figure, axis = plt.subplots(figsize=(11, height))
    if rows:
        labels, scores, met = zip(*rows, strict=True)
        positions = range(len(rows))
        axis.barh(positions, scores, color=["#2e7d32" if m else "#c62828" for m in met])
        axis.set_yticks(list(positions), labels, fontsize=8)
        axis.invert_yaxis()
        axis.axvline(1.0, color="black", linewidth=1, linestyle="--")
    axis.set_xlabel("measured / goal (≥ 1 means the goal is met)")
    axis.set_title("OTD Pay benchmark goals (same-run figures)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)


def write_report(
    reports: list[Report], directory: Path, *, started: datetime | None = None
) -> Path:
    """Write ``bench-report.md`` and ``bench-report.png`` into ``directory``; returns the
    markdown's path."""
    directory.mkdir(parents=True, exist_ok=True)
    chart_path = directory / f"{REPORT_NAME}.png"
    chart(reports, chart_path)
    text = markdown(reports, started=started or datetime.now(UTC), chart_name=chart_path.name)
    path = directory / f"{REPORT_NAME}.md"
    path.write_text(text, encoding="utf-8")
    return path
