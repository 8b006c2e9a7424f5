"""Payment outcomes applied to billings on real PostgreSQL: partial payments, duplicates,
concurrent completion, overpayment, out-of-order refunds and conflicts."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration
INTENT_FEN = 500_000


async def test_partial_payments_on_several_channels_pay_the_billing_once(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]

    await billing.callback(order_id, intent, 200_000, channel="wechatpay")
    partly = (await billing.billings(order_id))["intent"]
    assert (partly["status"], partly["paid_fen"]) == ("partially_paid", 200_000)
    await billing.callback(order_id, intent, 300_000, channel="alipay")

    paid = (await billing.billings(order_id))["intent"]
    assert (paid["status"], paid["paid_fen"], paid["customer_payable_fen"]) == ("paid", 500_000, 0)
    [event] = await billing.outbox(order_id, "BillingPaid")
    assert event["payload"]["paid_fen"] == INTENT_FEN
    detail = await billing.http.get(f"/v1/billings/{intent}", headers=billing.auth("finance"))
    assert [p["channel"] for p in detail.json()["payments"]] == ["wechatpay", "alipay"]


async def test_the_same_payment_twice_changes_nothing(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]

    payment_id = await billing.callback(order_id, intent, 100_000)
    before = await billing.outbox_types(order_id)
    await billing.callback(order_id, intent, 100_000, payment_id=payment_id)

    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 100_000
    assert await billing.outbox_types(order_id) == before


async def test_concurrent_payments_completing_one_billing_pay_it_once_with_the_exact_sum(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    amounts = [100_000] * 5  # together exactly the intent deposit

    await asyncio.gather(*(billing.callback(order_id, intent, a) for a in amounts))

    paid = (await billing.billings(order_id))["intent"]
    assert (paid["status"], paid["paid_fen"], paid["credit_fen"]) == ("paid", INTENT_FEN, 0)
    assert len(await billing.outbox(order_id, "BillingPaid")) == 1
    assert await billing.outbox(order_id, "BillingOverpaid") == []


async def test_two_full_payments_at_once_pay_once_and_refund_the_second(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]

    await asyncio.gather(*(billing.callback(order_id, intent, INTENT_FEN) for _ in range(2)))

    paid = (await billing.billings(order_id))["intent"]
    assert (paid["status"], paid["paid_fen"], paid["credit_fen"]) == (
        "paid",
        2 * INTENT_FEN,
        INTENT_FEN,
    )
    assert len(await billing.outbox(order_id, "BillingPaid")) == 1
    [overpaid] = await billing.outbox(order_id, "BillingOverpaid")
    assert overpaid["payload"]["overpaid_fen"] == INTENT_FEN
    [refund] = await billing.outbox(order_id, "RefundRequested")
    assert (refund["payload"]["amount_fen"], refund["payload"]["stage"]) == (INTENT_FEN, "intent")
    assert refund["payload"]["channel"] == "wechatpay"


async def test_a_refund_before_its_success_waits_and_is_applied_after_it(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]

    await billing.callback(
        order_id, intent, 100_000, payment_id="p-early", outcome="refunded", refund_id="r-1"
    )
    untouched = (await billing.billings(order_id))["intent"]
    assert (untouched["status"], untouched["paid_fen"]) == ("due", 0)
    waiting = await billing.http.get(
        "/v1/deferred-outcomes", params={"order_id": order_id}, headers=billing.auth("finance")
    )
    assert [(d["status"], d["refund_id"]) for d in waiting.json()["items"]] == [("waiting", "r-1")]

    await billing.callback(order_id, intent, INTENT_FEN, payment_id="p-early")

    after = (await billing.billings(order_id))["intent"]
    assert (after["status"], after["paid_fen"]) == ("partially_paid", INTENT_FEN - 100_000)
    resolved = await billing.http.get(
        "/v1/deferred-outcomes", params={"order_id": order_id}, headers=billing.auth("finance")
    )
    assert [d["status"] for d in resolved.json()["items"]] == ["applied"]
    assert "BillingPaid" in await billing.outbox_types(order_id)
    assert "BillingReopened" in await billing.outbox_types(order_id)


async def test_contradicting_outcomes_are_kept_as_conflicts_and_change_nothing(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    bills = await billing.billings(order_id)
    intent, firm = bills["intent"]["billing_id"], bills["firm"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, 100_000)

    await billing.callback(order_id, intent, 100_000, payment_id=payment_id, outcome="failed")
    await billing.callback(order_id, intent, 999, payment_id=payment_id)
    await billing.callback(order_id, firm, 100_000, payment_id=payment_id)
    await billing.callback(order_id, "no-such-billing", 100_000)
    await billing.callback(order_id, intent, 0)
    await billing.callback(
        order_id, intent, 200_000, payment_id=payment_id, outcome="refunded", refund_id="r-big"
    )

    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 100_000
    conflicts = await billing.http.get(
        "/v1/deferred-outcomes",
        params={"order_id": order_id, "status": "conflict"},
        headers=billing.auth("sre"),
    )
    body = conflicts.json()
    assert body["total"] == 6
    assert all(item["error"] for item in body["items"])


async def test_a_failure_is_recorded_and_the_payment_may_come_later(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]

    await billing.callback(order_id, intent, 0, payment_id="p-f", outcome="failed")
    await billing.callback(order_id, intent, INTENT_FEN, payment_id="p-ok")

    detail = await billing.http.get(f"/v1/billings/{intent}", headers=billing.auth("app-backend"))
    assert detail.json()["failed_payment_ids"] == ["p-f"]
    assert detail.json()["status"] == "paid"
