"""After delivery (issue 16), through the running cluster and the channel sandbox: a car is
paid online and delivered; window film is bought, paid through Alipay and completed (its
revenue booked per service kind); a 12-month lease is opened back-dated, so its first
installment is overdue at once; two installments are paid (the overdue one by a bank wire
matched by the payer's card last 4 digits, the next one through Alipay), a third one
outside the advance window is refused, the rest is paid off early, the lease completes,
and the trial balance stays balanced with the service revenue where it belongs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from otd_shared.testing.cluster import RunningCluster, eventually

pytestmark = pytest.mark.e2e

CAR_PRICE_FEN = 6_000_000  # intent 5,000 + firm 50,000 (the online limit) + final 5,000 CNY
FILM_FEN = 300_000
MONTHLY_FEN, MONTHS = 100_000, 12
TIMEOUT_S = 120  # generous: the cluster shares two cores with the test run


class Api:
    """The cluster as the app backend, the factory (sre) and finance see it."""

    def __init__(self, cluster: RunningCluster, http: httpx.AsyncClient) -> None:
        self.cluster, self.http = cluster, http
        self.orders = cluster.urls["order-service"] + "/v1"
        self.billing = cluster.urls["billing-service"] + "/v1"
        self.gateway = cluster.urls["payment-gateway"] + "/v1"
        self.ledger = cluster.urls["ledger-service"] + "/v1"
        self.sandbox = cluster.urls["channel-sandbox"] + "/sandbox/actions"
        self.customer_id = f"cust-{uuid.uuid4().hex[:8]}"

    async def call(
        self, method: str, url: str, role: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        headers = self.cluster.auth(role)
        if method == "POST" and url.endswith("/payments"):
            headers = {**headers, "Idempotency-Key": uuid.uuid4().hex}
        return await self.http.request(method, url, json=body, headers=headers)

    async def ok(
        self, method: str, url: str, role: str = "app-backend", body: dict[str, Any] | None = None
    ) -> dict[str, Any]:
        response = await self.call(method, url, role, body)
        assert response.status_code in (200, 201), f"{method} {url}: {response.text}"
        return dict(response.json())

    async def payable(self, order_id: str, billing_id: str) -> dict[str, Any]:
        """Wait until the gateway knows the billing; return its payable row."""

        async def probe() -> dict[str, Any] | None:
            response = await self.call(
                "GET", f"{self.gateway}/orders/{order_id}/payable-billings", "app-backend"
            )
            rows = response.json() if response.status_code == 200 else []
            return next((b for b in rows if b["billing_id"] == billing_id), None)

        found = await eventually(probe, timeout_s=TIMEOUT_S)
        assert isinstance(found, dict)
        return found

    async def pay_online(self, billing_id: str, amount_fen: int, channel: str) -> None:
        """Start a payment, let the sandbox pay and notify, wait until it succeeded."""
        started = await self.ok(
            "POST",
            f"{self.gateway}/payments",
            body={"billing_id": billing_id, "channel": channel, "amount_fen": amount_fen},
        )
        action: dict[str, Any] = {
            "channel": channel, "out_trade_no": started["out_trade_no"], "action": "pay",
        }  # fmt: skip
        if channel == "alipay":
            action["order_string"] = started["pay_params"]["order_string"]
        answered = await self.http.post(self.sandbox, json=action)
        assert answered.status_code in (200, 201, 202, 204), answered.text

        async def succeeded() -> bool:
            r = await self.call(
                "GET", f"{self.gateway}/payments/{started['payment_id']}", "app-backend"
            )
            return r.status_code == 200 and r.json()["status"] == "succeeded"

        await eventually(succeeded, timeout_s=TIMEOUT_S)

    async def billing_in(self, order_id: str, stage: str, status: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            r = await self.call(
                "GET", f"{self.billing}/orders/{order_id}/fund-order", "app-backend"
            )
            rows = r.json()["billings"] if r.status_code == 200 else []
            return next((b for b in rows if b["stage"] == stage and b["status"] == status), None)

        found = await eventually(probe, timeout_s=TIMEOUT_S)
        assert isinstance(found, dict)
        return found

    async def status_of(self, url: str, wanted: str) -> dict[str, Any]:
        async def probe() -> dict[str, Any] | None:
            r = await self.call("GET", url, "app-backend")
            return dict(r.json()) if r.status_code == 200 and r.json()["status"] == wanted else None

        found = await eventually(probe, timeout_s=TIMEOUT_S)
        assert isinstance(found, dict)
        return found

    async def balance_fen(self, code: str) -> int:
        r = await self.call("GET", f"{self.ledger}/accounts/{code}", "finance")
        return int(r.json()["balance_fen"]) if r.status_code == 200 else 0


async def test_service_orders_and_a_lease_after_delivery_reach_the_books(
    running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    api = Api(running_cluster, http)
    car = await _delivered_car(api)

    film = await api.ok(
        "POST", f"{api.orders}/service-orders",
        body={"parent_order_id": car, "kind": "window_film", "description": "ceramic film",
              "price_fen": FILM_FEN},
    )  # fmt: skip
    film_billing = await api.billing_in(film["order_id"], "service", "due")
    await api.payable(film["order_id"], film_billing["billing_id"])
    await api.pay_online(film_billing["billing_id"], FILM_FEN, "alipay")
    await api.status_of(f"{api.orders}/service-orders/{film['order_id']}", "paid")
    await api.ok("POST", f"{api.orders}/service-orders/{film['order_id']}/complete")

    async def film_revenue() -> bool:
        return await api.balance_fen("service_revenue:window_film") >= FILM_FEN

    await eventually(film_revenue, timeout_s=TIMEOUT_S)

    lease = await _paid_off_lease(api, car)
    await api.ok("POST", f"{api.orders}/service-orders/{lease}/complete")

    async def lease_revenue() -> bool:
        return await api.balance_fen("service_revenue:leasing") >= MONTHLY_FEN * MONTHS

    await eventually(lease_revenue, timeout_s=TIMEOUT_S)
    for order_id in (film["order_id"], lease):
        statement = await api.ok("GET", f"{api.ledger}/orders/{order_id}/statement", "finance")
        assert statement["summary"]["held_fen"] == 0
        assert statement["summary"]["recognised_fen"] == statement["summary"]["paid_fen"] > 0
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    trial = await api.ok("GET", f"{api.ledger}/trial-balance?date={today}", "finance")
    assert trial["total_debit_fen"] == trial["total_credit_fen"]


async def _delivered_car(api: Api) -> str:
    order = await api.ok(
        "POST", f"{api.orders}/orders",
        body={"customer_id": api.customer_id, "vehicle_model": "OTD-S",
              "price_fen": CAR_PRICE_FEN, "loan_fen": 0, "charging_pile": False},
    )  # fmt: skip
    oid = str(order["order_id"])
    for stage in ("intent", "firm", "final"):
        if stage == "firm":
            await api.ok("POST", f"{api.orders}/orders/{oid}/lock")
        if stage == "final":
            await _build_ship_arrive(api, oid)
        billing = await api.billing_in(oid, stage, "due")
        await api.payable(oid, billing["billing_id"])
        await api.pay_online(billing["billing_id"], billing["customer_payable_fen"], "wechatpay")
        await api.billing_in(oid, stage, "paid")
        if stage == "intent":  # order-service hears BillingPaid a moment later: the lock gate
            await api.status_of(f"{api.orders}/orders/{oid}", "intent_paid")
    await api.status_of(f"{api.orders}/orders/{oid}", "final_paid")
    delivered = await api.ok("POST", f"{api.orders}/orders/{oid}/deliver")
    assert delivered["status"] == "delivered"
    return oid


async def _build_ship_arrive(api: Api, oid: str) -> None:
    async def scheduled() -> bool:
        order = await api.ok("GET", f"{api.orders}/orders/{oid}")
        return any(
            s["kind"] == "production" and s["status"] == "scheduled" for s in order["sub_orders"]
        )

    await eventually(scheduled, timeout_s=TIMEOUT_S)
    production = f"{api.orders}/orders/{oid}/production"
    await api.ok("POST", f"{production}/built", "sre", {"vin": "LSVAU2180N2183294"})
    await api.ok("POST", f"{production}/shipped", "sre")
    await api.ok("POST", f"{production}/arrived", "sre", {"delivery_centre": "SH-Pudong"})


async def _paid_off_lease(api: Api, car: str) -> str:
    """Open a back-dated lease, see it overdue, pay two installments, pay off the rest."""
    first_due = (datetime.now(UTC) + timedelta(hours=8)).date() - timedelta(days=10)
    bad = await api.call(
        "POST", f"{api.orders}/service-orders", "app-backend",
        {"parent_order_id": car, "kind": "leasing", "description": "12-month lease",
         "price_fen": MONTHLY_FEN * MONTHS,
         "lease": {"months": MONTHS, "first_due_date": first_due.isoformat(),
                   "monthly_fen": MONTHLY_FEN * 2}},
    )  # fmt: skip
    assert (bad.status_code, bad.json()["field"]) == (422, "lease.monthly_fen")
    lease = await api.ok(
        "POST", f"{api.orders}/service-orders",
        body={"parent_order_id": car, "kind": "leasing", "description": "12-month lease",
              "price_fen": MONTHLY_FEN * MONTHS,
              "lease": {"months": MONTHS, "first_due_date": first_due.isoformat()}},
    )  # fmt: skip
    lid = str(lease["order_id"])

    async def overdue_view() -> dict[str, Any] | None:
        r = await api.call("GET", f"{api.billing}/leases/{lid}", "app-backend")
        view = r.json() if r.status_code == 200 else None
        return view if view and view["installments"][0]["overdue_at"] else None

    view = await eventually(overdue_view, timeout_s=TIMEOUT_S)
    assert isinstance(view, dict)
    first, second, third = view["installments"][:3]
    await api.payable(lid, first["billing_id"])
    await _wire(api, first["billing_id"], lid)
    await api.payable(lid, second["billing_id"])  # due in ~20 days: inside the window
    await api.pay_online(second["billing_id"], MONTHLY_FEN, "alipay")
    # Billing applies the gateway's PaymentCallback a moment later: pay off only after it.
    await api.status_of(f"{api.billing}/billings/{second['billing_id']}", "paid")
    await api.payable(lid, third["billing_id"])
    early = await api.call(
        "POST", f"{api.gateway}/payments", "app-backend",
        {"billing_id": third["billing_id"], "channel": "wechatpay", "amount_fen": MONTHLY_FEN},
    )  # fmt: skip
    assert (early.status_code, early.json()["code"]) == (422, "installment_not_due")

    paid_off = await api.ok("POST", f"{api.billing}/leases/{lid}/payoff")
    payoff = paid_off["payoff"]
    assert payoff["amount_fen"] == MONTHLY_FEN * (MONTHS - 2)
    await api.payable(lid, payoff["billing_id"])
    await api.pay_online(payoff["billing_id"], payoff["amount_fen"], "wechatpay")
    await api.status_of(f"{api.billing}/leases/{lid}", "paid")
    await api.status_of(f"{api.orders}/service-orders/{lid}", "paid")
    changes = [c["change"] for c in (await api.ok("GET", f"{api.billing}/leases/{lid}"))["changes"]]
    assert changes[:3] == ["opened", "fell_due", "overdue"]
    assert "paid_off" in changes
    return lid


async def _wire(api: Api, billing_id: str, order_id: str) -> None:
    """The overdue installment paid by a bank transfer from the customer's registered card."""
    card = "6222020200112233445"
    await api.ok(
        "PUT", f"{api.gateway}/customers/{api.customer_id}/payer-accounts",
        body={"accounts": [card]},
    )  # fmt: skip
    today = (datetime.now(UTC) + timedelta(hours=8)).date().isoformat()
    wired = await api.ok(
        "POST", f"{api.gateway}/wires", "bank",
        {"transfers": [{"bank_reference": f"BR-{uuid.uuid4().hex[:10]}", "payer_name": "Li Lei",
                        "payer_account": card, "amount_fen": MONTHLY_FEN, "value_date": today,
                        "memo": "lease installment 1"}]},
    )  # fmt: skip
    [result] = wired["results"]
    assert (result["status"], result["billing_id"]) == ("matched", billing_id), result
    await api.status_of(f"{api.billing}/billings/{billing_id}", "paid")
