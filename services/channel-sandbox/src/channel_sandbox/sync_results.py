"""What the app or terminal gets back synchronously when a channel says "paid".

Returned by the control API for succeed_sync_then_fail as `sync_result`, in each channel's
client-side shape: WeChat OpenSDK `PayResp`, the Alipay app SDK result (with a genuine signed
`alipay_trade_app_pay_response`), Lakala's status fields, UnionPay/Allinpay terminal codes.
"""

from __future__ import annotations

from channel_sandbox import ids
from channel_sandbox.channels.alipay import signed_response
from channel_sandbox.engine import Sandbox
from channel_sandbox.store import Order, Origin
from otd_shared.money import fen_to_yuan


def sync_result(sandbox: Sandbox, order: Order) -> dict[str, object]:
    """What the app or terminal gets back synchronously when the channel says "paid"."""
    amount = order.amount_fen
    match order.channel:
        case "wechatpay":
            return {"errCode": 0, "errStr": "", "prepayId": str(order.request.get("prepay_id", ""))}
        case "alipay":
            return {
                "resultStatus": "9000",
                "memo": "",
                "result": _alipay_app_result(sandbox, order),
            }
        case "lakala" if order.origin is Origin.LAKALA_CASHIER:
            return {"order_status": "2", "pay_order_no": order.channel_txn_id}
        case "lakala":
            return {"trade_state": "SUCCESS", "trade_no": order.channel_txn_id}
        case "unionpay":
            return {"respCode": "00", "respMsg": "success", "txnAmt": str(amount)}
        case _:
            return {"trxstatus": "0000", "trxamt": str(amount), "trxid": order.channel_txn_id}


def _alipay_app_result(sandbox: Sandbox, order: Order) -> str:
    keys = sandbox.keys["alipay"]
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
    body = signed_response(
        keys, "alipay_trade_app_pay_response", payload, extra={"sign_type": "RSA2"}
    )
    return body.decode("utf-8")
