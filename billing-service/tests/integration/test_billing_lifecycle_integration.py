"""The fund order through the order lifecycle on real PostgreSQL: opening, lock, ready,
loan decisions, repricing, cancellation with its reason, service orders, and the queries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pytest

from billing_service.domain.errors import ConfigurationFrozen
from otd_shared.events import (
    LoanApproved,
    LoanDisbursed,
    LoanRejected,
    OrderCancelled,
    OrderCreated,
    OrderLocked,
    OrderRepriced,
    VehicleReadyForDelivery,
)

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration
PRICE_FEN = 30_000_000
INTENT_FEN, FIRM_FEN = 500_000, 5_000_000
LOAN_FEN = 10_000_000


async def test_order_created_opens_three_billings_that_add_up_to_the_price(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order(loan_fen=LOAN_FEN)

    fund = await billing.fund(order_id)
    bills = {b["stage"]: b for b in fund["billings"]}
    assert [b["stage"] for b in fund["billings"]] == ["intent", "firm", "final"]
    assert sum(b["amount_fen"] for b in bills.values()) + LOAN_FEN == PRICE_FEN
    assert sum(b["total_amount_fen"] for b in bills.values()) == PRICE_FEN
    assert bills["final"]["amount_fen"] == PRICE_FEN - INTENT_FEN - FIRM_FEN - LOAN_FEN
    assert bills["final"]["loan_share_fen"] == LOAN_FEN
    assert (bills["intent"]["status"], bills["firm"]["status"]) == ("due", "pending")
    assert bills["intent"]["due_at"] is not None
    assert bills["firm"]["due_at"] is None
    assert await billing.outbox_types(order_id) == ["FundOrderOpened", "BillingDue"]
    [due] = await billing.outbox(order_id, "BillingDue")
    assert due["payload"]["customer_payable_fen"] == INTENT_FEN
    deliveries = await billing.http.get(
        "/v1/webhook-deliveries", params={"order_id": order_id}, headers=billing.auth("finance")
    )
    [push] = deliveries.json()["items"]
    assert (push["event_type"], push["status"], push["event_id"]) == (
        "BillingDue",
        "pending",
        due["event_id"],
    )


async def test_lock_ready_loan_and_self_pay_complete_the_fund_order(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order(loan_fen=LOAN_FEN)
    bills = await billing.billings(order_id)
    await billing.callback(order_id, bills["intent"]["billing_id"], INTENT_FEN)
    await billing.deliver(OrderLocked(order_id=order_id, locked_at=_now()))
    firm = (await billing.billings(order_id))["firm"]
    assert firm["status"] == "due"
    await billing.callback(order_id, firm["billing_id"], 3_000_000, channel="unionpay")
    await billing.callback(order_id, firm["billing_id"], 2_000_000, channel="cash")
    await billing.deliver(
        LoanApproved(order_id=order_id, loan_order_id="loan-1", principal_fen=9_000_000)
    )
    await billing.deliver(VehicleReadyForDelivery(order_id=order_id, delivery_centre="SH"))

    final = (await billing.billings(order_id))["final"]
    self_pay_fen = PRICE_FEN - INTENT_FEN - FIRM_FEN - 9_000_000
    assert (final["status"], final["amount_fen"], final["customer_payable_fen"]) == (
        "due",
        self_pay_fen,
        self_pay_fen,
    )
    [final_due] = [
        e for e in await billing.outbox(order_id, "BillingDue") if e["payload"]["stage"] == "final"
    ]
    assert final_due["payload"]["loan_share_fen"] == 9_000_000
    await billing.deliver(
        LoanDisbursed(
            order_id=order_id, loan_order_id="loan-1", amount_fen=9_000_000, bank_reference="B-1"
        )
    )
    await billing.callback(order_id, final["billing_id"], self_pay_fen, channel="wire")

    fund = await billing.fund(order_id)
    assert fund["status"] == "paid"
    final = {b["stage"]: b for b in fund["billings"]}["final"]
    assert (final["status"], final["paid_fen"], final["loan_paid_fen"]) == (
        "paid",
        self_pay_fen,
        9_000_000,
    )
    paid = [e["payload"]["stage"] for e in await billing.outbox(order_id, "BillingPaid")]
    assert paid == ["intent", "firm", "final"]


async def test_a_rejected_loan_becomes_self_pay_and_the_user_is_told(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order(loan_fen=LOAN_FEN)

    await billing.deliver(LoanRejected(order_id=order_id, loan_order_id="l", reason="income"))

    final = (await billing.billings(order_id))["final"]
    assert (final["amount_fen"], final["loan_share_fen"]) == (PRICE_FEN - INTENT_FEN - FIRM_FEN, 0)
    [changed] = await billing.outbox(order_id, "BillingAmountChanged")
    assert changed["payload"]["self_pay_fen"] == PRICE_FEN - INTENT_FEN - FIRM_FEN
    assert (
        changed["payload"]["previous_self_pay_fen"] == PRICE_FEN - INTENT_FEN - FIRM_FEN - LOAN_FEN
    )
    pushes = await billing.http.get(
        "/v1/webhook-deliveries", params={"order_id": order_id}, headers=billing.auth("sre")
    )
    assert {p["event_type"] for p in pushes.json()["items"]} == {
        "BillingDue",
        "BillingAmountChanged",
    }


async def test_repricing_moves_the_final_billing_until_the_lock(billing: BillingHarness) -> None:
    order_id = await billing.open_order()

    await billing.deliver(
        OrderRepriced(order_id=order_id, vehicle_model="OTD-S", price_fen=PRICE_FEN + 1_000)
    )
    assert (await billing.billings(order_id))["final"]["amount_fen"] == (
        PRICE_FEN + 1_000 - INTENT_FEN - FIRM_FEN
    )
    await billing.deliver(OrderLocked(order_id=order_id, locked_at=_now()))
    with pytest.raises(ConfigurationFrozen):  # the consumer parks it: the services disagree
        await billing.deliver(
            OrderRepriced(order_id=order_id, vehicle_model="OTD-S", price_fen=PRICE_FEN)
        )


async def test_cancellation_before_lock_refunds_the_intent_deposit_and_says_why(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, INTENT_FEN, channel="alipay")
    not_yet = await billing.http.get(
        f"/v1/orders/{order_id}/cancellation", headers=billing.auth("app-backend")
    )
    assert (not_yet.status_code, not_yet.json()["code"]) == (404, "not_cancelled")

    await billing.deliver(OrderCancelled(order_id=order_id, reason="changed my mind"))

    result = await billing.http.get(
        f"/v1/orders/{order_id}/cancellation", headers=billing.auth("app-backend")
    )
    body = result.json()
    assert (body["refund_fen"], body["retained_fen"]) == (INTENT_FEN, 0)
    assert "before the configuration lock" in body["reason"]
    [request] = body["refund_requests"]
    assert (request["payment_id"], request["channel"]) == (payment_id, "alipay")
    [refund] = await billing.outbox(order_id, "RefundRequested")
    assert refund["payload"]["amount_fen"] == INTENT_FEN
    assert {b["status"] for b in (await billing.fund(order_id))["billings"]} == {"cancelled"}
    cancelled = await billing.outbox(order_id, "BillingCancelled")
    assert [c["payload"]["retained_fen"] for c in cancelled] == [0, 0, 0]


async def test_after_the_lock_the_firm_deposit_is_kept_and_the_quote_says_so(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    bills = await billing.billings(order_id)
    await billing.callback(order_id, bills["intent"]["billing_id"], INTENT_FEN)
    await billing.deliver(OrderLocked(order_id=order_id, locked_at=_now()))
    await billing.callback(order_id, bills["firm"]["billing_id"], FIRM_FEN)

    quote = await billing.http.get(
        f"/v1/orders/{order_id}/cancellation-quote", headers=billing.auth("app-backend")
    )
    body = quote.json()
    assert (body["quote"], body["retained_fen"], body["refund_fen"]) == (
        True,
        INTENT_FEN + FIRM_FEN,
        0,
    )
    assert "not refundable after the lock under policy 'standard'" in body["reason"]
    assert (await billing.fund(order_id))["status"] == "open"  # the quote changed nothing

    await billing.deliver(
        OrderCancelled(order_id=order_id, reason="store decision", was_locked=True)
    )
    retained = [
        c["payload"]["retained_fen"] for c in await billing.outbox(order_id, "BillingCancelled")
    ]
    assert retained == [INTENT_FEN, FIRM_FEN, 0]
    assert await billing.outbox(order_id, "RefundRequested") == []


async def test_a_service_order_has_one_billing_paid_like_any_other(
    billing: BillingHarness,
) -> None:
    parent = await billing.open_order()
    service_id = str(uuid.uuid4())
    await billing.deliver(
        OrderCreated(
            order_id=service_id,
            customer_id=billing.customer_id,
            order_kind="service",
            vehicle_model="OTD-S",
            price_fen=300_000,
            parent_order_id=parent,
            service_kind="window_film",
        )
    )
    fund = await billing.fund(service_id)
    assert (fund["kind"], fund["parent_order_id"]) == ("service", parent)
    [service] = fund["billings"]
    assert (service["stage"], service["status"], service["amount_fen"]) == (
        "service",
        "due",
        300_000,
    )

    await billing.callback(service_id, service["billing_id"], 300_000)

    [paid] = await billing.outbox(service_id, "BillingPaid")
    assert paid["payload"]["stage"] == "service"


async def test_queries_list_billings_and_payments_with_pagination(billing: BillingHarness) -> None:
    orders = [await billing.open_order() for _ in range(3)]
    first_intent = (await billing.billings(orders[0]))["intent"]["billing_id"]
    await billing.callback(orders[0], first_intent, INTENT_FEN)
    params = {"customer_id": billing.customer_id, "status": "due", "limit": 1}
    finance = billing.auth("finance")

    page = await billing.http.get("/v1/billings", params=params, headers=finance)
    body = page.json()
    assert (body["total"], len(body["items"]), body["items"][0]["stage"]) == (2, 1, "intent")
    second = await billing.http.get("/v1/billings", params={**params, "offset": 1}, headers=finance)
    assert second.json()["items"][0]["order_id"] != body["items"][0]["order_id"]
    windowed = await billing.http.get(
        "/v1/billings",
        params={"customer_id": billing.customer_id, "due_before": "2000-01-01T00:00:00Z"},
        headers=finance,
    )
    assert windowed.json()["total"] == 0
    history = await billing.http.get(
        f"/v1/customers/{billing.customer_id}/payments", headers=billing.auth("app-backend")
    )
    [payment] = history.json()["items"]
    assert (payment["order_id"], payment["stage"], payment["amount_fen"]) == (
        orders[0],
        "intent",
        INTENT_FEN,
    )


@pytest.mark.parametrize(
    ("path", "params", "status", "field"),
    [
        ("/v1/orders/{missing}/fund-order", {}, 404, None),
        ("/v1/orders/not-a-uuid/fund-order", {}, 404, None),
        ("/v1/billings/{missing}", {}, 404, None),
        ("/v1/webhook-deliveries/999999999", {}, 404, None),
        ("/v1/billings", {"status": "bogus"}, 422, "status"),
        ("/v1/billings", {"limit": 0}, 422, "limit"),
        ("/v1/billings", {"due_from": "2024-01-01T00:00:00"}, 422, "due_from"),
    ],
)
async def test_unknown_ids_and_bad_parameters(
    billing: BillingHarness, path: str, params: dict[str, object], status: int, field: str | None
) -> None:
    url = path.format(missing=uuid.uuid4())
    response = await billing.http.get(url, params=params, headers=billing.auth("finance"))
    assert response.status_code == status, response.text
    if field is not None:
        assert field in response.text


async def test_roles(billing: BillingHarness) -> None:
    assert (await billing.http.get("/v1/billings")).status_code == 401
    installer = billing.auth("installer")
    assert (await billing.http.get("/v1/billings", headers=installer)).status_code == 403
    app = billing.auth("app-backend")
    assert (await billing.http.get("/v1/billings", headers=app)).status_code == 403
    assert (await billing.http.get("/v1/webhook-deliveries", headers=app)).status_code == 403


async def test_billing_metrics_are_exposed(billing: BillingHarness) -> None:
    text = (await billing.http.get("/metrics")).text
    for name in ("billing_payment_outcomes_total", "billing_webhook_attempts_total"):
        assert f"# TYPE {name} counter" in text


def _now() -> datetime:
    return datetime.now(UTC)
