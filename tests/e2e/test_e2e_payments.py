"""A WeChat app payment through the running cluster: order → intent billing due → payment →
the channel sandbox pays and notifies → the payment succeeds → the billing is paid."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing

pytestmark = pytest.mark.e2e


async def _sandbox_action(
    http: httpx.AsyncClient, cluster: RunningCluster, body: dict[str, Any]
) -> httpx.Response:
    return await http.post(cluster.urls["channel-sandbox"] + "/sandbox/actions", json=body)


async def test_wechat_payment_pays_the_intent_billing(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    urls, app = running_cluster.urls, running_cluster.auth("app-backend")
    gateway = urls["payment-gateway"]
    billing = await order_with_intent_billing(http, running_cluster)
    started = await http.post(
        gateway + "/v1/payments",
        headers={**app, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": billing["billing_id"],
            "channel": "wechatpay",
            "amount_fen": billing["outstanding_fen"],
        },
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "paying"
    assert payment["pay_params"]["prepayid"]

    action = await _sandbox_action(
        http,
        running_cluster,
        {"channel": "wechatpay", "out_trade_no": payment["out_trade_no"], "action": "pay"},
    )
    assert action.status_code in (200, 201, 202, 204), action.text

    async def succeeded() -> bool:
        r = await http.get(gateway + f"/v1/payments/{payment['payment_id']}", headers=app)
        return r.status_code == 200 and r.json()["status"] == "succeeded"

    await eventually(succeeded)
    metrics = (await http.get(gateway + "/metrics")).text
    assert 'payment_callbacks_total{channel="wechatpay",result="accepted"}' in metrics

    async def billing_paid() -> bool:
        r = await http.get(
            urls["billing-service"] + f"/v1/orders/{billing['order_id']}/fund-order", headers=app
        )
        if r.status_code != 200:
            return False
        intent = next(b for b in r.json()["billings"] if b["stage"] == "intent")
        return bool(intent["status"] == "paid" and intent["paid_fen"] == intent["amount_fen"])

    await eventually(billing_paid, timeout_s=30)


@pytest.mark.parametrize(("channel", "method"), [("alipay", None), ("lakala", "wechat_qr")])
async def test_alipay_and_lakala_payments_through_the_sandbox(
    running_cluster: RunningCluster, http: httpx.AsyncClient, channel: str, method: str | None
) -> None:
    app, gateway = running_cluster.auth("app-backend"), running_cluster.urls["payment-gateway"]
    billing = await order_with_intent_billing(http, running_cluster)
    body: dict[str, Any] = {
        "billing_id": billing["billing_id"],
        "channel": channel,
        "amount_fen": billing["outstanding_fen"],
    }
    if method:
        body["method"] = method
    started = await http.post(
        gateway + "/v1/payments", headers={**app, "Idempotency-Key": uuid.uuid4().hex}, json=body
    )
    assert started.status_code == 201, started.text
    payment = started.json()
    assert payment["status"] == "paying", payment
    action: dict[str, Any] = {
        "channel": channel,
        "out_trade_no": payment["out_trade_no"],
        "action": "pay",
    }
    if channel == "alipay":
        action["order_string"] = payment["pay_params"]["order_string"]
    answered = await _sandbox_action(http, running_cluster, action)
    assert answered.status_code in (200, 201, 202, 204), answered.text

    async def succeeded() -> bool:
        r = await http.get(gateway + f"/v1/payments/{payment['payment_id']}", headers=app)
        return r.status_code == 200 and r.json()["status"] == "succeeded"

    await eventually(succeeded)


async def test_routing_refusal_through_the_cluster(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    billing = await order_with_intent_billing(http, running_cluster)
    refused = await http.post(
        running_cluster.urls["payment-gateway"] + "/v1/payments",
        headers={**running_cluster.auth("app-backend"), "Idempotency-Key": uuid.uuid4().hex},
        json={"billing_id": billing["billing_id"], "channel": "unionpay", "amount_fen": 100},
    )
    assert refused.status_code == 422
    assert refused.json()["reason"] == "stage_not_allowed"
