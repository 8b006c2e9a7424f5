"""One payment across the whole cluster, delivered twice by the channel: order → intent
billing due → WeChat payment → the sandbox notifies twice → one success, one PaymentCallback →
billing paid once → order intent paid → one journal in the ledger → balanced trial balance →
the day's SAP document acknowledged once, and a second SAP run books nothing new."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing

pytestmark = pytest.mark.e2e
SHANGHAI = ZoneInfo("Asia/Shanghai")
PRICE_FEN = 28_000_000


async def _get_json(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> Any:
    response = await http.get(url, headers=headers)
    return response.json() if response.status_code == 200 else None


async def test_a_payment_notified_twice_is_booked_once_from_channel_to_sap(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    urls = running_cluster.urls
    app, finance = running_cluster.auth("app-backend"), running_cluster.auth("finance")
    billing = await order_with_intent_billing(http, running_cluster, price_fen=PRICE_FEN)
    order_id = billing["order_id"]
    amount = billing["outstanding_fen"]
    started = await http.post(
        urls["payment-gateway"] + "/v1/payments",
        headers={**app, "Idempotency-Key": uuid.uuid4().hex},
        json={"billing_id": billing["billing_id"], "channel": "wechatpay", "amount_fen": amount},
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "paying", payment

    action = await http.post(
        urls["channel-sandbox"] + "/sandbox/actions",
        json={
            "channel": "wechatpay",
            "out_trade_no": payment["out_trade_no"],
            "action": "pay_twice",
        },
    )
    assert action.status_code == 202, action.text

    async def delivered_three_times() -> bool:
        view = await _get_json(
            http,
            urls["channel-sandbox"] + f"/sandbox/orders/wechatpay/{payment['out_trade_no']}",
            {},
        )
        deliveries = (view or {}).get("notifications", [])
        attempts = [a for d in deliveries for a in d.get("attempts", [])]
        return len(attempts) >= 3 and all(a.get("accepted") for a in attempts)

    await eventually(delivered_three_times, timeout_s=30)

    async def intent_paid() -> dict[str, Any] | None:
        fund = await _get_json(
            http, urls["billing-service"] + f"/v1/orders/{order_id}/fund-order", app
        )
        intent = next((b for b in (fund or {}).get("billings", []) if b["stage"] == "intent"), None)
        return intent if intent and intent["status"] == "paid" else None

    intent = await eventually(intent_paid, timeout_s=30)
    assert isinstance(intent, dict)
    assert intent["paid_fen"] == amount  # not doubled by the duplicate notification

    async def order_intent_paid() -> bool:
        order = await _get_json(http, urls["order-service"] + f"/v1/orders/{order_id}", app)
        return bool(order and order["status"] == "intent_paid")

    await eventually(order_intent_paid, timeout_s=30)

    async def statement() -> dict[str, Any] | None:
        found = await _get_json(
            http, urls["ledger-service"] + f"/v1/orders/{order_id}/statement", finance
        )
        return found if found and found.get("lines") else None

    booked = await eventually(statement, timeout_s=60)
    assert isinstance(booked, dict)
    legs = sorted(
        (line["account"], line["debit_fen"], line["credit_fen"]) for line in booked["lines"]
    )
    assert legs == [("clearing:wechatpay", amount, 0), (f"deposits:{order_id}", 0, amount)]

    today = datetime.now(UTC).astimezone(SHANGHAI).date().isoformat()
    trial = await _get_json(
        http, urls["ledger-service"] + f"/v1/trial-balance?date={today}", finance
    )
    assert trial is not None
    assert trial["total_debit_fen"] == trial["total_credit_fen"] > 0

    first = await http.post(
        urls["ledger-service"] + "/v1/sap/runs", headers=finance, json={"date": today}
    )
    assert first.status_code == 200, first.text
    documents = first.json()["documents"]
    assert documents
    assert {d["status"] for d in documents} == {"acknowledged"}, documents
    second = await http.post(
        urls["ledger-service"] + "/v1/sap/runs", headers=finance, json={"date": today}
    )
    assert second.status_code == 200, second.text
    again = {d["reference"]: d for d in second.json()["documents"]}
    for document in documents:
        assert (
            again[document["reference"]]["sap_document_number"] == (document["sap_document_number"])
        )
    booked_in_sap = await _get_json(http, urls["channel-sandbox"] + "/sap/documents", {})
    counts = {d["reference"]: d["received_count"] for d in booked_in_sap["documents"]}
    for document in documents:
        assert counts[document["reference"]] == 1
