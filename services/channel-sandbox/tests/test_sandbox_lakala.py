"""Lakala 聚合扫码 and 收银台 against the sandbox: signed envelopes, both notification shapes."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import httpx

from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import Outcome
from channel_sandbox.testing import Merchant, Receiver, new_trade_no, wait_for

Control = Callable[..., Awaitable[httpx.Response]]
PREORDER = "/api/v3/labs/trans/preorder"
TRADEQUERY = "/api/v3/labs/query/tradequery"
REFUND = "/api/v3/labs/relation/refund"
COUNTER_CREATE = "/api/v3/ccss/counter/order/create"
COUNTER_QUERY = "/api/v3/ccss/counter/order/query"


def _merchant_no(merchant: Merchant) -> str:
    return merchant.keys["lakala"].id("merchant_no")


async def _preorder(merchant: Merchant, receiver: Receiver, out_trade_no: str, fen: int) -> dict:
    response = await merchant.lakala(
        PREORDER,
        {
            "merchant_no": _merchant_no(merchant),
            "term_no": "A0000001",
            "out_trade_no": out_trade_no,
            "account_type": "ALIPAY",
            "trans_type": "41",
            "total_amount": str(fen),
            "notify_url": f"{receiver.base_url}/callbacks/lakala",
            "subject": "OTD 小定",
        },
    )
    assert response.status_code == 200
    document = response.json()
    assert document["code"] == "BBS00000", document
    return dict(document["resp_data"])


async def _tradequery(merchant: Merchant, out_trade_no: str) -> dict:
    response = await merchant.lakala(
        TRADEQUERY,
        {
            "merchant_no": _merchant_no(merchant),
            "term_no": "A0000001",
            "out_trade_no": out_trade_no,
        },
    )
    return dict(response.json())


async def test_labs_preorder_pay_labs_notification(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("LK")
    created = await _preorder(merchant, receiver, out_trade_no, 8_800)
    assert created["log_no"] == created["trade_no"][-14:]
    assert created["acc_resp_fields"]["code"].startswith("https://qr.alipay.com/")
    assert (await _tradequery(merchant, out_trade_no))["resp_data"]["trade_state"] == "CREATE"

    await control(channel="lakala", out_trade_no=out_trade_no, action="pay")
    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    note = received.notification
    assert (note.kind, note.outcome, note.amount_fen) == (
        NotificationKind.PAYMENT,
        Outcome.SUCCEEDED,
        8_800,
    )
    assert "trade_state" in note.fields  # the flat 聚合扫码 shape
    assert note.fields["log_no"] == created["log_no"]
    queried = (await _tradequery(merchant, out_trade_no))["resp_data"]
    assert (queried["trade_state"], queried["trade_no"]) == ("SUCCESS", note.channel_txn_id)
    assert queried["account_type"] == "ALIPAY"


async def test_cashier_order_pay_cashier_notification_and_refund(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_order_no = new_trade_no("LKC")
    response = await merchant.lakala(
        COUNTER_CREATE,
        {
            "out_order_no": out_order_no,
            "merchant_no": _merchant_no(merchant),
            "total_amount": 20_000,
            "order_efficient_time": "20991231235959",
            "notify_url": f"{receiver.base_url}/callbacks/lakala",
            "order_info": "OTD 大定",
            "counter_param": {"pay_mode": "QUICK_PAY"},
        },
    )
    document = response.json()
    assert document["code"] == "000000", document
    pay_order_no = document["resp_data"]["pay_order_no"]
    assert document["resp_data"]["counter_url"].endswith(f"/sandbox/lakala/counter/{pay_order_no}")

    await control(channel="lakala", out_trade_no=out_order_no, action="pay")
    [paid] = await wait_for(lambda: receiver.of(out_order_no))  # type: ignore[misc]
    assert (paid.notification.channel_status, paid.notification.channel_txn_id) == (
        "2",
        pay_order_no,
    )
    query = await merchant.lakala(
        COUNTER_QUERY, {"merchant_no": _merchant_no(merchant), "out_order_no": out_order_no}
    )
    assert query.json()["resp_data"]["order_status"] == "2"

    refund = await merchant.lakala(
        REFUND,
        {
            "merchant_no": _merchant_no(merchant),
            "term_no": "A0000001",
            "out_trade_no": out_order_no + "R",
            "refund_amount": "20000",
            "origin_out_trade_no": out_order_no,
        },
    )
    assert refund.json()["code"] == "BBS00000"
    [refunded] = await wait_for(  # type: ignore[misc]
        lambda: [r for r in receiver.of(out_order_no) if r.notification.kind == "refund"]
    )
    assert (refunded.notification.channel_status, refunded.notification.refund_amount_fen) == (
        "6",
        20_000,
    )


async def test_unsigned_request_is_401_and_the_answer_is_signed(merchant: Merchant) -> None:
    response = await merchant.lakala(
        TRADEQUERY, {"merchant_no": _merchant_no(merchant), "out_trade_no": "X1"}, sign=False
    )
    assert response.status_code == 401
    assert response.json()["code"] != "BBS00000"


async def test_unknown_trade_and_wrong_merchant(merchant: Merchant) -> None:
    unknown = await _tradequery(merchant, new_trade_no("LK"))
    assert (unknown["code"], unknown["resp_data"]) == ("BBS11112", None)
    wrong = await merchant.lakala(
        TRADEQUERY, {"merchant_no": "822000000000000", "out_trade_no": "X"}
    )
    assert wrong.json()["code"] == "BBS11106"


async def test_retries_until_code_success(
    merchant: Merchant, receiver: Receiver, control: Control, http: httpx.AsyncClient
) -> None:
    out_trade_no = new_trade_no("LK")
    await _preorder(merchant, receiver, out_trade_no, 100)
    receiver.fail_first[out_trade_no] = 1
    await control(channel="lakala", out_trade_no=out_trade_no, action="pay")
    await wait_for(lambda: len(receiver.of(out_trade_no)) == 2)

    async def delivered() -> dict | None:
        view = (await http.get(f"/sandbox/orders/lakala/{out_trade_no}")).json()
        [delivery] = view["notifications"]
        return delivery if delivery["status"] == "delivered" else None

    delivery = await wait_for(delivered)
    attempts = delivery["attempts"]  # type: ignore[index]
    assert [a["accepted"] for a in attempts] == [False, True]
    assert '"FAIL"' in attempts[0]["answer"]
    assert '"SUCCESS"' in attempts[1]["answer"]


async def test_labs_partial_refund_by_origin_trade_no(
    merchant: Merchant, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("LK")
    created = await _preorder(merchant, receiver, out_trade_no, 1_000)
    await control(channel="lakala", out_trade_no=out_trade_no, action="pay")
    await wait_for(lambda: receiver.of(out_trade_no))
    refund = {
        "merchant_no": _merchant_no(merchant),
        "term_no": "A0000001",
        "out_trade_no": out_trade_no + "R",
        "refund_amount": "300",
        "origin_trade_no": created["trade_no"],
    }
    first = (await merchant.lakala(REFUND, refund)).json()
    again = (await merchant.lakala(REFUND, refund)).json()
    assert first["code"] == again["code"] == "BBS00000"
    assert first["resp_data"]["trade_no"] == again["resp_data"]["trade_no"]
    [refunded] = await wait_for(  # type: ignore[misc]
        lambda: [r for r in receiver.of(out_trade_no) if r.notification.kind == "refund"]
    )
    assert refunded.notification.channel_status == "PART_REFUND"
    queried = (await _tradequery(merchant, out_trade_no))["resp_data"]
    assert queried["trade_state"] == "PART_REFUND"
    refund_trade = (await _tradequery(merchant, out_trade_no + "R"))["resp_data"]
    assert (refund_trade["trade_state"], refund_trade["refund_amount"]) == ("SUCCESS", "300")
    assert refund_trade["origin_trade_no"] == created["trade_no"]


async def test_counter_page_pays_the_cashier_order(
    merchant: Merchant, receiver: Receiver, http: httpx.AsyncClient
) -> None:
    out_order_no = new_trade_no("LKC")
    created = await merchant.lakala(
        COUNTER_CREATE,
        {
            "out_order_no": out_order_no,
            "merchant_no": _merchant_no(merchant),
            "total_amount": "990",
            "notify_url": f"{receiver.base_url}/callbacks/lakala",
        },
    )
    counter_url = created.json()["resp_data"]["counter_url"]
    page = await http.get(counter_url)
    assert page.status_code == 200
    assert "9.90" in page.text
    paid = await http.post(counter_url + "/pay")
    assert paid.status_code == 303
    [received] = await wait_for(lambda: receiver.of(out_order_no))  # type: ignore[misc]
    assert received.notification.outcome is Outcome.SUCCEEDED


async def test_control_api_opens_the_variant_asked_for(control: Control) -> None:
    """`variant` picks 收银台 or 聚合扫码 (its former name `lakala_format` too); others are 422."""
    origins = {}
    for body in ({}, {"variant": "cashier"}, {"lakala_format": "cashier"}, {"variant": "labs"}):
        out_trade_no = new_trade_no("LKV")
        accepted = await control(
            channel="lakala", action="open", out_trade_no=out_trade_no, amount_fen=100, **body
        )
        assert accepted.status_code == 202, accepted.text
        origins[str(body)] = accepted.json()["order"]["origin"]
    assert origins == {
        "{}": "lakala_labs",
        "{'variant': 'cashier'}": "lakala_cashier",
        "{'lakala_format': 'cashier'}": "lakala_cashier",
        "{'variant': 'labs'}": "lakala_labs",
    }
    for channel, variant in (("lakala", "pos"), ("wechatpay", "cashier")):
        refused = await control(
            channel=channel,
            action="open",
            out_trade_no=new_trade_no("LKX"),
            amount_fen=100,
            variant=variant,
        )
        assert refused.status_code == 422, refused.text
        assert "no order variant" in refused.text
