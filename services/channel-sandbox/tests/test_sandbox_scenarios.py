"""Control scenarios: duplicates, late and out-of-order notifications, retries, errors."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable

import httpx

from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import Outcome
from channel_sandbox.testing import Merchant, Receiver, new_trade_no, wait_for

Control = Callable[..., Awaitable[httpx.Response]]


async def _order(http: httpx.AsyncClient, channel: str, out_trade_no: str) -> dict:
    response = await http.get(f"/sandbox/orders/{channel}/{out_trade_no}")
    assert response.status_code == 200
    return dict(response.json())


async def test_pay_twice_delivers_the_same_bytes_concurrently_then_again(
    receiver: Receiver, control: Control, http: httpx.AsyncClient
) -> None:
    out_trade_no = new_trade_no("DUP")
    receiver.hold_s[out_trade_no] = 0.2  # keep both concurrent copies in flight together
    accepted = await control(
        channel="wechatpay", out_trade_no=out_trade_no, action="pay_twice", amount_fen=100
    )
    assert len(accepted.json()["delivery_ids"]) == 3
    await wait_for(lambda: len(receiver.of(out_trade_no)) == 3)
    received = receiver.of(out_trade_no)
    assert len({r.body for r in received}) == 1  # the same genuine notification
    assert len({r.notification.notification_id for r in received}) == 1
    assert receiver.max_in_flight[out_trade_no] == 2
    # the third copy starts only after the concurrent pair was answered
    assert received[2].at - received[1].at >= 0.15

    view = await _order(http, "wechatpay", out_trade_no)
    copies = [d["copy_of"] for d in view["notifications"]]
    assert copies[0] is None
    assert copies[1:] == [view["notifications"][0]["delivery_id"]] * 2


async def test_notify_late_query_sees_success_before_the_notification(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("LATE")
    started = time.time()
    await control(
        channel="alipay",
        out_trade_no=out_trade_no,
        action="notify_late",
        amount_fen=100,
        delay_ms=600,
    )
    document = await merchant.alipay("alipay.trade.query", {"out_trade_no": out_trade_no})
    assert document["alipay_trade_query_response"]["trade_status"] == "TRADE_SUCCESS"  # type: ignore[index]
    assert receiver.of(out_trade_no) == []
    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    assert received.at - started >= 0.6


async def test_notify_out_of_order_refund_before_payment(
    receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("OOO")
    accepted = await control(
        channel="wechatpay",
        out_trade_no=out_trade_no,
        action="notify_out_of_order",
        amount_fen=1_000,
        refund_amount_fen=300,
        delay_ms=100,
    )
    assert accepted.status_code == 202, accepted.text
    await wait_for(lambda: len(receiver.of(out_trade_no)) == 2)
    kinds = [r.notification.kind for r in receiver.of(out_trade_no)]
    assert kinds == [NotificationKind.REFUND, NotificationKind.PAYMENT]
    assert receiver.of(out_trade_no)[0].notification.refund_amount_fen == 300


async def test_retries_follow_the_schedule_then_give_up(
    receiver: Receiver, control: Control, http: httpx.AsyncClient
) -> None:
    out_trade_no = new_trade_no("GIVEUP")
    receiver.fail_first[out_trade_no] = 100
    await control(channel="unionpay", out_trade_no=out_trade_no, action="pay", amount_fen=100)

    async def gave_up() -> dict | None:
        [delivery] = (await _order(http, "unionpay", out_trade_no))["notifications"]
        return delivery if delivery["status"] == "gave_up" else None

    delivery = await wait_for(gave_up)
    attempts = delivery["attempts"]  # type: ignore[index]
    assert len(attempts) == 5  # UnionPay: 5 sends in total
    assert all(a["status_code"] == 500 and not a["accepted"] for a in attempts)
    recent = (
        await http.get("/sandbox/notifications", params={"out_trade_no": out_trade_no})
    ).json()
    assert recent["notifications"][0]["attempt_count"] == 5


async def test_unreachable_receiver_is_recorded_as_errors(
    control: Control, http: httpx.AsyncClient
) -> None:
    out_trade_no = new_trade_no("DOWN")
    await control(
        channel="unionpay",
        out_trade_no=out_trade_no,
        action="pay",
        amount_fen=100,
        notify_url="http://127.0.0.1:9/callbacks/unionpay",
    )

    async def first_attempt() -> dict | None:
        [delivery] = (await _order(http, "unionpay", out_trade_no))["notifications"]
        return delivery["attempts"][0] if delivery["attempts"] else None

    attempt = await wait_for(first_attempt)
    assert attempt["status_code"] is None  # type: ignore[index]
    assert attempt["error"]  # type: ignore[index]


async def test_control_errors(control: Control) -> None:
    unknown = await control(channel="alipay", out_trade_no=new_trade_no("X"), action="pay")
    assert unknown.status_code == 404
    out_trade_no = new_trade_no("X")
    await control(channel="allinpay", out_trade_no=out_trade_no, action="pay", amount_fen=100)
    again = await control(channel="allinpay", out_trade_no=out_trade_no, action="pay")
    assert again.status_code == 409
    bad = await control(channel="allinpay", out_trade_no=out_trade_no, action="dance")
    assert bad.status_code == 422
    mismatch = await control(
        channel="allinpay", out_trade_no=out_trade_no, action="refund", amount_fen=999
    )
    assert mismatch.status_code == 422


async def test_refuse_refunds_refuses_every_later_refund(control: Control) -> None:
    out_trade_no = new_trade_no("RR")
    await control(channel="unionpay", out_trade_no=out_trade_no, action="pay", amount_fen=500)
    armed = await control(channel="unionpay", out_trade_no=out_trade_no, action="refuse_refunds")
    assert armed.status_code == 202, armed.text
    assert armed.json()["plan"] == ["every later refund request is refused"]
    refund = await control(channel="unionpay", out_trade_no=out_trade_no, action="refund")
    assert refund.status_code == 409
    assert "refuses refunds" in refund.text


async def test_succeed_sync_then_fail_alipay(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("SYNC")
    accepted = await control(
        channel="alipay",
        out_trade_no=out_trade_no,
        action="succeed_sync_then_fail",
        amount_fen=2_000,
        delay_ms=300,
    )
    sync = accepted.json()["sync_result"]
    assert sync["resultStatus"] == "9000"
    app_result = merchant.verify_alipay_response("alipay.trade.app.pay", sync["result"])
    assert app_result["alipay_trade_app_pay_response"]["code"] == "10000"  # type: ignore[index]
    query = await merchant.alipay("alipay.trade.query", {"out_trade_no": out_trade_no})
    assert query["alipay_trade_query_response"]["trade_status"] == "WAIT_BUYER_PAY"  # type: ignore[index]

    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    assert received.notification.outcome is Outcome.FAILED
    query = await merchant.alipay("alipay.trade.query", {"out_trade_no": out_trade_no})
    assert query["alipay_trade_query_response"]["trade_status"] == "TRADE_CLOSED"  # type: ignore[index]
    assert len(receiver.of(out_trade_no)) == 1  # never a success notification


async def test_succeed_sync_then_fail_armed_lakala_preorder(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("SYNC")
    armed = await control(
        channel="lakala", out_trade_no=out_trade_no, action="succeed_sync_then_fail", delay_ms=200
    )
    assert armed.status_code == 202
    response = await merchant.lakala(
        "/api/v3/labs/trans/preorder",
        {
            "merchant_no": merchant.keys["lakala"].id("merchant_no"),
            "term_no": "A0000001",
            "out_trade_no": out_trade_no,
            "account_type": "WECHAT",
            "total_amount": "100",
            "notify_url": f"{receiver.base_url}/callbacks/lakala",
        },
    )
    assert response.json()["resp_data"]["trade_state"] == "SUCCESS"
    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    assert (received.notification.outcome, received.notification.channel_status) == (
        Outcome.FAILED,
        "FAIL",
    )
