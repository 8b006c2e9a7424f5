"""Scale-out: the e2e cluster runs two consumers per group and two gateway API workers
(``OTD_REPLICAS=2``). Both billing consumers take partitions of otd.payments and, between
them, apply every PaymentCallback exactly once."""

from __future__ import annotations

import asyncio
import re

import httpx

from otd_shared.testing.cluster import (
    RunningCluster,
    eventually,
    order_with_intent_billing,
    pay_with_wechat,
)

PAYMENTS = 12
CONSUMER = "billing-payment-events"


async def _applied(http: httpx.AsyncClient, base_url: str) -> float:
    """The consumer's applied-events counter in one process's /metrics."""
    text = (await http.get(base_url + "/metrics")).text
    pattern = rf'events_consumed_total{{consumer="{CONSUMER}",result="applied"}} ([0-9.e+]+)'
    found = re.search(pattern, text)
    return float(found.group(1)) if found else 0.0


async def _pay(http: httpx.AsyncClient, cluster: RunningCluster) -> str:
    """One order paid through the sandbox (WeChat); returns the order id."""
    billing = await order_with_intent_billing(http, cluster, timeout_s=120)
    await pay_with_wechat(http, cluster, billing)
    return str(billing["order_id"])


async def test_two_billing_consumers_share_the_partitions_and_apply_each_payment_once(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    billing = running_cluster.urls["billing-service"]
    processes = [billing, running_cluster.replicas["billing-service-consumer-2"]]
    before = [await _applied(http, url) for url in processes]
    order_ids = await asyncio.gather(*(_pay(http, running_cluster) for _ in range(PAYMENTS)))
    app = running_cluster.auth("app-backend")

    async def all_paid() -> bool:
        for order_id in order_ids:
            r = await http.get(billing + f"/v1/orders/{order_id}/fund-order", headers=app)
            intent = next(b for b in r.json()["billings"] if b["stage"] == "intent")
            if intent["status"] != "paid" or intent["paid_fen"] != intent["amount_fen"]:
                return False
        return True

    await eventually(all_paid, timeout_s=120)
    await asyncio.sleep(1.0)  # the counters are bumped right after the commit
    deltas = [await _applied(http, url) - b for url, b in zip(processes, before, strict=True)]
    assert sum(deltas) == PAYMENTS, deltas  # each PaymentCallback applied once, in total
    assert all(d > 0 for d in deltas), f"both consumers should own partitions: {deltas}"
