"""Payment codes (付款码) charged at the terminal: routed by prefix, reserved like a terminal
fetch, charged at the code's channel over HTTP against the channel sandbox — Alipay 当面付 bar
code, WeChat API v2 micropay (XML signed with the API v2 key), UnionPay ACP 二维码消费 with
``qrNo``. The code's last digit decides what the customer does: 9 a password first (Alipay
10003, WeChat USERPAYING; UnionPay accepted and pending), 8 refused, anything else paid at
once. A synchronous success is confirmed by query; "user paying" is queried until it
settles, and cancelled at the channel when it times out (Alipay cancel, WeChat reverse)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from channel_sandbox.channels.base import NotificationEvent
from channel_sandbox.store import PayState
from payment_gateway.adapters.tables import payments
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
AMOUNT_FEN = 300_000
PAID_CODE = "280000000000000001"
USER_PAYING_CODE = "280000000000000009"
REFUSED_CODE = "280000000000000008"
WECHAT = {
    "paid": "134567890123456781",
    "paying": "134567890123456789",
    "refused": "134567890123456788",
}
UNIONPAY = {
    "paid": "6212345678901234561",
    "paying": "6212345678901234569",
    "refused": "6212345678901234568",
}
CODES = {"wechatpay": WECHAT, "unionpay": UNIONPAY}
CHARGE_CALL = {"wechatpay": "micropay", "unionpay": "code_consume"}
QUERY_CALL = {"wechatpay": "orderquery", "unionpay": "query"}


@pytest.fixture
async def harness(make_harness: Any) -> Any:
    async with make_harness(payment_code_poll_s=0.05, payment_code_wait_s=60) as h:
        yield h


async def _order_qr(h: Harness) -> tuple[str, str]:
    store = f"S{uuid.uuid4().hex[:6].upper()}"
    terminal = f"T-UP-{store}"
    put = await h.client.put(
        f"/v1/pos/stores/{store}",
        json={"name": "Code store", "terminals": {terminal: "unionpay"}},
        headers=auth("sre"),
    )
    assert put.status_code == 200, put.text
    billing = await h.due_billing(stage="firm", amount_fen=AMOUNT_FEN * 3)
    qr = await h.client.post(
        "/v1/pos/order-qr",
        json={"billing_id": str(billing), "amount_fen": AMOUNT_FEN, "store_id": store},
        headers=auth("app-backend"),
    )
    assert qr.status_code == 201, qr.text
    return qr.json()["token"], terminal


async def _charge(h: Harness, token: str, terminal: str, code: str) -> Any:
    return await h.client.post(
        "/v1/pos/payment-codes",
        json={"token": token, "terminal_id": terminal, "auth_code": code},
        headers=auth("pos-integrator"),
    )


async def _charged(h: Harness, code: str) -> dict[str, Any]:
    """A fresh order QR charged with ``code`` (201); the code is never echoed."""
    token, terminal = await _order_qr(h)
    charged = await _charge(h, token, terminal, code)
    assert charged.status_code == 201, charged.text
    assert code not in charged.text  # a payment code is a bearer credential
    body: dict[str, Any] = charged.json()
    return body


async def _expire(h: Harness, payment_id: str) -> None:
    async with h.gw.sessions() as session, session.begin():
        await session.execute(
            sa.update(payments)
            .where(payments.c.payment_id == uuid.UUID(payment_id))
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
        )


async def _settle_by_queries(h: Harness, payment_id: str) -> None:
    for _ in range(20):
        await h.make_due(payment_id)
        await h.scheduler().run_once()
        if await h.status_of(payment_id) not in ("paying", "unknown"):
            return
    raise AssertionError("payment did not settle")


async def test_code_paid_at_once_is_confirmed_by_query(harness: Harness) -> None:
    h = harness
    token, terminal = await _order_qr(h)
    charged = await _charge(h, token, terminal, PAID_CODE)
    assert charged.status_code == 201, charged.text
    body = charged.json()
    assert (body["channel"], body["method"], body["status"], body["amount_fen"]) == (
        "alipay",
        "bar_code",
        "succeeded",
        AMOUNT_FEN,
    )
    calls = [api for channel, api, _ in h.sandbox.calls("alipay")]
    assert calls[-2:] == ["alipay.trade.pay", "alipay.trade.query"]
    [event] = await h.callbacks_events(body["payment_id"])
    assert (event["outcome"], event["channel"], event["method"]) == (
        "succeeded",
        "alipay",
        "bar_code",
    )
    again = await _charge(h, token, terminal, PAID_CODE)
    assert again.status_code == 409  # the order QR is used: its payment succeeded


async def test_user_paying_is_queried_until_the_customer_confirms(harness: Harness) -> None:
    h = harness
    token, terminal = await _order_qr(h)
    charged = await _charge(h, token, terminal, USER_PAYING_CODE)
    assert charged.status_code == 201, charged.text
    body = charged.json()
    assert body["status"] == "paying"
    same = await _charge(h, token, terminal, USER_PAYING_CODE)
    assert (same.status_code, same.json()["payment_id"]) == (200, body["payment_id"])
    await h.scheduler().run_once()  # not due yet or still waiting: nothing settles
    assert await h.status_of(body["payment_id"]) == "paying"
    h.sandbox.pay("alipay", body["out_trade_no"])  # the customer entered the password
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "succeeded"
    assert len(await h.callbacks_events(body["payment_id"])) == 1


@pytest.mark.parametrize(
    ("channel", "code", "cancel_call"),
    [
        ("alipay", USER_PAYING_CODE, "alipay.trade.cancel"),
        ("wechatpay", "134567890123456789", "reverse"),  # micropay's 撤销
    ],
)
async def test_user_paying_that_times_out_is_cancelled(
    harness: Harness, channel: str, code: str, cancel_call: str
) -> None:
    h = harness
    body = await _charged(h, code)
    await _expire(h, body["payment_id"])
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "closed"
    assert (channel, cancel_call, "ok") in h.sandbox.calls(channel)
    assert h.sandbox.order(channel, body["out_trade_no"]).state is PayState.CLOSED
    [event] = await h.callbacks_events(body["payment_id"])
    assert event["outcome"] == "failed"


async def test_refused_code_fails_the_payment(harness: Harness) -> None:
    h = harness
    token, terminal = await _order_qr(h)
    body = (await _charge(h, token, terminal, REFUSED_CODE)).json()
    assert body["status"] == "failed"
    payment = await h.payment(body["payment_id"])
    assert payment["failure_code"] == "ACQ.PAYMENT_AUTH_CODE_INVALID"
    [event] = await h.callbacks_events(body["payment_id"])
    assert event["outcome"] == "failed"


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("990000000000000001", "unknown_payment_code"),
        ("28000", "unknown_payment_code"),
        ("28000000000000000x", "unknown_payment_code"),
        ("1345678901234567890", "unknown_payment_code"),  # WeChat codes have 18 digits
        ("621234567890123456", "unknown_payment_code"),  # UnionPay codes have 19
    ],
)
async def test_codes_no_channel_charges_are_refused_and_reserve_nothing(
    harness: Harness, code: str, expected: str
) -> None:
    h = harness
    token, terminal = await _order_qr(h)
    refused = await _charge(h, token, terminal, code)
    assert (refused.status_code, refused.json()["code"]) == (422, expected)
    assert code not in refused.text  # a payment code is a bearer credential
    paid = await _charge(h, token, terminal, PAID_CODE)
    assert paid.status_code == 201, "the order QR is still unused"


@pytest.mark.parametrize("channel", ["wechatpay", "unionpay"])
async def test_wechat_and_unionpay_code_paid_at_once_is_confirmed_by_query(
    harness: Harness, channel: str
) -> None:
    h = harness
    body = await _charged(h, CODES[channel]["paid"])
    assert (body["channel"], body["method"], body["status"], body["amount_fen"]) == (
        channel,
        "bar_code",
        "succeeded",
        AMOUNT_FEN,
    )
    calls = [api for _, api, result in h.sandbox.calls(channel) if result == "ok"]
    assert calls[-2:] == [CHARGE_CALL[channel], QUERY_CALL[channel]]
    order = h.sandbox.order(channel, body["out_trade_no"])
    payment = await h.payment(body["payment_id"])
    assert payment["channel_txn_id"] == order.channel_txn_id
    [event] = await h.callbacks_events(body["payment_id"])
    assert (event["outcome"], event["channel"], event["amount_fen"]) == (
        "succeeded",
        channel,
        AMOUNT_FEN,
    )


@pytest.mark.parametrize("channel", ["wechatpay", "unionpay"])
async def test_wechat_and_unionpay_user_paying_is_queried_until_paid(
    harness: Harness, channel: str
) -> None:
    h = harness
    body = await _charged(h, CODES[channel]["paying"])
    assert body["status"] == "paying"
    await h.scheduler().run_once()
    assert await h.status_of(body["payment_id"]) == "paying"
    h.sandbox.pay(channel, body["out_trade_no"])  # the customer confirmed on the phone
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "succeeded"
    assert len(await h.callbacks_events(body["payment_id"])) == 1


async def test_unionpay_user_paying_past_the_wait_is_not_closed_blindly(harness: Harness) -> None:
    """ACP offers no close for a pending code order: we keep asking until UnionPay tells."""
    h = harness
    body = await _charged(h, UNIONPAY["paying"])
    await _expire(h, body["payment_id"])
    await h.make_due(body["payment_id"])
    await h.scheduler().run_once()
    assert await h.status_of(body["payment_id"]) == "paying"
    h.sandbox.set_state("unionpay", body["out_trade_no"], PayState.FAILED)
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "failed"


@pytest.mark.parametrize(
    ("channel", "failure_code"), [("wechatpay", "AUTHCODEEXPIRE"), ("unionpay", "01")]
)
async def test_refused_wechat_and_unionpay_codes_fail_the_payment(
    harness: Harness, channel: str, failure_code: str
) -> None:
    h = harness
    body = await _charged(h, CODES[channel]["refused"])
    assert body["status"] == "failed"
    assert (await h.payment(body["payment_id"]))["failure_code"] == failure_code
    [event] = await h.callbacks_events(body["payment_id"])
    assert event["outcome"] == "failed"


@pytest.mark.parametrize("channel", ["wechatpay", "unionpay"])
async def test_a_badly_signed_paid_answer_is_never_taken_as_paid(
    harness: Harness, channel: str
) -> None:
    """Hostile: the channel's answers (charge and query) do not verify → the payment stays
    open; once genuine answers come back the query settles it, once."""
    h = harness
    with h.sandbox.faulty(channel, "bad_signature"):
        body = await _charged(h, CODES[channel]["paid"])
        assert body["status"] == "paying"
        await h.make_due(body["payment_id"])
        await h.scheduler().run_once()
        assert await h.status_of(body["payment_id"]) == "paying"
    assert await h.callbacks_events(body["payment_id"]) == []
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "succeeded"
    assert len(await h.callbacks_events(body["payment_id"])) == 1


async def test_unionpay_back_notification_settles_the_code_reservation(harness: Harness) -> None:
    h = harness
    body = await _charged(h, UNIONPAY["paying"])
    order = h.sandbox.pay("unionpay", body["out_trade_no"])
    signed = h.sandbox.notification(
        "unionpay",
        NotificationEvent(
            out_trade_no=body["out_trade_no"],
            channel_txn_id=order.channel_txn_id,
            amount_fen=AMOUNT_FEN,
            extra_fields={"bizType": "000000", "txnSubType": "06"},  # as a QR consumption
        ),
    )
    answer = await h.notify("unionpay", dict(signed.headers), signed.body)
    assert answer.status_code == 200, answer.text
    payment = await h.payment(body["payment_id"])
    assert (payment["status"], payment["channel_txn_id"]) == ("succeeded", order.channel_txn_id)
    again = await h.notify("unionpay", dict(signed.headers), signed.body)
    assert again.status_code == 200
    assert len(await h.callbacks_events(body["payment_id"])) == 1


async def test_a_wechat_code_payment_is_refunded_through_the_v3_refund(harness: Harness) -> None:
    h = harness
    body = await _charged(h, WECHAT["paid"])
    refund = await h.client.post(
        f"/v1/payments/{body['payment_id']}/refunds",
        json={"amount_fen": 1_000, "reason": "overpaid"},
        headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
    )
    assert refund.status_code == 201, refund.text
    await h.scheduler().run_once()
    assert ("wechatpay", "refund", "ok") in h.sandbox.calls("wechatpay")
    order = h.sandbox.order("wechatpay", body["out_trade_no"])
    assert [r.amount_fen for r in order.refunds.values()] == [1_000]
