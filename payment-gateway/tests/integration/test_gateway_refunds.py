"""Refunds, full and partial: requested by finance or by billing (RefundRequested), sent by the
scheduler, confirmed by the channel's notification or an active query; PaymentCallback
``refunded`` always carries the refund id."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from otd_shared.events import RefundRequested, new_envelope
from payment_gateway.adapters.repository import PaymentRepository, RefundRepository
from payment_gateway.service_layer.event_handlers import refund_requested_handler
from payment_gateway.testing.harness import Harness, auth
from payment_gateway.testing.notifications import refunded_event

pytestmark = pytest.mark.integration


async def _refund(
    h: Harness, payment_id: str, amount_fen: int | None, key: str | None = None
) -> Any:
    body: dict[str, Any] = {"reason": "customer cancelled"}
    if amount_fen is not None:
        body["amount_fen"] = amount_fen
    return await h.client.post(
        f"/v1/payments/{payment_id}/refunds",
        json=body,
        headers={**auth("finance"), "Idempotency-Key": key or uuid.uuid4().hex},
    )


async def _refund_status(h: Harness, refund_id: str) -> dict[str, Any]:
    got = await h.client.get(f"/v1/refunds/{refund_id}", headers=auth("finance"))
    result: dict[str, Any] = got.json()
    return result


async def _refunded_callbacks(h: Harness, payment_id: str) -> list[dict[str, Any]]:
    """The PaymentCallback payloads of the payment's refunds."""
    return [e for e in await h.callbacks_events(payment_id) if e["outcome"] == "refunded"]


async def test_partial_then_full_wechat_refund_confirmed_by_notification(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 10_000)
    first = await _refund(harness, paid["payment_id"], 3_000)
    assert first.status_code == 201, first.text
    refund = first.json()
    assert refund["status"] == "requested"
    await harness.scheduler().run_once()
    assert (await _refund_status(harness, refund["refund_id"]))["status"] == "processing"
    sim_refund = harness.sandbox.settle_refund("wechatpay", refund["out_refund_no"])
    signed = harness.sign(
        "wechatpay",
        refunded_event(
            paid, refund, channel_refund_id=sim_refund.refund_id, refund_amount_fen=3_000
        ),
    )
    for _ in range(3):
        answer = await harness.notify("wechatpay", dict(signed.headers), signed.body)
        assert answer.status_code == 204
    done = await _refund_status(harness, refund["refund_id"])
    assert done["status"] == "succeeded"
    assert done["channel_refund_id"] == sim_refund.refund_id
    payment = await harness.payment(paid["payment_id"])
    assert (payment["status"], payment["refunded_fen"]) == ("succeeded", 3_000)
    events = await _refunded_callbacks(harness, paid["payment_id"])
    assert len(events) == 1
    assert events[0]["refund_id"] == refund["refund_id"]
    assert events[0]["amount_fen"] == 3_000
    # the rest, by active query this time
    rest = (await _refund(harness, paid["payment_id"], None)).json()
    assert rest["amount_fen"] == 7_000
    await harness.scheduler().run_once()
    harness.sandbox.settle_refund("wechatpay", rest["out_refund_no"])
    await _query_refund(harness, rest["refund_id"])
    assert (await harness.payment(paid["payment_id"]))["refunded_fen"] == 10_000
    over = await _refund(harness, paid["payment_id"], 1)
    assert (over.status_code, over.json()["code"]) == (409, "not_refundable")


async def _query_refund(h: Harness, refund_id: str) -> None:
    for _ in range(10):
        await h.make_refund_due(refund_id)
        await h.scheduler().run_once()
        if (await _refund_status(h, refund_id))["status"] == "succeeded":
            return
    raise AssertionError("refund did not succeed")


async def test_alipay_partial_refund_keeps_trade_success_and_full_closes(harness: Harness) -> None:
    paid = await harness.paid("alipay", 20_000)
    part = (await _refund(harness, paid["payment_id"], 5_000)).json()
    await harness.scheduler().run_once()
    assert (await _refund_status(harness, part["refund_id"]))["status"] == "processing"
    partial = harness.sign(
        "alipay", refunded_event(paid, part, channel_refund_id="", refund_amount_fen=5_000)
    )
    assert b"trade_status=TRADE_SUCCESS" in partial.body
    assert (
        await harness.notify("alipay", dict(partial.headers), partial.body)
    ).content == b"success"
    assert (await _refund_status(harness, part["refund_id"]))["status"] == "succeeded"
    rest = (await _refund(harness, paid["payment_id"], 15_000)).json()
    await harness.scheduler().run_once()
    full = harness.sign(  # Alipay's refund_fee is cumulative
        "alipay", refunded_event(paid, rest, channel_refund_id="", refund_amount_fen=20_000)
    )
    assert b"trade_status=TRADE_CLOSED" in full.body
    assert (await harness.notify("alipay", dict(full.headers), full.body)).content == b"success"
    assert (await _refund_status(harness, rest["refund_id"]))["status"] == "succeeded"
    payment = await harness.payment(paid["payment_id"])
    assert (payment["status"], payment["refunded_fen"]) == ("succeeded", 20_000)
    refunded = await _refunded_callbacks(harness, paid["payment_id"])
    assert sorted(e["amount_fen"] for e in refunded) == [5_000, 15_000]
    assert {e["refund_id"] for e in refunded} == {part["refund_id"], rest["refund_id"]}


