"""order-service through its HTTP API and its BillingPaid handler, on real PostgreSQL."""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import OrderHarness

pytestmark = pytest.mark.integration
PRICE_FEN = 30_000_000
INTENT_FEN = 500_000
FIRM_FEN = 5_000_000


async def test_create_returns_the_order_with_four_sub_orders_and_emits_order_created(
    orders: OrderHarness,
) -> None:
    order = await orders.create(loan_fen=10_000_000, options=["white", "awd"])

    assert order["status"] == "created"
    kinds = {s["kind"]: s for s in order["sub_orders"]}
    assert set(kinds) == {"fund", "production", "charging_pile", "loan"}
    assert kinds["loan"]["status"] == "intent_collected"
    assert kinds["charging_pile"]["status"] == "requested"
    assert kinds["production"]["status"] == "waiting"
    fetched = await orders.http.get(
        f"/v1/orders/{order['order_id']}", headers=orders.auth("finance")
    )
    assert fetched.json() == order
    [created] = await orders.outbox_payloads(order["order_id"], "OrderCreated")
    assert created["fund_order_id"] == kinds["fund"]["id"]
    assert created["options"] == ["awd", "white"]
    assert created["loan_fen"] == 10_000_000


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"price_fen": 1.5}, "price_fen"),
        ({"price_fen": -1}, "price_fen"),
        ({"price_fen": 0}, "price_fen"),
        ({"price_fen": INTENT_FEN + FIRM_FEN}, "price_fen"),
        ({"loan_fen": PRICE_FEN}, "loan_fen"),
        ({"loan_fen": "100"}, "loan_fen"),
        ({"customer_id": ""}, "customer_id"),
    ],
)
async def test_bad_amounts_are_422_naming_the_field(
    orders: OrderHarness, body: dict[str, object], field: str
) -> None:
    request = {"customer_id": "c", "vehicle_model": "m", "price_fen": PRICE_FEN, **body}
    response = await orders.http.post(
        "/v1/orders", json=request, headers=orders.auth("app-backend")
    )
    assert response.status_code == 422, response.text
    assert field in response.text


async def test_unknown_ids_are_404_and_roles_are_enforced(orders: OrderHarness) -> None:
    for path in (f"/v1/orders/{uuid.uuid4()}", "/v1/orders/not-a-uuid", "/v1/orders/x/history"):
        response = await orders.http.get(path, headers=orders.auth("app-backend"))
        assert response.status_code == 404, (path, response.text)
        assert response.json()["code"] == "order_not_found"
    assert (await orders.post(f"/v1/orders/{uuid.uuid4()}/lock", "app-backend")).status_code == 404
    order = await orders.create()
    oid = order["order_id"]
    assert (await orders.post(f"/v1/orders/{oid}/lock", "installer")).status_code == 403
    assert (
        await orders.post(f"/v1/orders/{oid}/production/shipped", "app-backend")
    ).status_code == 403
    assert (
        await orders.post(f"/v1/orders/{oid}/loan/submit", "app-backend", {"bank_code": "b"})
    ).status_code == 403
    assert (await orders.http.post(f"/v1/orders/{oid}/lock")).status_code == 401


async def test_the_whole_lifecycle_with_gates_history_and_events(orders: OrderHarness) -> None:
    order = await orders.create(loan_fen=10_000_000)
    oid = order["order_id"]

    locked_early = await orders.post(f"/v1/orders/{oid}/lock", "app-backend")
    assert locked_early.status_code == 409
    assert locked_early.json()["code"] == "gate_closed"
    assert "intent deposit is not paid" in locked_early.json()["detail"]

    await orders.billing_paid(oid, "intent")
    repriced = await orders.http.put(
        f"/v1/orders/{oid}/configuration",
        json={"vehicle_model": "OTD-S", "options": ["red"], "price_fen": PRICE_FEN + 100_000},
        headers=orders.auth("app-backend"),
    )
    assert repriced.status_code == 200, repriced.text
    assert repriced.json()["price_fen"] == PRICE_FEN + 100_000
    locked = await orders.post(f"/v1/orders/{oid}/lock", "app-backend")
    assert locked.status_code == 200
    assert locked.json()["status"] == "locked"
    frozen = await orders.http.put(
        f"/v1/orders/{oid}/configuration",
        json={"vehicle_model": "OTD-S", "options": [], "price_fen": PRICE_FEN},
        headers=orders.auth("app-backend"),
    )
    assert frozen.status_code == 409
    assert frozen.json()["code"] == "configuration_frozen"
    not_yet = await orders.post(f"/v1/orders/{oid}/production/schedule", "sre")
    assert not_yet.status_code == 409
    assert not_yet.json()["code"] == "gate_closed"

    await orders.billing_paid(oid, "firm")
    after_firm = (
        await orders.http.get(f"/v1/orders/{oid}", headers=orders.auth("app-backend"))
    ).json()
    production = next(s for s in after_firm["sub_orders"] if s["kind"] == "production")
    assert production["status"] == "scheduled"

    await _loan_approved_and_disbursed(orders, oid)
    await _build_ship_arrive(orders, oid)

    early = await orders.post(f"/v1/orders/{oid}/deliver", "app-backend")
    assert early.status_code == 409
    assert early.json()["code"] == "gate_closed"
    await orders.billing_paid(oid, "final")
    delivered = await orders.post(f"/v1/orders/{oid}/deliver", "app-backend")
    assert delivered.status_code == 200
    assert delivered.json()["status"] == "delivered"

    assert await orders.outbox_types(oid) == [
        "OrderCreated",
        "OrderIntentPaid",
        "OrderRepriced",
        "OrderLocked",
        "OrderFirmPaid",
        "ProductionScheduled",
        "LoanSubmitted",
        "LoanApproved",
        "LoanDisbursed",
        "VehicleBuilt",
        "VehicleShipped",
        "VehicleArrivedAtDeliveryCentre",
        "VehicleReadyForDelivery",
        "OrderFinalPaid",
        "OrderDelivered",
    ]
    history = (
        await orders.http.get(f"/v1/orders/{oid}/history", headers=orders.auth("finance"))
    ).json()
    moves = [(e["entity"], e["from_status"], e["to_status"]) for e in history["entries"]]
    assert ("vehicle_order", "created", "intent_paid") in moves
    assert ("production_order", "waiting", "scheduled") in moves
    assert ("vehicle_order", "final_paid", "delivered") in moves
    assert all(e["actor"] and e["at"] for e in history["entries"])
    scheduled = next(e for e in history["entries"] if e["to_status"] == "scheduled")
    assert scheduled["actor"] == "billing-service"


