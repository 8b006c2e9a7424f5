"""Lakala request field readers, response bodies and state words (pure; used by its `api`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from channel_sandbox import ids
from channel_sandbox.store import AMOUNT_FEN_MAX, Order, PayState, Refund
from otd_shared.money import MoneyError, fen_text_to_fen


def lakala_trade_state(order: Order) -> str:
    """聚合扫码 `trade_state`: CREATE (DEAL while a synchronous success is pending), SUCCESS,
    PART_REFUND, REFUND, FAIL, CLOSE."""
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
    """收银台 `order_status`: 0 待支付 (1 支付中), 2 成功, 6 退款 (fully refunded), 3 失败,
    5 取消."""
    match order.state:
        case PayState.PENDING:
            return "1" if order.sync_success else "0"
        case PayState.PAID:
            return "6" if order.fully_refunded else "2"
        case PayState.FAILED:
            return "3"
        case PayState.CLOSED:
            return "5"


TEXT_LEN_MAX: Final = 64
TERM_NO: Final = "A0000001"  # what the notifications carry
USER_ID1: Final = "oSandbox"


class LakalaError(Exception):
    """A Lakala error answer (`code`, `msg`, HTTP status)."""

    def __init__(self, code: str, msg: str, *, status: int = 200) -> None:
        super().__init__(f"{code} {msg}")
        self.code, self.msg, self.status = code, msg, status


def optional_text(data: Mapping[str, object], name: str, *, max_len: int = TEXT_LEN_MAX) -> str:
    """A string field or ""; LakalaError when it is not a short string."""
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str) or len(value) > max_len:
        raise LakalaError("BBS11105", f"{name} 格式错误")
    return value


def require_text(data: Mapping[str, object], name: str, *, max_len: int = TEXT_LEN_MAX) -> str:
    value = optional_text(data, name, max_len=max_len)
    if not value:
        raise LakalaError("BBS11105", f"{name} 必填")
    return value


def parse_fen(data: Mapping[str, object], name: str, *, code: str = "BBS11105") -> int:
    """An amount in fen sent as a digit string (or, in 收银台, an integer); must be positive."""
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        amount_fen = value
    elif isinstance(value, str):
        try:
            amount_fen = fen_text_to_fen(value)
        except MoneyError:
            raise LakalaError(code, f"{name} 必须是以分为单位的整数") from None
    else:
        raise LakalaError(code, f"{name} 必填")
    if not 0 < amount_fen <= AMOUNT_FEN_MAX:
        raise LakalaError(code, f"{name} 超出范围")
    return amount_fen


def labs_trade_json(merchant_no: str, order: Order) -> dict[str, object]:
    """聚合扫码 tradequery `resp_data`: the same fields as the labs notification body."""
    paid = order.state is PayState.PAID
    amount = str(order.amount_fen)
    body: dict[str, object] = {
        "merchant_no": merchant_no,
        "out_trade_no": order.out_trade_no,
        "trade_no": order.channel_txn_id,
        "log_no": ids.lakala_log_no(order.channel_txn_id),
        "acc_trade_no": str(order.request.get("acc_trade_no", "")) if paid else "",
        "account_type": str(order.request.get("account_type", "WECHAT")),
        "trade_state": lakala_trade_state(order),
        "total_amount": amount,
        "payer_amount": amount if paid else "0",
        "acc_settle_amount": amount if paid else "0",
        "refund_amount": str(order.refunded_fen),  # [I] sandbox field
        "user_id1": USER_ID1 if paid else "",
        "user_id2": "",
    }
    if paid and order.paid_s is not None:
        body["trade_time"] = ids.lakala_time(order.paid_s)
    return body


def labs_refund_json(merchant_no: str, order: Order, refund: Refund) -> dict[str, object]:
    """tradequery `resp_data` of a refund trade (queried by the refund's own out_trade_no)."""
    amount = str(refund.amount_fen)
    return {
        "merchant_no": merchant_no,
        "out_trade_no": refund.out_refund_no,
        "trade_no": refund.refund_id,
        "log_no": ids.lakala_log_no(refund.refund_id),
        "account_type": str(order.request.get("account_type", "")),
        "trade_state": "SUCCESS" if refund.succeeded else "DEAL",
        "trade_type": "REFUND",  # [I] sandbox field
        "total_amount": amount,
        "payer_amount": amount,
        "refund_amount": amount,
        "trade_time": ids.lakala_time(refund.succeeded_s or refund.created_s),
        "origin_out_trade_no": order.out_trade_no,
        "origin_trade_no": order.channel_txn_id,
        "origin_log_no": ids.lakala_log_no(order.channel_txn_id),
        "user_id1": USER_ID1,
        "user_id2": "",
    }


def cashier_order_json(merchant_no: str, order: Order) -> dict[str, object]:
    """收银台 order query `resp_data` with its `order_trade_info_list`."""
    return {
        "pay_order_no": order.channel_txn_id,
        "out_order_no": order.out_trade_no,
        "channel_id": "95",
        "trans_merchant_no": merchant_no,
        "trans_term_no": TERM_NO,
        "merchant_no": merchant_no,
        "term_no": TERM_NO,
        "order_status": lakala_order_status(order),
        "order_info": str(order.request.get("order_info", "")),
        "total_amount": order.amount_fen,
        "order_create_time": ids.lakala_time(order.created_s),
        "order_efficient_time": str(order.request.get("order_efficient_time", "")),
        "settle_type": "0",
        "counter_param": order.request.get("counter_param"),
        "busi_type_param": order.request.get("busi_type_param"),
        "order_trade_info_list": _cashier_trades(order),
    }


def _cashier_trades(order: Order) -> list[dict[str, object]]:
    trades: list[dict[str, object]] = []
    if order.state in (PayState.PAID, PayState.FAILED):
        at_s = order.paid_s or order.closed_s or order.created_s
        trades.append(
            _trade(
                order.channel_txn_id, "PAY", "S" if order.paid_s else "F", order.amount_fen, at_s
            )
        )
    for refund in order.refunds.values():
        status = "S" if refund.succeeded else "D"
        trades.append(
            _trade(
                refund.refund_id,
                "REFUND",
                status,
                refund.amount_fen,
                refund.succeeded_s or refund.created_s,
            )
        )
    return trades


def _trade(
    trade_no: str, trade_type: str, status: str, amount_fen: int, at_s: int
) -> dict[str, object]:
    return {
        "trade_no": trade_no,
        "log_no": ids.lakala_log_no(trade_no),
        "trade_ref_no": "",
        "trade_type": trade_type,
        "trade_status": status,
        "trade_amount": amount_fen,
        "payer_amount": amount_fen,
        "user_id1": USER_ID1,
        "user_id2": "",
        "trade_time": ids.lakala_time(at_s),
    }
