"""Prometheus alert rules, offline (no promtool here): structure, the alerts the
on-call needs, and metrics that are documented and, where the code exposes them, real.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from otd_shared.testing.metric_catalogue import exported_metric_names, promql_metric_names

REPO_ROOT = Path(__file__).resolve().parents[2]
OBSERVABILITY = REPO_ROOT / "deploy" / "observability"
RULES_FILE = OBSERVABILITY / "otd-pay-alerts.rules.yml"
README = OBSERVABILITY / "README.md"
REQUIRED_ALERTS = {
    "outbox backlog": "OtdOutboxBacklogHigh",
    "relay stalled": "OtdOutboxRelayStalled",
    "dead letters": "OtdDeadLetters",
    "consumer lag": "OtdConsumerLagHigh",
    "5xx rate": "OtdHttp5xxRateHigh",
    "callback rejection spike": "OtdCallbackRejectionSpike",
    "outbox age": "OtdOutboxEventsOld",
    "SAP rejections": "OtdSapDocumentsRejected",
}
SEVERITIES = {"warning", "critical"}
DURATION = re.compile(r"^\d+[smhd]$")
# Metrics from outside our code (exporters), documented in the README.
EXTERNAL_PREFIXES = ("kafka_", "kube_")

Rule = dict[str, Any]


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    with RULES_FILE.open() as f:
        document = yaml.safe_load(f)
    return [rule for group in document["groups"] for rule in group["rules"]]


def test_groups_have_unique_names_and_rules(rules: list[Rule]) -> None:
    with RULES_FILE.open() as f:
        groups = yaml.safe_load(f)["groups"]
    names = [g["name"] for g in groups]
    assert len(names) == len(set(names))
    assert all(g["rules"] for g in groups)
    alerts = [r["alert"] for r in rules]
    assert len(alerts) == len(set(alerts)), "duplicate alert names"


def test_the_alerts_on_call_needs_exist(rules: list[Rule]) -> None:
    alerts = {r["alert"] for r in rules}
    missing = {what: name for what, name in REQUIRED_ALERTS.items() if name not in alerts}
    assert not missing


def test_every_rule_is_complete(rules: list[Rule]) -> None:
    readme = README.read_text()
    anchors = {
        re.sub(r"[^a-z0-9 -]", "", h.lower()).replace(" ", "-")
        for h in re.findall(r"^#+ (.+)$", readme, re.M)
    }
    for rule in rules:
        name = rule["alert"]
        assert re.fullmatch(r"Otd[A-Z][A-Za-z0-9]+", name), name
        assert set(rule) == {"alert", "expr", "for", "labels", "annotations"}, name
        assert DURATION.match(rule["for"]), name
        assert rule["labels"]["severity"] in SEVERITIES, name
        annotations = rule["annotations"]
        assert annotations["summary"], name
        assert annotations["description"], name
        page, _, anchor = annotations["runbook"].partition("#")
        assert (REPO_ROOT / page).is_file(), name
        assert anchor in anchors, f"{name}: runbook anchor #{anchor} not in README"
        assert name in readme, f"{name} is not described in the README"


def test_expressions_are_balanced(rules: list[Rule]) -> None:
    for rule in rules:
        expr = rule["expr"]
        for open_, close in ("()", "{}", "[]"):
            depth = 0
            for char in expr:
                depth += (char == open_) - (char == close)
                assert depth >= 0, f"{rule['alert']}: stray {close}"
            assert depth == 0, f"{rule['alert']}: unbalanced {open_}{close}"
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert DURATION.match(window) or window == ".", f"{rule['alert']}: [{window}]"


def test_metrics_used_are_documented_and_exposed(rules: list[Rule]) -> None:
    readme = README.read_text()
    exposed = exported_metric_names()
    for rule in rules:
        for metric in promql_metric_names(rule["expr"]) - {"up"}:
            assert f"`{metric}`" in readme, f"{rule['alert']}: {metric} not in the README"
            if metric.startswith(EXTERNAL_PREFIXES):
                continue
            assert metric in exposed, f"{rule['alert']}: the code does not export {metric}"


def test_service_alerts_keep_the_service_label(rules: list[Rule]) -> None:
    for rule in rules:
        expr = rule["expr"]
        if any(m in expr for m in ("outbox_", "dead_letters_total", "http_requests_total")):
            assert "service" in re.findall(r"by \(([^)]*)\)", expr)[0], rule["alert"]
