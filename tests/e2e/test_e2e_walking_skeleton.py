"""The walking skeleton through the running cluster over real HTTP (issue 3)."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually

pytestmark = pytest.mark.e2e


async def test_every_service_is_ready_and_documents_itself(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    for name in (
        "order-service",
        "billing-service",
        "payment-gateway",
        "ledger-service",
        "recon-service",
    ):
        base = running_cluster.urls[name]
        assert (await http.get(base + "/healthz")).json()["status"] == "ok"
        ready = await http.get(base + "/readyz")
        assert ready.status_code == 200, ready.text
        assert ready.json() == {"status": "ready", "database": "ok", "broker": "ok"}
        assert "http_requests_total" in (await http.get(base + "/metrics")).text
        assert (await http.get(base + "/openapi.json")).json()["info"]["title"].endswith(name)


async def test_order_to_fund_order_to_payable_billing(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    urls, app = running_cluster.urls, running_cluster.auth("app-backend")
    created = await http.post(
        urls["order-service"] + "/v1/orders",
        headers=app,
        json={
            "customer_id": "cust-e2e",
            "vehicle_model": "OTD-S",
            "price_fen": 30_000_000,
            "loan_fen": 10_000_000,
            "charging_pile": True,
        },
    )
    assert created.status_code == 201, created.text
    order = created.json()
    assert order["status"] == "created"
    assert {s["kind"] for s in order["sub_orders"]} >= {
        "fund",
        "charging_pile",
        "loan",
        "production",
    }
    order_id = order["order_id"]
    fetched = await http.get(urls["order-service"] + f"/v1/orders/{order_id}", headers=app)
    assert fetched.json()["order_id"] == order_id

    async def fund_order() -> dict[str, object] | None:
        r = await http.get(
            urls["billing-service"] + f"/v1/orders/{order_id}/fund-order", headers=app
        )
        return r.json() if r.status_code == 200 else None

    fund = await eventually(fund_order)
    assert isinstance(fund, dict)
    billings = {b["stage"]: b for b in fund["billings"]}
    assert set(billings) == {"intent", "firm", "final"}
    assert sum(b["amount_fen"] for b in billings.values()) + 10_000_000 == 30_000_000
    assert billings["intent"]["status"] == "due"
    assert billings["intent"]["due_at"] is not None

    async def payable() -> list[dict[str, object]]:
        r = await http.get(
            urls["payment-gateway"] + f"/v1/orders/{order_id}/payable-billings", headers=app
        )
        return list(r.json()) if r.status_code == 200 else []

    rows = await eventually(payable)
    assert isinstance(rows, list)
    assert rows[0]["billing_id"] == billings["intent"]["billing_id"]
    assert rows[0]["amount_fen"] == billings["intent"]["amount_fen"]


async def test_auth_and_validation_errors(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    url = running_cluster.urls["order-service"] + "/v1/orders"
    body = {"customer_id": "c", "vehicle_model": "m", "price_fen": 100}
    assert (await http.post(url, json=body)).status_code == 401
    bad_token = {"Authorization": "Bearer not-a-token"}
    assert (await http.post(url, json=body, headers=bad_token)).status_code == 401
    installer = running_cluster.auth("installer")
    assert (await http.post(url, json=body, headers=installer)).status_code == 403
    app = running_cluster.auth("app-backend")
    broken = await http.post(
        url, content=b"{not json", headers={**app, "Content-Type": "application/json"}
    )
    assert broken.status_code == 422
    assert "JSON" in broken.text
    wrong = await http.post(url, json={**body, "price_fen": 1.5}, headers=app)
    assert wrong.status_code == 422
    assert "price_fen" in wrong.text
    missing = await http.get(
        running_cluster.urls["order-service"] + "/v1/orders/00000000-0000-0000-0000-000000000000",
        headers=app,
    )
    assert missing.status_code == 404


async def test_finance_console_shows_cluster_status(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    console = running_cluster.urls["finance-console"]
    assert (await http.get(console + "/status")).status_code == 303  # sign in first
    user = json.loads((running_cluster.var_dir / "console-users.json").read_text())["cashier"]
    form = await http.get(console + "/login")
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form.text)
    assert csrf is not None
    signed_in = await http.post(console + "/login", data={**user, "csrf_token": csrf.group(1)})
    assert signed_in.status_code == 303  # the client keeps the session cookie
    page = await http.get(console + "/status")
    assert page.status_code == 200
    assert "Cluster status" in page.text
    for name in ("order-service", "billing-service", "payment-gateway"):
        assert f'<td>{name}</td><td class="ready">ready</td>' in page.text
