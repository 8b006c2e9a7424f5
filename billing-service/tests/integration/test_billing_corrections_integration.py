"""PaymentCorrected through billing's consumer handler on real PostgreSQL: a payment counts
the channel's figure once (the billing is paid, the amount is stored), and a refund the
channel completed or made larger is applied as the refund it adds, once."""

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
