"""The whole order-to-delivery lifecycle through the running cluster (issue: vehicle orders
and fund orders).

order → intent due (pushed to the app backend's webhook) → payment outcome → lock → firm
due → paid in two parts → production scheduled → built, shipped, arrived → final due →
loan disbursed + self-pay → final paid → delivered.

The payment gateway is simulated: genuine PaymentCallback envelopes are published to the
cluster's payments topic, as the gateway's outbox relay would. The app backend is a tiny
HTTP server on a free port; its URL and secret reach billing-service through the
environment the cluster fixture passes to the launcher, so they are set at import time
(collection runs before any fixture starts the cluster).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import uuid
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from billing_service.adapters.webhook_client import SIGNATURE_HEADER, verify_signature
from otd_shared.events import PaymentCallback, Topic, new_envelope, topic_for
from otd_shared.infra import free_port
from otd_shared.testing.cluster import RunningCluster, eventually

pytestmark = pytest.mark.e2e

WEBHOOK_PORT = free_port()
WEBHOOK_SECRET = f"e2e-{uuid.uuid4().hex}"
os.environ["BILLING_WEBHOOK_URL"] = f"http://127.0.0.1:{WEBHOOK_PORT}/hooks/billing"
os.environ["BILLING_WEBHOOK_SECRET"] = WEBHOOK_SECRET

PRICE_FEN = 30_000_000
LOAN_FEN = 10_000_000
INTENT_FEN, FIRM_FEN = 500_000, 5_000_000
SELF_PAY_FEN = PRICE_FEN - INTENT_FEN - FIRM_FEN - LOAN_FEN


class _QuietServer(uvicorn.Server):
    """uvicorn without its own signal handlers (pytest keeps them)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@pytest.fixture(scope="module")
