"""PaymentCorrected through billing's consumer handler on real PostgreSQL: a payment counts
the channel's figure once (the billing is paid, the amount is stored), a refund the
channel completed or made larger is applied as the refund it adds, once, and a refund the
channel made smaller gives the difference back to its payment, once (credit still owed is
asked back anew)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest

from otd_shared.events import PaymentCorrected

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration


def _corrected(order_id: str, billing_id: str, payment_id: str, **kw: Any) -> PaymentCorrected:
    values: dict[str, Any] = {
        "correction_id": str(uuid.uuid4()), "adjustment_id": str(uuid.uuid4()),
        "discrepancy_id": str(uuid.uuid4()), "order_id": order_id, "billing_id": billing_id,
        "payment_id": payment_id, "channel": "wechatpay", "method": "app",
        "out_trade_no": f"OTD{payment_id}", "before_status": "succeeded",
        "before_amount_fen": 499_000, "after_amount_fen": 500_000, "delta_fen": 1_000,
        "completed_at": datetime.now(UTC), "corrected_at": datetime.now(UTC),
        "reason": "accepted the channel",
    }  # fmt: skip
    values.update(kw)
    return PaymentCorrected(**values)


async def test_a_corrected_payment_pays_its_billing_once(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, 499_000)
    assert (await billing.billings(order_id))["intent"]["status"] == "partially_paid"

    correction = _corrected(order_id, intent, payment_id)
    await billing.deliver(correction, producer="payment-gateway")
    await billing.deliver(correction, producer="payment-gateway")  # redelivered

    paid = (await billing.billings(order_id))["intent"]
    assert (paid["status"], paid["paid_fen"]) == ("paid", 500_000)
    assert len(await billing.outbox(order_id, "BillingPaid")) == 1
    detail = await billing.http.get(f"/v1/billings/{intent}", headers=billing.auth("finance"))
    assert [p["amount_fen"] for p in detail.json()["payments"]] == [500_000]


async def test_a_corrected_refund_is_applied_as_the_refund_it_adds(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, 500_000)
    refund_id = str(uuid.uuid4())
    completed = _corrected(
        order_id, intent, payment_id, refund_id=refund_id, before_status="processing",
        before_amount_fen=30_000, after_amount_fen=30_000, delta_fen=-30_000,
    )  # fmt: skip
    larger = _corrected(
        order_id, intent, payment_id, refund_id=refund_id, before_status="succeeded",
        before_amount_fen=30_000, after_amount_fen=35_000, delta_fen=-5_000,
    )  # fmt: skip
    for event in (completed, larger, larger):
        await billing.deliver(event, producer="payment-gateway")
    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 465_000


async def _conflicts(billing: BillingHarness, order_id: str) -> list[dict[str, Any]]:
    answer = await billing.http.get(
        "/v1/deferred-outcomes",
        params={"order_id": order_id, "status": "conflict"},
        headers=billing.auth("sre"),
    )
    assert answer.status_code == 200, answer.text
    items: list[dict[str, Any]] = answer.json()["items"]
    return items


async def test_a_refund_made_smaller_gives_the_difference_back_once(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, 500_000)
    refund_id = f"ref-{uuid.uuid4().hex[:8]}"
    await billing.callback(
        order_id, intent, 30_000, payment_id=payment_id, outcome="refunded", refund_id=refund_id
    )
    reopened = (await billing.billings(order_id))["intent"]
    assert (reopened["paid_fen"], reopened["status"]) == (470_000, "partially_paid")

    smaller = _corrected(
        order_id, intent, payment_id, refund_id=refund_id, before_status="succeeded",
        before_amount_fen=30_000, after_amount_fen=20_000, delta_fen=10_000,
    )  # fmt: skip
    await billing.deliver(smaller, producer="payment-gateway")
    await billing.deliver(smaller, producer="payment-gateway")  # redelivered
    other_figures = smaller.model_copy(update={"after_amount_fen": 25_000, "delta_fen": 5_000})
    await billing.deliver(other_figures, producer="payment-gateway")  # same correction id

    after = (await billing.billings(order_id))["intent"]
    assert after["paid_fen"] == 480_000
    detail = await billing.http.get(f"/v1/billings/{intent}", headers=billing.auth("finance"))
    [payment] = detail.json()["payments"]
    assert (payment["amount_fen"], payment["refunded_fen"]) == (500_000, 20_000)
    assert [c["refund_id"] for c in await _conflicts(billing, order_id)] == [
        other_figures.correction_id
    ]
    assert await billing.outbox(order_id, "RefundRequested") == []  # no credit: nothing owed


async def test_a_smaller_refund_of_credit_asks_the_rest_back(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    await billing.callback(order_id, intent, 500_000)
    extra = await billing.callback(order_id, intent, 100_000)  # overpaid: asked back
    [asked] = [e["payload"] for e in await billing.outbox(order_id, "RefundRequested")]
    assert (asked["payment_id"], asked["amount_fen"]) == (extra, 100_000)
    refund_id = f"ref-{uuid.uuid4().hex[:8]}"
    await billing.callback(
        order_id, intent, 100_000, payment_id=extra, outcome="refunded", refund_id=refund_id
    )
    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 500_000

    smaller = _corrected(
        order_id, intent, extra, refund_id=refund_id, before_status="succeeded",
        before_amount_fen=100_000, after_amount_fen=60_000, delta_fen=40_000,
    )  # fmt: skip
    await billing.deliver(smaller, producer="payment-gateway")
    await billing.deliver(smaller, producer="payment-gateway")

    # The channel returned 600.00 of the 1,000.00: 400.00 are the customer's, asked back anew.
    requests = [e["payload"] for e in await billing.outbox(order_id, "RefundRequested")]
    assert [(r["payment_id"], r["amount_fen"]) for r in requests] == [
        (extra, 100_000),
        (extra, 40_000),
    ]
    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 540_000
    detail = await billing.http.get(f"/v1/billings/{intent}", headers=billing.auth("finance"))
    refunded = {p["payment_id"]: p["refunded_fen"] for p in detail.json()["payments"]}
    assert refunded[extra] == 60_000


async def test_a_smaller_refund_billing_never_applied_is_a_conflict(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]["billing_id"]
    payment_id = await billing.callback(order_id, intent, 500_000)
    unknown = _corrected(
        order_id, intent, payment_id, refund_id="ref-never", before_status="succeeded",
        before_amount_fen=30_000, after_amount_fen=20_000, delta_fen=10_000,
    )  # fmt: skip
    await billing.deliver(unknown, producer="payment-gateway")
    assert (await billing.billings(order_id))["intent"]["paid_fen"] == 500_000
    [conflict] = await _conflicts(billing, order_id)
    assert "never applied" in conflict["error"]
