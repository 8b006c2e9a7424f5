"""The bench report file: every figure with its same-run baseline and goal, goals judged,
and a PNG chart written beside it."""

from __future__ import annotations

from pathlib import Path

from benchmarks.common import Report
from benchmarks.report_file import parse_goal, write_report


def test_goals_are_read_from_their_text() -> None:
    assert parse_goal("≥ 0.60").met(0.61)  # type: ignore[union-attr]
    assert not parse_goal("goal ≥ 2,000").met(1999.0)  # type: ignore[union-attr]
    assert parse_goal("≤ 50 ms p99").met(49.0)  # type: ignore[union-attr]
    assert parse_goal("(reference)") is None


def test_the_report_lists_every_figure_of_every_section(tmp_path: Path) -> None:
    first = Report("outbox")
    first.figure("baseline: raw produce", 10_000.0, "events/s")
    first.figure("outbox → relay", 2_500.0, "events/s", "goal ≥ 2,000")
    first.ratio("ratio to baseline", 0.25, "≥ 0.30")
    second = Report("anything new")
    second.figure("p99", 12.0, "ms", "≤ 20")
    second.figure("reference only", 3.0, "things")
    path = write_report([first, second], tmp_path)
    text = path.read_text()
    assert "**Goals met: 2 of 3.**" in text
    met_row = "| outbox → relay | 2,500.0 | events/s | 10,000.0 events/s | goal ≥ 2,000 | yes |"
    assert met_row in text
    assert "| ratio to baseline | 0.25 | x | 10,000.0 events/s | ≥ 0.30 | **no** |" in text
    assert "## anything new" in text
    assert "| reference only | 3.0 | things |" in text
    png = tmp_path / "bench-report.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
