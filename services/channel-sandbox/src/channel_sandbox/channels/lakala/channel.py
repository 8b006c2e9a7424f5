"""Lakala as the sandbox plays it: 聚合扫码 (labs) and 收银台 orders (wire format: this package;
API: `api`, statements: `statement`, the 收银台 page: `counter`).

An order's origin decides its shapes: 收银台 orders get 收银台 notifications and `order_status`,
聚合扫码 orders the flat labs body and `trade_state`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Final

from channel_sandbox import ids
from channel_sandbox.channels import lakala as wire
from channel_sandbox.channels.lakala import api, counter, statement
from channel_sandbox.channels.lakala.bodies import lakala_order_status, lakala_trade_state
from channel_sandbox.keys import KeyLayout, SandboxKeySet
from channel_sandbox.schedules import HOUR, MINUTE, json_code
from channel_sandbox.spec import OrderStart, SandboxChannel
from channel_sandbox.store import Order, Origin, Refund


def issue_ids() -> dict[str, str]:
    """Our open-platform appid, our certificate's serial_no and our merchant_no."""
    return {
        "appid": "OP" + ids.digits(8),
        "serial_no": secrets.token_hex(8),
        "merchant_no": "822" + ids.digits(12),
    }


def start_order(keys: SandboxKeySet, at_s: int, variant: str | None) -> OrderStart:
    """A 收银台 order (variant ``cashier``) or a 聚合扫码 WeChat QR order (``labs``)."""
    del keys
    if variant == "cashier":
        pay_order_no = ids.lakala_pay_order_no(at_s)
        return OrderStart(
            origin=Origin.LAKALA_CASHIER,
            channel_txn_id=pay_order_no,
            fields={},
            alias_ids=(ids.lakala_log_no(pay_order_no),),
        )
    trade_no = ids.lakala_trade_no(at_s)
    return OrderStart(
        origin=Origin.LAKALA_LABS,
        channel_txn_id=trade_no,
        fields={
            "account_type": "WECHAT",
            "acc_trade_no": ids.wechat_transaction_id(at_s),
            "code_url": "weixin://wxpay/bizpayurl?pr=sandbox",
        },
        alias_ids=(ids.lakala_log_no(trade_no),),
    )


def _labs(order: Order) -> bool:
    return order.origin == Origin.LAKALA_LABS


def notification_options(order: Order) -> Mapping[str, object]:
    """The body shape of the order's origin."""
    shape: wire.BodyShape = "labs" if _labs(order) else "cashier"
    return {"shape": shape}


def notification_fields(order: Order, refund: Refund | None) -> Mapping[str, object]:
    """Labs orders: the wallet and its transaction; a labs refund also names itself."""
    if not _labs(order):
        return {}
    fields: dict[str, object] = {
        "account_type": str(order.request.get("account_type", "WECHAT")),
        "acc_trade_no": str(order.request.get("acc_trade_no", "")),
    }
    if refund is not None:
        partial = order.refunded_fen < order.amount_fen
        # [I] The labs refund notification body is undocumented (docs/channel-formats.md);
        # the sandbox names the refund in extra fields next to the documented trade_state.
        fields |= {
            "trade_state": "PART_REFUND" if partial else "REFUND",
            "refund_amount": str(refund.amount_fen),
            "out_refund_no": refund.out_refund_no,
        }
    return fields


def state(order: Order) -> str:
    """收银台 `order_status` or labs `trade_state`."""
    return lakala_trade_state(order) if _labs(order) else lakala_order_status(order)


def sync_result(keys: SandboxKeySet, order: Order) -> dict[str, object]:
    """The status fields the create answer carries."""
    del keys
    if _labs(order):
        return {"trade_state": "SUCCESS", "trade_no": order.channel_txn_id}
    return {"order_status": "2", "pay_order_no": order.channel_txn_id}


CHANNEL: Final = SandboxChannel(
    code=wire.CODE,
    name="Lakala",
    key_layout=KeyLayout(issue_ids=issue_ids),
    start_order=start_order,
    order_variants=("labs", "cashier"),
    new_refund_id=ids.lakala_trade_no,
    notification=wire.notification,
    read_notification=wire.read_notification,
    # §6.2 (收银台 order notify): 1s/5s/5s/10s/3m/10m/20m/30m/1h/2h
    retry_intervals_s=(1, 5, 5, 10, 3 * MINUTE, 10 * MINUTE, 20 * MINUTE, 30 * MINUTE)
    + (HOUR, 2 * HOUR),
    delivered_when=json_code("SUCCESS"),
    success_answer='{"code":"SUCCESS"}',
    merchant_ack=(200, '{"code":"SUCCESS","message":"执行成功"}'.encode()),
    notifies_failures=True,
    sync_result=sync_result,
    notification_options=notification_options,
    notification_fields=notification_fields,
    resign=wire.resign,
    state=state,
    routers=(api.router, statement.router, counter.router),
    arms_before_create=True,
    fee_rate_per_10k=38,  # 0.38 %
)
