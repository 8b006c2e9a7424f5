"""WeChat Pay v3 against the sandbox: signed requests in, signed responses and notifications out."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import Outcome
from channel_sandbox.testing import Merchant, Receiver, new_trade_no, wait_for

Control = Callable[..., Awaitable[httpx.Response]]


def _prepay_body(merchant: Merchant, out_trade_no: str, total: int, notify_url: str) -> dict:
    keys = merchant.keys["wechatpay"]
    return {
        "appid": keys.id("appid"),
        "mchid": keys.id("mchid"),
        "description": "OTD 小定",
        "out_trade_no": out_trade_no,
        "notify_url": notify_url,
        "amount": {"total": total, "currency": "CNY"},
    }


async def _prepay(merchant: Merchant, receiver: Receiver, out_trade_no: str, total: int) -> str:
    notify_url = f"{receiver.base_url}/callbacks/wechatpay"
    body = _prepay_body(merchant, out_trade_no, total, notify_url)
    response = await merchant.wechat("POST", "/v3/pay/transactions/app", body)
    assert response.status_code == 200, response.text
    return str(response.json()["prepay_id"])


async def _query(merchant: Merchant, out_trade_no: str) -> httpx.Response:
    mchid = merchant.keys["wechatpay"].id("mchid")
    url = f"/v3/pay/transactions/out-trade-no/{out_trade_no}?mchid={mchid}"
    return await merchant.wechat("GET", url)


async def test_prepay_pay_notifies_and_query_agrees(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("WX")
    prepay_id = await _prepay(merchant, receiver, out_trade_no, 12_345)
    assert prepay_id.startswith("wx")
    assert len(prepay_id) == 36
    assert (await _query(merchant, out_trade_no)).json()["trade_state"] == "NOTPAY"

    accepted = await control(channel="wechatpay", out_trade_no=out_trade_no, action="pay")
    assert accepted.status_code == 202, accepted.text

    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    note = received.notification
    assert (note.kind, note.outcome, note.amount_fen) == (
        NotificationKind.PAYMENT,
        Outcome.SUCCEEDED,
        12_345,
    )
    transaction = (await _query(merchant, out_trade_no)).json()
    assert transaction["trade_state"] == "SUCCESS"
    assert transaction["transaction_id"] == note.channel_txn_id
    assert len(note.channel_txn_id) == 28
    assert note.channel_txn_id.isdigit()
    assert transaction["amount"] == {
        "total": 12_345,
        "payer_total": 12_345,
        "currency": "CNY",
        "payer_currency": "CNY",
    }
    assert transaction["trade_type"] == "APP"
    assert transaction["success_time"].endswith("+08:00")


async def test_repeated_prepay_returns_the_same_prepay_id(
    merchant: Merchant, receiver: Receiver
) -> None:
    out_trade_no = new_trade_no("WX")
    first = await _prepay(merchant, receiver, out_trade_no, 100)
    assert await _prepay(merchant, receiver, out_trade_no, 100) == first
    body = _prepay_body(merchant, out_trade_no, 200, f"{receiver.base_url}/callbacks/wechatpay")
    conflict = await merchant.wechat("POST", "/v3/pay/transactions/app", body)
    assert (conflict.status_code, conflict.json()["code"]) == (403, "OUT_TRADE_NO_USED")


async def test_unsigned_or_tampered_requests_get_401_sign_error(
    merchant: Merchant, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    out_trade_no = new_trade_no("WX")
    body = _prepay_body(merchant, out_trade_no, 100, f"{receiver.base_url}/callbacks/wechatpay")
    unsigned = await merchant.wechat("POST", "/v3/pay/transactions/app", body, sign=False)
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "SIGN_ERROR")

    signed = await merchant.wechat("GET", "/v3/pay/transactions/out-trade-no/X123456?mchid=1")
    tampered = await http.get(
        "/v3/pay/transactions/out-trade-no/Y123456?mchid=1",
        headers={"Authorization": signed.request.headers["Authorization"]},
    )
    assert (tampered.status_code, tampered.json()["code"]) == (401, "SIGN_ERROR")
    merchant.verify_wechat_response(tampered)  # errors are signed too


async def test_unknown_order_is_404_order_not_exist(merchant: Merchant) -> None:
    response = await _query(merchant, new_trade_no("WX"))
    assert (response.status_code, response.json()["code"]) == (404, "ORDER_NOT_EXIST")


async def test_refund_processing_then_refund_success_notification(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("WX")
    await _prepay(merchant, receiver, out_trade_no, 10_000)
    await control(channel="wechatpay", out_trade_no=out_trade_no, action="pay")
    refund_body = {
        "out_trade_no": out_trade_no,
        "out_refund_no": out_trade_no + "R1",
        "reason": "客户取消",
        "notify_url": f"{receiver.base_url}/callbacks/wechatpay",
        "amount": {"refund": 4_000, "total": 10_000, "currency": "CNY"},
    }
    created = await merchant.wechat("POST", "/v3/refund/domestic/refunds", refund_body)
    assert created.status_code == 200, created.text
    assert created.json()["status"] == "PROCESSING"
    assert len(created.json()["refund_id"]) == 29

    refunds = await wait_for(
        lambda: [r for r in receiver.of(out_trade_no) if r.notification.kind == "refund"]
    )
    note = refunds[0].notification  # type: ignore[index]
    assert note.outcome is Outcome.REFUNDED
    assert (note.out_refund_no, note.refund_amount_fen) == (out_trade_no + "R1", 4_000)
    queried = await merchant.wechat("GET", f"/v3/refund/domestic/refunds/{out_trade_no}R1")
    assert queried.json()["status"] == "SUCCESS"
    assert (await _query(merchant, out_trade_no)).json()["trade_state"] == "REFUND"

    too_much = {**refund_body, "out_refund_no": out_trade_no + "R2"}
    too_much["amount"] = {"refund": 6_001, "total": 10_000, "currency": "CNY"}
    rejected = await merchant.wechat("POST", "/v3/refund/domestic/refunds", too_much)
    assert (rejected.status_code, rejected.json()["code"]) == (400, "INVALID_REQUEST")


async def test_close_is_a_signed_204_and_fail_sends_no_notification(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    mchid = merchant.keys["wechatpay"].id("mchid")
    closed_no, failed_no = new_trade_no("WX"), new_trade_no("WX")
    await _prepay(merchant, receiver, closed_no, 100)
    url = f"/v3/pay/transactions/out-trade-no/{closed_no}/close"
    closed = await merchant.wechat("POST", url, {"mchid": mchid})
    assert (closed.status_code, closed.content) == (204, b"")
    assert (await _query(merchant, closed_no)).json()["trade_state"] == "CLOSED"

    await _prepay(merchant, receiver, failed_no, 100)
    failed = await control(channel="wechatpay", out_trade_no=failed_no, action="fail")
    assert failed.status_code == 202
    assert failed.json()["delivery_ids"] == []
    assert (await _query(merchant, failed_no)).json()["trade_state"] == "PAYERROR"
    assert receiver.of(failed_no) == []


async def test_succeed_sync_then_fail_armed_before_prepay(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("WX")
    armed = await control(
        channel="wechatpay",
        out_trade_no=out_trade_no,
        action="succeed_sync_then_fail",
        delay_ms=2_000,  # the window must outlast a prepay and a query on a busy machine
    )
    assert armed.status_code == 202
    assert armed.json()["order"] is None
    notify_url = f"{receiver.base_url}/callbacks/wechatpay"
    body = _prepay_body(merchant, out_trade_no, 500, notify_url)
    prepay = await merchant.wechat("POST", "/v3/pay/transactions/app", body)
    assert prepay.json()["trade_state"] == "SUCCESS"  # the synchronous "paid"
    assert (await _query(merchant, out_trade_no)).json()["trade_state"] == "USERPAYING"

    async def failed() -> bool:
        return (await _query(merchant, out_trade_no)).json()["trade_state"] == "PAYERROR"

    await wait_for(failed, timeout_s=15)
    assert receiver.of(out_trade_no) == []
