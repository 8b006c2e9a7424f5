"""A random instant discount through the running cluster, for WeChat Pay and Alipay:
marketing creates an activity, a finance approver approves it (the pool is dealt), the app
pays the intent billing with a store id, the channel sandbox charges the billing minus the
discount and notifies, the discount is confirmed, billing counts both payments (paid in full),
and the ledger books Dr clearing / Cr deposits for what the channel charged and Dr
marketing_expense / Cr deposits for the discount: the deposit shows the full amount."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing
from otd_shared.testing.windows import within_today

pytestmark = pytest.mark.e2e


async def _activity(http: httpx.AsyncClient, cluster: RunningCluster, store_id: str) -> str:
    gateway = cluster.urls["payment-gateway"]
    starts_at, ends_at = within_today(datetime.now(UTC), timedelta(hours=1))
    created = await http.post(
        gateway + "/v1/discount-activities",
        headers=cluster.auth("marketing"),
        json={
            "name": f"e2e launch discount {store_id}",
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "stages": ["intent"],
            "channels": ["wechatpay", "alipay"],
            "store_ids": [store_id],
            "threshold_fen": 1_000,
            "min_fen": 100,
            "max_fen": 500,
            "cap_per_store_day": 20,
            "budget_fen": 20 * 500,
        },
    )
    assert created.status_code == 201, created.text
    activity_id: str = created.json()["activity_id"]
    approved = await http.post(
        gateway + f"/v1/discount-activities/{activity_id}/approve",
        headers=cluster.auth("finance-approver"),
    )
    assert approved.status_code == 200, approved.text
    assert approved.json()["dealt_cards"] == 20
    return activity_id


async def _pay(
    http: httpx.AsyncClient, cluster: RunningCluster, channel: str, billing: dict[str, Any]
) -> dict[str, Any]:
    store_id = f"S-E2E-{uuid.uuid4().hex[:8]}"
    activity_id = await _activity(http, cluster, store_id)
    started = await http.post(
        cluster.urls["payment-gateway"] + "/v1/payments",
        headers={**cluster.auth("app-backend"), "Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": billing["billing_id"],
            "channel": channel,
            "amount_fen": billing["outstanding_fen"],
            "store_id": store_id,
        },
    )
    assert started.status_code == 201, started.text
    payment: dict[str, Any] = started.json()
    assert payment["discount"]["activity_id"] == activity_id
    assert payment["amount_fen"] == billing["outstanding_fen"] - payment["discount_fen"]
    action: dict[str, Any] = {
        "channel": channel,
        "out_trade_no": payment["out_trade_no"],
        "action": "pay",
    }
    if channel == "alipay":
        action["order_string"] = payment["pay_params"]["order_string"]
    paid = await http.post(cluster.urls["channel-sandbox"] + "/sandbox/actions", json=action)
    assert paid.status_code in (200, 201, 202, 204), paid.text
    payment["activity_id"] = activity_id
    return payment


@pytest.mark.parametrize("channel", ["wechatpay", "alipay"])
async def test_a_discounted_payment_from_the_channel_to_the_ledger(
    running_cluster: RunningCluster, http: httpx.AsyncClient, channel: str
) -> None:
    urls, app = running_cluster.urls, running_cluster.auth("app-backend")
    finance = running_cluster.auth("finance")
    billing = await order_with_intent_billing(http, running_cluster)
    order_id, amount_fen = billing["order_id"], billing["outstanding_fen"]
    payment = await _pay(http, running_cluster, channel, billing)
    charged_fen, discount_fen = payment["amount_fen"], payment["discount_fen"]
    gateway = urls["payment-gateway"]

    async def confirmed() -> bool:
        r = await http.get(gateway + f"/v1/payments/{payment['payment_id']}", headers=app)
        body = r.json()
        return body["status"] == "succeeded" and body["discount"]["status"] == "confirmed"

    await eventually(confirmed, timeout_s=60)

    async def billing_paid() -> dict[str, Any] | None:
        r = await http.get(
            urls["billing-service"] + f"/v1/orders/{order_id}/fund-order", headers=app
        )
        intent = next(b for b in r.json()["billings"] if b["stage"] == "intent")
        return intent if intent["status"] == "paid" else None

    intent = await eventually(billing_paid, timeout_s=60)
    assert isinstance(intent, dict)
    assert intent["paid_fen"] == intent["amount_fen"] == amount_fen

    async def booked() -> set[tuple[str, int, int]] | None:
        r = await http.get(
            urls["ledger-service"] + f"/v1/orders/{order_id}/statement", headers=finance
        )
        lines = {(x["account"], x["debit_fen"], x["credit_fen"]) for x in r.json().get("lines", [])}
        return lines if len(lines) >= 4 else None

    lines = await eventually(booked, timeout_s=60)
    assert lines == {
        (f"clearing:{channel}", charged_fen, 0),
        (f"deposits:{order_id}", 0, charged_fen),
        ("marketing_expense", discount_fen, 0),
        (f"deposits:{order_id}", 0, discount_fen),
    }, lines
    journals = await http.get(
        urls["ledger-service"] + "/v1/journals", headers=finance, params={"order_id": order_id}
    )
    assert len(journals.json()["journals"]) == 2  # one for the channel, one for the discount
    report = await http.get(
        gateway + f"/v1/discount-activities/{payment['activity_id']}/report",
        headers=running_cluster.auth("marketing"),
    )
    assert report.json()["spent_fen"] == discount_fen
    assert report.json()["days"][0]["confirmed"] == 1
