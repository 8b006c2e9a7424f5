"""Every Prometheus metric name the code exports, as PromQL sees it (for the dashboard and
alert-rule tests): found by reading each ``Counter(``/``Gauge(``/``Histogram(``/``Summary(``
declaration in the services' and shared sources, with the suffixes the client adds."""

from __future__ import annotations

import re
from pathlib import Path

from otd_shared.settings import REPO_ROOT

DECLARATION = re.compile(r"\b(Counter|Gauge|Histogram|Summary)\(\s*\"([a-zA-Z_:][a-zA-Z0-9_:]*)\"")
SOURCE_DIRS = ("shared/src", "*/src", "services/*/src")


def exported_metric_names(root: Path = REPO_ROOT) -> set[str]:
    """The queryable names: counters end in ``_total``; histograms and summaries add
    ``_bucket`` (histograms), ``_sum`` and ``_count``."""
    names: set[str] = set()
    for pattern in SOURCE_DIRS:
        for path in root.glob(f"{pattern}/**/*.py"):
            for kind, name in DECLARATION.findall(path.read_text(encoding="utf-8")):
                names |= _queryable(kind, name)
    return names


def _queryable(kind: str, name: str) -> set[str]:
    if kind == "Counter":
        return {name if name.endswith("_total") else f"{name}_total"}
    if kind == "Histogram":
        return {f"{name}_bucket", f"{name}_sum", f"{name}_count"}
    if kind == "Summary":
        return {name, f"{name}_sum", f"{name}_count"}
    return {name}


PROMQL_WORDS = frozenset(
    {
        "and",
        "or",
        "unless",
        "by",
        "without",
        "on",
        "ignoring",
        "group_left",
        "group_right",
        "sum",
        "max",
        "min",
        "avg",
        "count",
        "rate",
        "increase",
        "time",
        "absent",
        "bool",
        "humanizePercentage",
        "histogram_quantile",
        "le",
    }
)


def promql_metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads: identifiers outside label selectors and
    groupings that are not functions, keywords or numbers."""
    without_selectors = re.sub(r"\{[^}]*\}", " ", expr)
    without_ranges = re.sub(r"\[[^\]]*\]", " ", without_selectors)
    without_groupings = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", " ", without_ranges)
    names = set(re.findall(r"\b([a-zA-Z_:][a-zA-Z0-9_:]*)\b(?!\s*\()", without_groupings))
    return {n for n in names if n not in PROMQL_WORDS}
