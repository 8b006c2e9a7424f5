"""The ledger through the running cluster: its HTTP contract (DESIGN §3), and a WeChat payment
made through the gateway and the channel sandbox landing in the order's statement."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing

pytestmark = pytest.mark.e2e
DAY = "2024-05-01"


def _journal(source_id: str, *lines: tuple[str, int, int]) -> dict[str, Any]:
    return {
        "source_id": source_id,
        "business_date": DAY,
        "description": "e2e",
        "lines": [{"account": a, "debit_fen": d, "credit_fen": c} for a, d, c in lines],
    }


async def test_ledger_contract(running_cluster: RunningCluster, http: httpx.AsyncClient) -> None:
    base, finance = running_cluster.urls["ledger-service"], running_cluster.auth("finance")
    bank, order = f"bank:E2E-{uuid.uuid4().hex[:8]}", f"ORD-{uuid.uuid4().hex[:8]}"
    deposits = f"deposits:{order}"
    for code, kind in ((bank, "asset"), (deposits, "liability")):
        opened = await http.post(
            base + "/v1/accounts",
            headers=finance,
            json={"code": code, "type": kind, "currency": "CNY"},
        )
        assert opened.status_code == 201, opened.text
    sre = running_cluster.auth("sre")
    refused = await http.post(
        base + "/v1/accounts", headers=sre, json={"code": "x", "type": "asset", "currency": "CNY"}
    )
    assert refused.status_code == 403

    source = uuid.uuid4().hex
    body = _journal(source, (bank, 8_000, 0), (deposits, 0, 8_000))
    posted = await http.post(base + "/v1/journals", headers=finance, json=body)
    assert posted.status_code == 201, posted.text
    journal_id = posted.json()["journal_id"]
    again = await http.post(
        base + "/v1/journals",
        headers=finance,
        json=_journal(source, (bank, 1, 0), (deposits, 0, 1)),
    )
    assert (again.status_code, again.json()["journal_id"]) == (200, journal_id)
    unbalanced = _journal(uuid.uuid4().hex, (bank, 2, 0), (deposits, 0, 1))
    assert (
        await http.post(base + "/v1/journals", headers=finance, json=unbalanced)
    ).status_code == 422
    unknown = _journal(uuid.uuid4().hex, (bank, 2, 0), ("deposits:NOWHERE-E2E", 0, 2))
    assert (
        await http.post(base + "/v1/journals", headers=finance, json=unknown)
    ).status_code == 422

    batch = await http.post(
        base + "/v1/journals/batch",
        headers=finance,
        json={
            "journals": [
                _journal(uuid.uuid4().hex, (deposits, 500, 0), ("revenue", 0, 500)),
                unbalanced,
            ]
        },
    )
    assert batch.status_code == 200, batch.text
    assert [r["status"] for r in batch.json()["results"]] == ["created", "rejected"]

    tb = await http.get(base + "/v1/trial-balance", headers=finance, params={"date": DAY})
    assert tb.status_code == 200
    trial = tb.json()
    assert trial["total_debit_fen"] == trial["total_credit_fen"]
    rows = {row["account"]: row for row in trial["accounts"]}
    assert (rows[bank]["debit_fen"], rows[deposits]["credit_fen"]) == (8_000, 7_500)

    statement = await http.get(base + f"/v1/orders/{order}/statement", headers=finance)
    assert statement.status_code == 200
    assert len(statement.json()["lines"]) == 4
    assert statement.json()["summary"]["held_fen"] == 7_500


async def test_a_wechat_payment_lands_in_the_orders_statement(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    urls, app = running_cluster.urls, running_cluster.auth("app-backend")
    billing = await order_with_intent_billing(http, running_cluster)
    order_id = billing["order_id"]
    started = await http.post(
        urls["payment-gateway"] + "/v1/payments",
        headers={**app, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": billing["billing_id"],
            "channel": "wechatpay",
            "amount_fen": billing["outstanding_fen"],
        },
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "paying", payment
    sandbox = urls["channel-sandbox"]
    paid = await http.post(
        sandbox + "/sandbox/actions",
        json={"channel": "wechatpay", "out_trade_no": payment["out_trade_no"], "action": "pay"},
    )
    assert paid.status_code in (200, 201, 202, 204), paid.text

    ledger, finance = urls["ledger-service"], running_cluster.auth("finance")

    async def posted() -> dict[str, Any] | None:
        r = await http.get(ledger + f"/v1/orders/{order_id}/statement", headers=finance)
        body = r.json() if r.status_code == 200 else {}
        return body if body.get("lines") else None

    statement = await eventually(posted, timeout_s=60)
    assert isinstance(statement, dict)
    amount = billing["outstanding_fen"]
    lines = {
        (line["account"], line["debit_fen"], line["credit_fen"]) for line in statement["lines"]
    }
    assert lines == {("clearing:wechatpay", amount, 0), (f"deposits:{order_id}", 0, amount)}, (
        statement
    )
    summary = statement["summary"]
    assert summary["paid_fen"] == summary["held_fen"] == amount, statement
    journal = await http.get(
        ledger + "/v1/journals",
        headers=finance,
        params={"order_id": order_id},
    )
    assert [j["source_kind"] for j in journal.json()["journals"]] == ["PaymentCallback"]