async def test_alipay_refund_confirmed_by_query(harness: Harness) -> None:
    paid = await harness.paid("alipay", 6_000)
    refund = (await _refund(harness, paid["payment_id"], 6_000)).json()
    await harness.scheduler().run_once()
    await _query_refund(harness, refund["refund_id"])  # Alipay refunds synchronously
    assert (await harness.payment(paid["payment_id"]))["refunded_fen"] == 6_000


async def test_lakala_refund_confirmed_by_cashier_notification(harness: Harness) -> None:
    paid = await harness.paid("lakala", 9_000)
    refund = (await _refund(harness, paid["payment_id"], 4_000)).json()
    await harness.scheduler().run_once()
    assert (await _refund_status(harness, refund["refund_id"]))["status"] == "processing"
    signed = harness.sign(
        "lakala",
        refunded_event(
            paid, refund, channel_refund_id="LKLR000000000000000001", refund_amount_fen=4_000
        ),
    )
    answer = await harness.notify("lakala", dict(signed.headers), signed.body)
    assert answer.status_code == 200, answer.text
    assert (await _refund_status(harness, refund["refund_id"]))["status"] == "succeeded"


async def test_refund_channel_refusal_fails_the_refund_without_event(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 5_000)
    refund = (await _refund(harness, paid["payment_id"], 5_000)).json()
    harness.sandbox.refuse_refund("wechatpay", refund["out_refund_no"])
    await harness.scheduler().run_once()
    assert (await _refund_status(harness, refund["refund_id"]))["status"] == "failed"
    assert await _refunded_callbacks(harness, paid["payment_id"]) == []
    again = await _refund(harness, paid["payment_id"], 5_000)
    assert again.status_code == 201  # a failed refund frees its amount


async def test_refund_rules(harness: Harness) -> None:
    open_payment = await harness.paying("wechatpay", 1_000)
    refused = await _refund(harness, open_payment["payment_id"], 100)
    assert (refused.status_code, refused.json()["code"]) == (409, "not_refundable")
    missing = await _refund(harness, str(uuid.uuid4()), 100)
    assert missing.status_code == 404
    paid = await harness.paid("wechatpay", 2_000)
    too_much = await _refund(harness, paid["payment_id"], 2_001)
    assert too_much.status_code == 409
    app = await harness.client.post(
        f"/v1/payments/{paid['payment_id']}/refunds",
        json={"reason": "x", "amount_fen": 1},
        headers={**auth("app-backend"), "Idempotency-Key": "k"},
    )
    assert app.status_code == 403
    first = await _refund(harness, paid["payment_id"], 500, key="refund-key")
    again = await _refund(harness, paid["payment_id"], 500, key="refund-key")
    assert first.json() == again.json()
    listed = await harness.client.get(
        f"/v1/payments/{paid['payment_id']}/refunds", headers=auth("finance")
    )
    assert [r["refund_id"] for r in listed.json()] == [first.json()["refund_id"]]


async def test_refund_requested_by_billing(harness: Harness) -> None:
    paid = await harness.paid("wechatpay", 8_000)
    handler = refund_requested_handler(harness.gw.now)

    def event(request_id: str, amount_fen: int, payment_id: str | None) -> Any:
        return new_envelope(
            RefundRequested(
                order_id=paid["order_id"],
                billing_id=paid["billing_id"],
                refund_request_id=request_id,
                amount_fen=amount_fen,
                reason="overpayment",
                payment_id=payment_id,
                channel="wechatpay",
            ),
            producer="billing-service",
            correlation_id="c",
        )

    requested = event(f"{paid['billing_id']}-R1", 2_000, paid["payment_id"])
    async with harness.gw.uow() as uow:
        await handler(uow, requested)
        await handler(uow, requested)  # redelivered: nothing new
        await handler(uow, event(f"{paid['billing_id']}-R2", 9_000, paid["payment_id"]))
        await handler(uow, event(f"{paid['billing_id']}-R3", 100, None))
        await uow.commit()
    async with harness.gw.sessions() as session:
        refunds = await RefundRepository(session).list_for_payment(uuid.UUID(paid["payment_id"]))
        assert await PaymentRepository(session).get(uuid.UUID(paid["payment_id"])) is not None
    by_request = {r.refund_request_id: r for r in refunds}
    assert by_request[f"{paid['billing_id']}-R1"].status.value == "requested"
    assert by_request[f"{paid['billing_id']}-R2"].status.value == "manual"
    assert len(refunds) == 2
    await harness.scheduler().run_once()
    one = by_request[f"{paid['billing_id']}-R1"]
    assert (await _refund_status(harness, str(one.refund_id)))["status"] == "processing"