async def _loan_approved_and_disbursed(orders: OrderHarness, oid: str) -> None:
    submitted = await orders.post(f"/v1/orders/{oid}/loan/submit", "bank", {"bank_code": "ICBC"})
    assert submitted.status_code == 200, submitted.text
    too_much = await orders.post(
        f"/v1/orders/{oid}/loan/approve", "bank", {"principal_fen": 10_000_001}
    )
    assert too_much.status_code == 422
    assert too_much.json()["field"] == "principal_fen"
    approved = await orders.post(
        f"/v1/orders/{oid}/loan/approve", "bank", {"principal_fen": 10_000_000}
    )
    assert approved.status_code == 200
    disbursed = {"amount_fen": 10_000_000, "bank_reference": "ICBC-1"}
    assert (
        await orders.post(f"/v1/orders/{oid}/loan/disburse", "bank", disbursed)
    ).status_code == 200
    again = await orders.post(f"/v1/orders/{oid}/loan/disburse", "bank", disbursed)
    assert again.status_code == 200  # the same bank notice again changes nothing
    loan = next(s for s in again.json()["sub_orders"] if s["kind"] == "loan")
    assert (loan["status"], loan["principal_fen"], loan["bank_reference"]) == (
        "disbursed",
        10_000_000,
        "ICBC-1",
    )


async def _build_ship_arrive(orders: OrderHarness, oid: str) -> None:
    wrong_order = await orders.post(f"/v1/orders/{oid}/production/shipped", "sre")
    assert wrong_order.status_code == 409
    assert "cannot move from scheduled to shipped" in wrong_order.json()["detail"]
    built = await orders.post(
        f"/v1/orders/{oid}/production/built", "sre", {"vin": "LSVAU2180N2183294"}
    )
    assert built.status_code == 200
    assert (await orders.post(f"/v1/orders/{oid}/production/shipped", "sre")).status_code == 200
    arrived = await orders.post(
        f"/v1/orders/{oid}/production/arrived", "sre", {"delivery_centre": "SH-Pudong"}
    )
    assert arrived.json()["status"] == "ready_for_delivery"
    [ready] = await orders.outbox_payloads(oid, "VehicleReadyForDelivery")
    assert ready["vin"] == "LSVAU2180N2183294"
    assert ready["delivery_centre"] == "SH-Pudong"


async def test_charging_pile_progress_by_the_installer(orders: OrderHarness) -> None:
    oid = (await orders.create(charging_pile=True))["order_id"]
    installed_early = await orders.post(f"/v1/orders/{oid}/charging-pile/installed", "installer")
    assert installed_early.status_code == 409
    assert (
        await orders.post(f"/v1/orders/{oid}/charging-pile/surveyed", "installer")
    ).status_code == 200
    done = await orders.post(f"/v1/orders/{oid}/charging-pile/installed", "installer")
    pile = next(s for s in done.json()["sub_orders"] if s["kind"] == "charging_pile")
    assert pile["status"] == "installed"
    other = (await orders.create(charging_pile=True))["order_id"]
    declined = await orders.post(
        f"/v1/orders/{other}/charging-pile/not-needed", "installer", {"reason": "charger exists"}
    )
    assert declined.json()["charging_pile"] is False
    assert await orders.outbox_types(other) == ["OrderCreated", "ChargingPileNotNeeded"]


