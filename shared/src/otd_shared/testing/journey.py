"""Driving the running cluster as its users do, over HTTP only (the e2e journeys)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx

from otd_shared.testing.cluster import RunningCluster, eventually

WAIT_S = 60.0


class Journey:
    """The cluster as the app backend, the store's terminal, the bank, the factory, finance."""

    def __init__(self, cluster: RunningCluster, http: httpx.AsyncClient) -> None:
        self.cluster, self.http, self.urls = cluster, http, cluster.urls

    async def call(self, method: str, service: str, path: str, role: str | None, **kw: Any) -> Any:
        headers = dict(kw.pop("headers", {}))
        if role is not None:
            headers.update(self.cluster.auth(role))
        response = await self.http.request(method, self.urls[service] + path, headers=headers, **kw)
        assert response.status_code in (200, 201, 202), (path, response.text)
        return response.json() if response.content else {}

    async def get(self, service: str, path: str, role: str = "finance") -> Any:
        """GET as ``role``: the JSON of a 200 answer, else None."""
        response = await self.http.get(self.urls[service] + path, headers=self.cluster.auth(role))
        return response.json() if response.status_code == 200 else None

    async def start_payment(self, billing_id: str, channel: str, amount_fen: int) -> Any:
        """``POST /v1/payments`` as the app backend (a fresh Idempotency-Key): the payment."""
        return await self.call(
            "POST",
            "payment-gateway",
            "/v1/payments",
            "app-backend",
            headers={"Idempotency-Key": uuid.uuid4().hex},
            json={"billing_id": billing_id, "channel": channel, "amount_fen": amount_fen},
        )

    async def payable(self, order_id: str, stage: str) -> dict[str, Any]:
        """Wait until the gateway accepts payments for the billing of ``stage``."""

        async def probe() -> dict[str, Any] | None:
            rows = await self.get(
                "payment-gateway", f"/v1/orders/{order_id}/payable-billings", "app-backend"
            )
            return next((b for b in rows or [] if b["stage"] == stage), None)

        found = await eventually(probe, timeout_s=WAIT_S)
        assert isinstance(found, dict)
        return found

    async def billing(self, order_id: str, stage: str, status: str) -> dict[str, Any]:
        """Wait until billing-service shows the billing of ``stage`` with ``status``."""

        async def probe() -> dict[str, Any] | None:
            fund = await self.get("billing-service", f"/v1/orders/{order_id}/fund-order")
            billings = (fund or {}).get("billings", [])
            found = next((b for b in billings if b["stage"] == stage), None)
            return found if found and found["status"] == status else None

        found = await eventually(probe, timeout_s=WAIT_S)
        assert isinstance(found, dict)
        return found

    async def order_status(self, order_id: str, status: str) -> None:
        """Wait until order-service shows the order with ``status``."""

        async def probe() -> bool:
            order = await self.get("order-service", f"/v1/orders/{order_id}", "app-backend")
            return bool(order and order["status"] == status)

        await eventually(probe, timeout_s=WAIT_S)

    async def sandbox(self, **action: Any) -> None:
        """Tell the channel sandbox what a channel does (``POST /sandbox/actions``)."""
        await self.call("POST", "channel-sandbox", "/sandbox/actions", None, json=action)

    async def account(self, code: str) -> int:
        """An account's net debit in fen (0 for an account never opened)."""
        found = await self.get("ledger-service", f"/v1/accounts/{code}")
        return int(found["net_debit_fen"]) if found else 0
