"""Alipay as the sandbox plays it: app pay and openapi (wire format: this package; API: `api`).

App pay has no server call: an order exists once the control API is told of it, from the
app's signed order string or from out_trade_no + amount_fen.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from channel_sandbox import ids
from channel_sandbox.channels import alipay as wire
from channel_sandbox.channels.alipay import api
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.schedules import HOUR, MINUTE, exact_body
from channel_sandbox.spec import OrderStart, SandboxChannel, SignedOrder
from channel_sandbox.store import Order, Origin, Refund
from otd_shared.channel_wire import WireFormatError, parse_json_object
from otd_shared.money import MoneyError, fen_to_yuan, wire_yuan_to_fen


def issue_ids() -> dict[str, str]:
    """Our app's app_id and our seller (merchant) id."""
    return {"app_id": "2021" + ids.digits(12), "seller_id": "2088" + ids.digits(12)}


def start_order(keys: SandboxKeySet, at_s: int, variant: str | None) -> OrderStart:
    """An app pay order the buyer opened: its trade_no."""
    del keys, variant
    return OrderStart(origin=Origin.ALIPAY_APP, channel_txn_id=ids.alipay_trade_no(at_s), fields={})


def read_order_string(keys: SandboxKeySet, order_string: str) -> SignedOrder:
    """The order of an app's signed order string; RequestRejected unless genuine and ours."""
    try:
        params = wire.verify_order_string(keys, order_string)
        biz = parse_json_object(params.get("biz_content", "").encode("utf-8"), "biz_content")
        amount_fen = wire_yuan_to_fen(str(biz.get("total_amount", "")))
    except (RequestRejected, WireFormatError, MoneyError) as exc:
        raise RequestRejected(f"order_string is not a genuine app pay order: {exc}") from None
    out_trade_no = str(biz.get("out_trade_no", ""))
    if params.get("app_id") != keys.id("app_id") or not out_trade_no:
        raise RequestRejected("order_string names another app_id or no out_trade_no")
    return SignedOrder(
        out_trade_no=out_trade_no,
        amount_fen=amount_fen,
        notify_url=params.get("notify_url") or None,
        fields={"subject": str(biz.get("subject", ""))},
    )


def notification_fields(order: Order, refund: Refund | None) -> Mapping[str, object]:
    """The order's subject, when the app's order string named one."""
    del refund
    subject = order.request.get("subject")
    return {"subject": str(subject)} if subject else {}


def sync_result(keys: SandboxKeySet, order: Order) -> dict[str, object]:
    """The app SDK's result: 9000 and a genuine signed `alipay_trade_app_pay_response`."""
    payload = {
        "code": "10000",
        "msg": "Success",
        "app_id": keys.id("app_id"),
        "auth_app_id": keys.id("app_id"),
        "charset": "utf-8",
        "timestamp": ids.alipay_time(ids.now_s()),
        "out_trade_no": order.out_trade_no,
        "total_amount": fen_to_yuan(order.amount_fen),
        "trade_no": order.channel_txn_id,
        "seller_id": keys.id("seller_id"),
    }
    body = wire.signed_response(
        keys, "alipay_trade_app_pay_response", payload, extra={"sign_type": "RSA2"}
    )
    return {"resultStatus": "9000", "memo": "", "result": body.decode("utf-8")}


CHANNEL: Final = SandboxChannel(
    code=wire.CODE,
    name="Alipay",
    key_layout=KeyLayout(issue_ids=issue_ids),
    start_order=start_order,
    new_refund_id=ids.alipay_trade_no,  # Alipay has no refund id of its own
    notification=wire.notification,
    read_notification=wire.read_notification,
    # §3.4: 8 notifications within 25 h: 4m, 10m, 10m, 1h, 2h, 6h, 15h
    retry_intervals_s=(4 * MINUTE, 10 * MINUTE, 10 * MINUTE, HOUR, 2 * HOUR, 6 * HOUR, 15 * HOUR),
    delivered_when=exact_body(b"success"),
    success_answer="the exact body 'success'",
    merchant_ack=(200, b"success"),
    notifies_failures=True,
    sync_result=sync_result,
    notification_fields=notification_fields,
    cumulative_refunds=True,  # §3.2: refund_fee is the total refunded so far
    state=api.alipay_trade_status,
    routers=(api.router,),
    read_order_string=read_order_string,
)
