"""Orders in the states the console's e2e tests need, made through the running cluster's APIs
(never its tables): a locked order whose firm deposit (大定) is due and payable offline."""

from __future__ import annotations

from typing import Any

import httpx

from otd_shared.testing.cluster import (
    RunningCluster,
    eventually,
    order_with_intent_billing,
    pay_with_wechat,
)

SETTLE_TIMEOUT_S = 90.0


async def firm_billing(http: httpx.AsyncClient, cluster: RunningCluster) -> dict[str, Any]:
    """Create an order, pay its intent deposit through the WeChat sandbox, lock it, and wait
    until the gateway takes offline payments for the firm billing; returns that billing
    (``billing_id``, ``order_id``, ``outstanding_fen``, ...)."""
    app = cluster.auth("app-backend")
    intent = await order_with_intent_billing(http, cluster, timeout_s=SETTLE_TIMEOUT_S)
    order_id = intent["order_id"]
    await pay_with_wechat(http, cluster, intent)
    orders = cluster.urls["order-service"] + f"/v1/orders/{order_id}"

    async def intent_paid() -> bool:
        response = await http.get(orders, headers=app)
        return response.status_code == 200 and response.json()["status"] == "intent_paid"

    await eventually(intent_paid, timeout_s=SETTLE_TIMEOUT_S)
    locked = await http.post(orders + "/lock", headers=app)
    assert locked.status_code == 200, locked.text
    payable = cluster.urls["payment-gateway"] + f"/v1/orders/{order_id}/payable-billings"

    async def firm_due() -> dict[str, Any] | None:
        response = await http.get(payable, headers=app)
        rows = response.json() if response.status_code == 200 else []
        return next((b for b in rows if b["stage"] == "firm" and b["status"] == "due"), None)

    firm = await eventually(firm_due, timeout_s=SETTLE_TIMEOUT_S)
    assert isinstance(firm, dict)
    return firm
