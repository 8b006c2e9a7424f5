"""Each channel's own name for a sandbox order's state (pure functions).

* WeChat `trade_state`: NOTPAY (USERPAYING while a synchronous success is pending), SUCCESS,
  REFUND once any refund was accepted (转入退款), PAYERROR, CLOSED.
* Alipay `trade_status`: WAIT_BUYER_PAY, TRADE_SUCCESS (also after partial refunds),
  TRADE_CLOSED (closed, failed, or fully refunded).
* Lakala 聚合扫码 `trade_state`: CREATE (DEAL while a synchronous success is pending), SUCCESS,
  PART_REFUND, REFUND, FAIL, CLOSE. 收银台 `order_status`: 0 待支付 (1 支付中), 2 成功,
  6 退款 (fully refunded), 3 失败, 5 取消.
* UnionPay / Allinpay have no query API in the sandbox: the neutral state is shown.
"""

from __future__ import annotations

from channel_sandbox.store import Order, Origin, PayState


def wechat_trade_state(order: Order) -> str:
    match order.state:
        case PayState.PENDING:
            return "USERPAYING" if order.sync_success else "NOTPAY"
        case PayState.PAID:
            return "REFUND" if order.refunds else "SUCCESS"
        case PayState.FAILED:
            return "PAYERROR"
        case PayState.CLOSED:
            return "CLOSED"


WECHAT_TRADE_STATE_DESC = {
    "NOTPAY": "订单未支付",
    "USERPAYING": "用户支付中",
    "SUCCESS": "支付成功",
    "REFUND": "转入退款",
    "PAYERROR": "支付失败",
    "CLOSED": "订单已关闭",
}


def alipay_trade_status(order: Order) -> str:
    match order.state:
        case PayState.PENDING:
            return "WAIT_BUYER_PAY"
        case PayState.PAID:
            return "TRADE_CLOSED" if order.fully_refunded else "TRADE_SUCCESS"
        case PayState.FAILED | PayState.CLOSED:
            return "TRADE_CLOSED"


def lakala_trade_state(order: Order) -> str:
    match order.state:
        case PayState.PENDING:
            return "DEAL" if order.sync_success else "CREATE"
        case PayState.PAID if order.fully_refunded:
            return "REFUND"
        case PayState.PAID:
            return "PART_REFUND" if order.refunded_fen else "SUCCESS"
        case PayState.FAILED:
            return "FAIL"
        case PayState.CLOSED:
            return "CLOSE"


def lakala_order_status(order: Order) -> str:
    match order.state:
        case PayState.PENDING:
            return "1" if order.sync_success else "0"
        case PayState.PAID:
            return "6" if order.fully_refunded else "2"
        case PayState.FAILED:
            return "3"
        case PayState.CLOSED:
            return "5"


def channel_state(order: Order) -> str:
    """The state in the order's channel vocabulary."""
    if order.channel == "wechatpay":
        return wechat_trade_state(order)
    if order.channel == "alipay":
        return alipay_trade_status(order)
    if order.origin is Origin.LAKALA_CASHIER:
        return lakala_order_status(order)
    if order.origin is Origin.LAKALA_LABS:
        return lakala_trade_state(order)
    return order.state.value
