"""The Grafana dashboard (deploy/observability/grafana-otd-pay.json), offline: valid JSON
model, unique panel ids, and every metric it queries is one the code really exports."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from otd_shared.testing.metric_catalogue import exported_metric_names, promql_metric_names

REPO_ROOT = Path(__file__).resolve().parents[2]
DASHBOARD = REPO_ROOT / "deploy" / "observability" / "grafana-otd-pay.json"
README = REPO_ROOT / "deploy" / "observability" / "README.md"
# What the issue asks the dashboard to show, as metric names.
REQUIRED = {
    "request rate and errors per route": "http_requests_total",
    "latency per route": "http_request_duration_seconds_bucket",
    "consumer lag per group": "consumer_group_lag",
    "outbox backlog": "outbox_unpublished",
    "outbox age": "outbox_oldest_unpublished_age_seconds",
    "callback rejections per channel and reason": "payment_callback_rejections_total",
    "recon duration": "recon_run_duration_seconds_bucket",
    "open discrepancies": "recon_discrepancies_open",
    "SAP failures": "ledger_sap_documents_total",
}


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DASHBOARD.read_text())
    return loaded


def _targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in dashboard["panels"] for t in p.get("targets", [])]


def test_the_model_is_importable(dashboard: dict[str, Any]) -> None:
    assert dashboard["uid"]
    assert dashboard["title"]
    assert isinstance(dashboard["schemaVersion"], int)
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        grid = panel["gridPos"]
        assert grid["x"] >= 0, panel["title"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        if panel["type"] != "row":
            assert panel["targets"], panel["title"]
            assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
    variables = {v["name"] for v in dashboard["templating"]["list"]}
    assert {"datasource", "namespace"} <= variables


def test_every_queried_metric_is_exported_by_the_code(dashboard: dict[str, Any]) -> None:
    exported = exported_metric_names()
    for target in _targets(dashboard):
        used = promql_metric_names(target["expr"])
        assert used, target["expr"]
        missing = used - exported
        assert not missing, f"{target['expr']}: not exported by the code: {missing}"


def test_the_dashboard_shows_what_the_issue_asks(dashboard: dict[str, Any]) -> None:
    used = {m for t in _targets(dashboard) for m in promql_metric_names(t["expr"])}
    missing = {what: name for what, name in REQUIRED.items() if name not in used}
    assert not missing


def test_every_panel_filters_by_namespace(dashboard: dict[str, Any]) -> None:
    for target in _targets(dashboard):
        assert 'namespace=~"$namespace"' in target["expr"], target["expr"]


def test_the_catalogue_sees_through_a_wrong_name() -> None:
    assert "outbox_unpublished" in exported_metric_names()
    assert promql_metric_names('sum by (x) (rate(not_a_metric_total{a="b"}[5m]))') == {
        "not_a_metric_total"
    }
    assert "not_a_metric_total" not in exported_metric_names()


def test_the_readme_points_at_the_dashboard() -> None:
    assert "grafana-otd-pay.json" in README.read_text()
