"""Payment codes (付款码) charged at the terminal: routed by prefix, reserved like a terminal
fetch, charged through Alipay's 当面付 bar code call (the channel sandbox plays it: a code
ending in 9 makes the customer enter a password first, one ending in 8 is refused). A
synchronous success is confirmed by query; "user paying" is queried until it settles, and
cancelled at the channel when it times out."""

from __future__ import annotations

import uuid
from typing import Any

import pytest
import sqlalchemy as sa

from channel_sandbox.store import PayState
from payment_gateway.adapters.tables import payments
from payment_gateway.testing.harness import Harness, auth

pytestmark = pytest.mark.integration
AMOUNT_FEN = 300_000
PAID_CODE = "280000000000000001"
USER_PAYING_CODE = "280000000000000009"
REFUSED_CODE = "280000000000000008"


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


async def test_user_paying_that_times_out_is_cancelled(harness: Harness) -> None:
    h = harness
    token, terminal = await _order_qr(h)
    body = (await _charge(h, token, terminal, USER_PAYING_CODE)).json()
    async with h.gw.sessions() as session, session.begin():
        await session.execute(
            sa.update(payments)
            .where(payments.c.payment_id == uuid.UUID(body["payment_id"]))
            .values(expires_at=sa.func.now() - sa.text("interval '1 second'"))
        )
    await _settle_by_queries(h, body["payment_id"])
    assert await h.status_of(body["payment_id"]) == "closed"
    assert ("alipay", "alipay.trade.cancel", "ok") in h.sandbox.calls("alipay")
    assert h.sandbox.order("alipay", body["out_trade_no"]).state is PayState.CLOSED
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