async def app_backend() -> AsyncIterator[list[dict[str, Any]]]:
    """The app backend's webhook receiver: the verified pushes it received, in order."""
    received: list[dict[str, Any]] = []

    async def hook(request: Request) -> Response:
        body = await request.body()
        if not verify_signature(WEBHOOK_SECRET.encode(), body, request.headers[SIGNATURE_HEADER]):
            return Response(status_code=401)
        received.append(json.loads(body))
        return Response(status_code=204)

    app = Starlette(routes=[Route("/hooks/billing", hook, methods=["POST"])])
    server = _QuietServer(
        uvicorn.Config(app, host="127.0.0.1", port=WEBHOOK_PORT, log_config=None, lifespan="off")
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        return bool(server.started)

    await eventually(started, timeout_s=10, interval_s=0.05)
    yield received
    server.should_exit = True
    await task


class Gateway:
    """Publishes verified payment outcomes, as payment-gateway does."""

    def __init__(self, producer: AIOKafkaProducer, topic: str) -> None:
        self._producer = producer
        self._topic = topic

    async def paid(self, order_id: str, billing_id: str, amount_fen: int, channel: str) -> None:
        payment_id = f"e2e-pay-{uuid.uuid4().hex[:10]}"
        payload = PaymentCallback(
            order_id=order_id,
            billing_id=billing_id,
            payment_id=payment_id,
            channel=channel,
            method="app" if channel in ("wechatpay", "alipay") else "offline",
            outcome="succeeded",
            out_trade_no=f"OTD{payment_id}",
            channel_txn_id=f"txn-{payment_id}",
            amount_fen=amount_fen,
            completed_at=datetime.now(UTC),
        )
        envelope = new_envelope(payload, producer="payment-gateway", correlation_id="e2e")
        await self._producer.send_and_wait(
            self._topic, envelope.to_bytes(), key=envelope.partition_key
        )


@pytest.fixture
async def gateway(running_cluster: RunningCluster) -> AsyncIterator[Gateway]:
    producer = AIOKafkaProducer(bootstrap_servers=running_cluster.kafka_bootstrap)
    await producer.start()
    try:
        yield Gateway(producer, topic_for(Topic.PAYMENTS, running_cluster.topic_prefix))
    finally:
        await producer.stop()


class Client:
    """The cluster's HTTP APIs as the app backend, the bank, the factory and finance."""

    def __init__(self, cluster: RunningCluster, http: httpx.AsyncClient) -> None:
        self.orders = cluster.urls["order-service"] + "/v1"
        self.billing = cluster.urls["billing-service"] + "/v1"
        self._cluster = cluster
        self._http = http

    async def post(self, url: str, role: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        response = await self._http.post(url, json=body, headers=self._cluster.auth(role))
        assert response.status_code in (200, 201), response.text
        return dict(response.json())

    async def get(self, url: str, role: str = "app-backend") -> httpx.Response:
        return await self._http.get(url, headers=self._cluster.auth(role))

    async def order(self, order_id: str) -> dict[str, Any]:
        return dict((await self.get(f"{self.orders}/orders/{order_id}")).json())

    async def billing_when(self, order_id: str, stage: str, status: str) -> dict[str, Any]:
        """Wait until the billing of ``stage`` has ``status``; return it."""

        async def probe() -> dict[str, Any] | None:
            response = await self.get(f"{self.billing}/orders/{order_id}/fund-order")
            if response.status_code != 200:
                return None
            billing = next(b for b in response.json()["billings"] if b["stage"] == stage)
            return dict(billing) if billing["status"] == status else None

        found = await eventually(probe, timeout_s=30)
        assert isinstance(found, dict)
        return found

    async def order_when(self, order_id: str, status: str) -> dict[str, Any]:
        """Wait until the order has ``status``; return it."""

        async def probe() -> dict[str, Any] | None:
            order = await self.order(order_id)
            return order if order["status"] == status else None

        found = await eventually(probe, timeout_s=30)
        assert isinstance(found, dict)
        return found


async def test_order_to_delivery_with_three_billings_a_loan_and_pushes(
    running_cluster: RunningCluster,
    http: httpx.AsyncClient,
    gateway: Gateway,
    app_backend: list[dict[str, Any]],
) -> None:
    api = Client(running_cluster, http)
    order = await api.post(
        f"{api.orders}/orders",
        "app-backend",
        {
            "customer_id": f"cust-{uuid.uuid4().hex[:6]}",
            "vehicle_model": "OTD-S",
            "price_fen": PRICE_FEN,
            "loan_fen": LOAN_FEN,
            "charging_pile": True,
        },
    )
    oid = order["order_id"]

    intent = await api.billing_when(oid, "intent", "due")
    await _pushed(app_backend, oid, "BillingDue", "intent")
    await gateway.paid(oid, intent["billing_id"], INTENT_FEN, "wechatpay")
    await api.order_when(oid, "intent_paid")

    await api.post(f"{api.orders}/orders/{oid}/lock", "app-backend")
    firm = await api.billing_when(oid, "firm", "due")
    await _pushed(app_backend, oid, "BillingDue", "firm")
    await gateway.paid(oid, firm["billing_id"], 3_000_000, "unionpay")
    await gateway.paid(oid, firm["billing_id"], FIRM_FEN - 3_000_000, "cash")
    await api.billing_when(oid, "firm", "paid")

    async def production_scheduled() -> bool:
        subs = {s["kind"]: s for s in (await api.order(oid))["sub_orders"]}
        return bool(subs["production"]["status"] == "scheduled")

    await eventually(production_scheduled, timeout_s=30)
    await _loan_approved(api, oid)
    await _build_ship_arrive(api, oid)

    final = await api.billing_when(oid, "final", "due")
    assert (final["amount_fen"], final["customer_payable_fen"]) == (SELF_PAY_FEN, SELF_PAY_FEN)
    final_push = await _pushed(app_backend, oid, "BillingDue", "final")
    assert final_push["data"]["customer_payable_fen"] == SELF_PAY_FEN
    refused = await http.post(
        f"{api.orders}/orders/{oid}/deliver", headers=running_cluster.auth("app-backend")
    )
    assert refused.status_code == 409

    await api.post(
        f"{api.orders}/orders/{oid}/loan/disburse",
        "bank",
        {"amount_fen": LOAN_FEN, "bank_reference": f"BANK-{oid[:8]}"},
    )
    await gateway.paid(oid, final["billing_id"], SELF_PAY_FEN, "wire")
    paid_final = await api.billing_when(oid, "final", "paid")
    assert (paid_final["paid_fen"], paid_final["loan_paid_fen"]) == (SELF_PAY_FEN, LOAN_FEN)
    await api.order_when(oid, "final_paid")

    delivered = await api.post(f"{api.orders}/orders/{oid}/deliver", "app-backend")
    assert delivered["status"] == "delivered"
    await _check_books(api, oid)


async def _loan_approved(api: Client, oid: str) -> None:
    await api.post(f"{api.orders}/orders/{oid}/loan/submit", "bank", {"bank_code": "ICBC"})
    await api.post(f"{api.orders}/orders/{oid}/loan/approve", "bank", {"principal_fen": LOAN_FEN})


async def _build_ship_arrive(api: Client, oid: str) -> None:
    await api.post(
        f"{api.orders}/orders/{oid}/production/built", "sre", {"vin": "LSVAU2180N2183294"}
    )
    await api.post(f"{api.orders}/orders/{oid}/production/shipped", "sre")
    ready = await api.post(
        f"{api.orders}/orders/{oid}/production/arrived", "sre", {"delivery_centre": "SH-Pudong"}
    )
    assert ready["status"] == "ready_for_delivery"


async def _pushed(
    received: list[dict[str, Any]], order_id: str, event_type: str, stage: str
) -> dict[str, Any]:
    """Wait for the app backend to receive a verified push of ``event_type`` for ``stage``."""

    async def probe() -> dict[str, Any] | None:
        for push in received:
            if (push["order_id"], push["event_type"], push["data"].get("stage")) == (
                order_id,
                event_type,
                stage,
            ):
                return push
        return None

    found = await eventually(probe, timeout_s=30)
    assert isinstance(found, dict)
    return found


async def _check_books(api: Client, oid: str) -> None:
    fund = (await api.get(f"{api.billing}/orders/{oid}/fund-order", "finance")).json()
    assert fund["status"] == "paid"
    assert sum(b["total_paid_fen"] for b in fund["billings"]) == PRICE_FEN
    history = (await api.get(f"{api.orders}/orders/{oid}/history", "finance")).json()
    moves = [(e["entity"], e["to_status"]) for e in history["entries"]]
    for expected in (
        ("vehicle_order", "intent_paid"),
        ("vehicle_order", "locked"),
        ("production_order", "scheduled"),
        ("loan_order", "disbursed"),
        ("vehicle_order", "ready_for_delivery"),
        ("vehicle_order", "final_paid"),
        ("vehicle_order", "delivered"),
    ):
        assert expected in moves

    async def every_push_delivered() -> bool:
        url = f"{api.billing}/webhook-deliveries?order_id={oid}"
        deliveries = (await api.get(url, "finance")).json()["items"]
        # The last pushes (BillingPaid of the final billing…) may still be on their way.
        return bool(deliveries) and {d["status"] for d in deliveries} == {"delivered"}

    await eventually(every_push_delivered, timeout_s=30)