async def test_loan_rejection_turns_the_share_into_self_pay(orders: OrderHarness) -> None:
    oid = (await orders.create(loan_fen=8_000_000))["order_id"]
    await orders.post(f"/v1/orders/{oid}/loan/submit", "bank", {"bank_code": "CCB"})
    rejected = await orders.post(f"/v1/orders/{oid}/loan/reject", "bank", {"reason": "income"})
    assert rejected.json()["loan_fen"] == 0
    [event] = await orders.outbox_payloads(oid, "LoanRejected")
    assert (event["reason"], event["requested_fen"]) == ("income", 8_000_000)


async def test_cancellation_before_lock_and_refusal_after(orders: OrderHarness) -> None:
    oid = (await orders.create(loan_fen=1_000_000))["order_id"]
    await orders.billing_paid(oid, "intent")
    cancelled = await orders.post(
        f"/v1/orders/{oid}/cancel", "app-backend", {"reason": "changed mind"}
    )
    assert cancelled.status_code == 200
    body = cancelled.json()
    assert body["status"] == "cancelled"
    assert {s["kind"]: s["status"] for s in body["sub_orders"]} == {
        "fund": "cancelled",
        "production": "cancelled",
        "charging_pile": "cancelled",
        "loan": "cancelled",
    }
    [event] = await orders.outbox_payloads(oid, "OrderCancelled")
    assert (event["previous_status"], event["was_locked"]) == ("intent_paid", False)
    # a late BillingPaid of a cancelled order changes nothing (billing refunds it)
    await orders.billing_paid(oid, "intent")
    assert await orders.outbox_types(oid) == ["OrderCreated", "OrderIntentPaid", "OrderCancelled"]

    locked = (await orders.create())["order_id"]
    await orders.billing_paid(locked, "intent")
    await orders.post(f"/v1/orders/{locked}/lock", "app-backend")
    refused = await orders.post(f"/v1/orders/{locked}/cancel", "app-backend", {"reason": "late"})
    assert refused.status_code == 409
    assert "only before the configuration lock" in refused.json()["detail"]
    blank = await orders.post(f"/v1/orders/{oid}/cancel", "app-backend", {"reason": ""})
    assert blank.status_code == 422
    assert "reason" in blank.text


async def test_concurrent_locks_move_the_order_once(orders: OrderHarness) -> None:
    oid = (await orders.create())["order_id"]
    await orders.billing_paid(oid, "intent")

    results = await asyncio.gather(
        *(orders.post(f"/v1/orders/{oid}/lock", "app-backend") for _ in range(5))
    )

    assert sorted(r.status_code for r in results) == [200, 409, 409, 409, 409]
    assert (await orders.outbox_types(oid)).count("OrderLocked") == 1


async def test_service_order_goes_through_its_own_billing(orders: OrderHarness) -> None:
    car = (await orders.create())["order_id"]
    body = {
        "parent_order_id": car,
        "kind": "window_film",
        "description": "ceramic",
        "price_fen": 300_000,
    }
    too_early = await orders.post("/v1/service-orders", "app-backend", body)
    assert too_early.status_code == 409
    assert too_early.json()["code"] == "gate_closed"
    await _deliver(orders, car)

    created = await orders.post("/v1/service-orders", "app-backend", body)
    assert created.status_code == 201, created.text
    sid = created.json()["order_id"]
    [announced] = await orders.outbox_payloads(sid, "OrderCreated")
    assert (announced["order_kind"], announced["parent_order_id"]) == ("service", car)
    assert announced["service_kind"] == "window_film"
    unpaid = await orders.post(f"/v1/service-orders/{sid}/complete", "app-backend")
    assert unpaid.status_code == 409
    await orders.billing_paid(sid, "service")
    done = await orders.post(f"/v1/service-orders/{sid}/complete", "app-backend")
    assert done.json()["status"] == "completed"
    listed = await orders.http.get(
        f"/v1/orders/{car}/service-orders", headers=orders.auth("finance")
    )
    assert [s["order_id"] for s in listed.json()] == [sid]
    history = await orders.http.get(f"/v1/orders/{sid}/history", headers=orders.auth("finance"))
    assert [e["to_status"] for e in history.json()["entries"]] == ["created", "paid", "completed"]
    unknown = {**body, "parent_order_id": str(uuid.uuid4())}
    missing = await orders.post("/v1/service-orders", "app-backend", unknown)
    assert missing.status_code == 422
    assert missing.json()["field"] == "parent_order_id"


async def _deliver(orders: OrderHarness, oid: str) -> None:
    await orders.billing_paid(oid, "intent")
    await orders.post(f"/v1/orders/{oid}/lock", "app-backend")
    await orders.billing_paid(oid, "firm")
    await orders.post(f"/v1/orders/{oid}/production/built", "sre", {"vin": "VIN1"})
    await orders.post(f"/v1/orders/{oid}/production/shipped", "sre")
    await orders.post(f"/v1/orders/{oid}/production/arrived", "sre", {"delivery_centre": "BJ"})
    await orders.billing_paid(oid, "final")
    delivered = await orders.post(f"/v1/orders/{oid}/deliver", "app-backend")
    assert delivered.json()["status"] == "delivered"
