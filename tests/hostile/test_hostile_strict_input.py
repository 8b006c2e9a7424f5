"""Strict input on every service of the running cluster, over real HTTP with real PostgreSQL.

Every JSON-body operation of every service's OpenAPI gets non-finite numbers, NUL bytes,
lone surrogates and non-UTF-8 bodies; every operation gets NUL in its path and query. The
answer is always the documented 422 shape, never a 500, nothing changes, and the marker text
we sent (the SQL parameters it would have become) never reaches a log.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster

pytestmark = pytest.mark.e2e

PUBLIC_SERVICES = (
    "order-service",
    "billing-service",
    "payment-gateway",
    "ledger-service",
    "recon-service",
)
MARKER = f"hostile{uuid.uuid4().hex[:12]}"
HOSTILE_BODIES: dict[str, tuple[bytes, str]] = {
    "nan": (b'{"amount_fen": NaN, "x": "' + MARKER.encode() + b'"}', "application/json"),
    "infinity": (b'{"amount_fen": Infinity}', "application/json"),
    "minus-infinity": (b'{"price_fen": -Infinity}', "application/json"),
    "1e400": (b'{"amount_fen": 1e400}', "application/json"),
    "nul-escape": (b'{"customer_id": "' + MARKER.encode() + b'\\u0000"}', "application/json"),
    "lone-surrogate": (b'{"customer_id": "' + MARKER.encode() + b'\\ud800"}', "application/json"),
    "utf16": ('{"customer_id": "x"}'.encode("utf-16"), "application/json"),
    "utf16-declared": (b'{"customer_id": "x"}', "application/json; charset=utf-16"),
    "raw-surrogate-bytes": (b'{"customer_id": "\xed\xa0\x80"}', "application/json"),
}
CHANNEL_CALLBACKS = "/callbacks/"
PATH_PARAM = re.compile(r"\{[^}]+\}")


async def _operations(http: httpx.AsyncClient, base: str) -> list[tuple[str, str, dict[str, Any]]]:
    spec = (await http.get(base + "/openapi.json")).json()
    return [
        (method.upper(), path, operation)
        for path, item in spec["paths"].items()
        for method, operation in item.items()
        if method in {"get", "post", "put", "patch", "delete"}
    ]


def _takes_json(operation: dict[str, Any]) -> bool:
    return "application/json" in operation.get("requestBody", {}).get("content", {})


def _assert_strict_422(response: httpx.Response, what: str) -> None:
    assert response.status_code == 422, (what, response.status_code, response.text[:300])
    detail = response.json()["detail"]
    assert isinstance(detail, list), (what, response.text)
    assert detail, (what, response.text)
    assert {"loc", "msg", "type"} <= set(detail[0]), (what, detail)


async def _successful_writes(cluster: RunningCluster, http: httpx.AsyncClient) -> list[int]:
    """A witness that nothing changed: no service answered a POST/PUT with a 2xx (read from
    every service's Prometheus request counters)."""
    counts = []
    for name in PUBLIC_SERVICES:
        text = (await http.get(cluster.urls[name] + "/metrics")).text
        counts.append(
            sum(
                float(line.rsplit(" ", 1)[1])
                for line in text.splitlines()
                if line.startswith("http_requests_total{")
                and ('method="POST"' in line or 'method="PUT"' in line)
                and 'status="2' in line
            )
        )
    return [int(c) for c in counts]


async def test_every_json_operation_refuses_hostile_bodies(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    before = await _successful_writes(running_cluster, http)
    tried = 0
    for name in PUBLIC_SERVICES:
        base = running_cluster.urls[name]
        for method, path, operation in await _operations(http, base):
            if not _takes_json(operation):
                continue
            url = base + PATH_PARAM.sub("x1", path)
            for label, (body, content_type) in HOSTILE_BODIES.items():
                for headers in ({}, running_cluster.auth("finance")):
                    response = await http.request(
                        method, url, content=body, headers={**headers, "content-type": content_type}
                    )
                    what = f"{name} {method} {path} {label}"
                    if not headers and response.status_code == 401:  # a lane checks auth first
                        continue
                    _assert_strict_422(response, what)
                    tried += 1
    assert tried > 100
    assert await _successful_writes(running_cluster, http) == before


async def test_nul_and_bad_utf8_in_every_path_and_query_are_422(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    for name in PUBLIC_SERVICES:
        base = running_cluster.urls[name]
        auth = running_cluster.auth("finance")
        for method, path, _ in await _operations(http, base):
            if "{" in path:
                for bad in ("a%00b", "%ED%A0%80", "%FF"):
                    url = base + PATH_PARAM.sub(bad, path)
                    response = await http.request(method, url, headers=auth)
                    if path.startswith(CHANNEL_CALLBACKS):  # the channel's protocol answers
                        assert 400 <= response.status_code < 500, (url, response.text)
                        continue
                    _assert_strict_422(response, f"{name} {method} {path} {bad}")
            if path.startswith(CHANNEL_CALLBACKS):
                continue
            response = await http.request(
                method, base + path.split("{")[0] + "?q=%00", headers=auth
            )
            _assert_strict_422(response, f"{name} {method} {path} query")


async def test_booleans_are_booleans(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    body = {
        "customer_id": f"cust-{MARKER}",
        "vehicle_model": "OTD-S",
        "price_fen": 25_000_000,
        "loan_fen": 0,
    }
    url = running_cluster.urls["order-service"] + "/v1/orders"
    auth = running_cluster.auth("app-backend")
    for lax in ("yes", "true", 1, 0, "1", None):
        response = await http.post(url, headers=auth, json={**body, "charging_pile": lax})
        assert response.status_code == 422, (lax, response.text)
        assert response.json()["detail"][0]["loc"] == ["body", "charging_pile"]
    created = await http.post(url, headers=auth, json={**body, "charging_pile": True})
    assert created.status_code == 201, created.text
    assert created.json()["charging_pile"] is True


async def test_hostile_text_never_reaches_a_log(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    """Every hostile body above carried MARKER; PostgreSQL never saw it, so no SQL error and
    no logged SQL parameter can hold it (the engines also hide parameters)."""
    url = running_cluster.urls["order-service"] + "/v1/orders"
    for body, content_type in HOSTILE_BODIES.values():
        await http.post(url, content=body, headers={"content-type": content_type})
    logs = sorted(running_cluster.var_dir.rglob("*.log"))
    assert logs
    for path in logs:
        text = path.read_text(errors="replace")
        assert MARKER not in text, path.name
        assert "invalid byte sequence" not in text, path.name


async def test_a_value_the_database_cannot_hold_is_422(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    """Found by schemathesis: an integer path id beyond bigint reached PostgreSQL (500)."""
    url = running_cluster.urls["billing-service"] + "/v1/webhook-deliveries/-45864066436017799823"
    response = await http.get(url, headers=running_cluster.auth("finance"))
    assert response.status_code == 422, response.text
    assert response.json()["code"] == "invalid_input"
