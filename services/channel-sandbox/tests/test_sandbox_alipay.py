"""Alipay against the sandbox: app pay via the control API, gateway.do, refund notifications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import Outcome
from channel_sandbox.testing import Merchant, Received, Receiver, new_trade_no, wait_for

Control = Callable[..., Awaitable[httpx.Response]]


def _order_string(merchant: Merchant, receiver: Receiver, out_trade_no: str, fen: int) -> str:
    return merchant.alipay_order_string(
        out_trade_no, fen, "OTD 小定", notify_url=f"{receiver.base_url}/callbacks/alipay"
    )


def _response(document: dict[str, object], method: str) -> dict[str, object]:
    value = document[method.replace(".", "_") + "_response"]
    assert isinstance(value, dict)
    return value


async def test_app_pay_from_order_string_notifies_and_query_is_signed(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("ALI")
    order_string = _order_string(merchant, receiver, out_trade_no, 50_000)
    accepted = await control(channel="alipay", action="pay", order_string=order_string)
    assert accepted.status_code == 202, accepted.text
    assert accepted.json()["out_trade_no"] == out_trade_no

    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    note = received.notification
    assert (note.kind, note.outcome, note.amount_fen) == (
        NotificationKind.PAYMENT,
        Outcome.SUCCEEDED,
        50_000,
    )
    assert note.channel_status == "TRADE_SUCCESS"

    document = await merchant.alipay("alipay.trade.query", {"out_trade_no": out_trade_no})
    assert "sign" in document
    query = _response(document, "alipay.trade.query")
    assert query["code"] == "10000"
    assert query["trade_status"] == "TRADE_SUCCESS"
    assert (query["total_amount"], query["trade_no"]) == ("500.00", note.channel_txn_id)


async def test_forged_order_string_is_refused(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    order_string = _order_string(merchant, receiver, new_trade_no("ALI"), 100)
    forged = order_string.replace("total_amount%22%3A%221.00", "total_amount%22%3A%220.01")
    assert forged != order_string
    response = await control(channel="alipay", action="pay", order_string=forged)
    assert response.status_code == 422


async def test_bad_request_signature_is_40002_unsigned(merchant: Merchant) -> None:
    document = await merchant.alipay(
        "alipay.trade.query", {"out_trade_no": new_trade_no("ALI")}, tamper=True
    )
    assert "sign" not in document
    error = _response(document, "alipay.trade.query")
    assert (error["code"], error["sub_code"]) == ("40002", "isv.invalid-signature")


async def test_unknown_trade_is_40004_trade_not_exist(merchant: Merchant) -> None:
    document = await merchant.alipay("alipay.trade.query", {"out_trade_no": new_trade_no("ALI")})
    error = _response(document, "alipay.trade.query")
    assert (error["code"], error["sub_code"]) == ("40004", "ACQ.TRADE_NOT_EXIST")


async def test_partial_then_full_refund_notifications(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("ALI")
    paid = await control(
        channel="alipay", out_trade_no=out_trade_no, action="pay", amount_fen=1_000
    )
    assert paid.status_code == 202
    await wait_for(lambda: receiver.of(out_trade_no))

    biz = {"out_trade_no": out_trade_no, "refund_amount": "3.00", "out_request_no": "RF1"}
    first = _response(await merchant.alipay("alipay.trade.refund", biz), "alipay.trade.refund")
    assert (first["code"], first["fund_change"], first["refund_fee"]) == ("10000", "Y", "3.00")
    again = _response(await merchant.alipay("alipay.trade.refund", biz), "alipay.trade.refund")
    assert (again["fund_change"], again["refund_fee"]) == ("N", "3.00")
    rest = {**biz, "refund_amount": "7.00", "out_request_no": "RF2"}
    second = _response(await merchant.alipay("alipay.trade.refund", rest), "alipay.trade.refund")
    assert second["refund_fee"] == "10.00"

    def refunds() -> list[Received]:
        return [r for r in receiver.of(out_trade_no) if r.notification.kind == "refund"]

    await wait_for(lambda: len(refunds()) == 2)
    by_request = {r.notification.out_refund_no: r.notification for r in refunds()}
    assert by_request["RF1"].channel_status == "TRADE_SUCCESS"
    assert by_request["RF1"].refund_amount_fen == 300
    assert by_request["RF2"].channel_status == "TRADE_CLOSED"
    assert by_request["RF2"].refund_amount_fen == 1_000  # cumulative refund_fee

    query = _response(
        await merchant.alipay("alipay.trade.query", {"out_trade_no": out_trade_no}),
        "alipay.trade.query",
    )
    assert query["trade_status"] == "TRADE_CLOSED"
    method = "alipay.trade.fastpay.refund.query"
    refund_query = _response(
        await merchant.alipay(method, {"out_trade_no": out_trade_no, "out_request_no": "RF1"}),
        method,
    )
    assert (refund_query["refund_status"], refund_query["refund_amount"]) == (
        "REFUND_SUCCESS",
        "3.00",
    )
    over = {**biz, "refund_amount": "0.01", "out_request_no": "RF3"}
    refused = _response(await merchant.alipay("alipay.trade.refund", over), "alipay.trade.refund")
    assert refused["code"] == "40004"


async def test_close_and_fail_notification(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    closed_no, failed_no = new_trade_no("ALI"), new_trade_no("ALI")
    await control(channel="alipay", out_trade_no=closed_no, action="open", amount_fen=100)
    close = _response(
        await merchant.alipay("alipay.trade.close", {"out_trade_no": closed_no}),
        "alipay.trade.close",
    )
    assert close["code"] == "10000"

    await control(channel="alipay", out_trade_no=failed_no, action="fail", amount_fen=100)
    [received] = await wait_for(lambda: receiver.of(failed_no))  # type: ignore[misc]
    assert received.notification.outcome is Outcome.FAILED
    assert received.notification.channel_status == "TRADE_CLOSED"


async def test_retries_until_exactly_success(receiver: Receiver, control: Control) -> None:
    out_trade_no = new_trade_no("ALI")
    receiver.fail_first[out_trade_no] = 2
    await control(channel="alipay", out_trade_no=out_trade_no, action="pay", amount_fen=100)
    await wait_for(lambda: len(receiver.of(out_trade_no)) == 3)
    bodies = {r.body for r in receiver.of(out_trade_no)}
    assert len(bodies) == 1  # every retry carries the same notify_id and signature
