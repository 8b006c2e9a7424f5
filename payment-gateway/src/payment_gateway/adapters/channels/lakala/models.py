"""Typed Lakala notification bodies (docs/channel-formats.md §6.2).

* 聚合收银台 (ccss) order notify: `pay_order_no`, `out_order_no`, `merchant_no`, `order_status`
  (code 0–7), `total_amount` (long, fen), `order_trade_info{trade_no, log_no, trade_type, ...}`.
* 聚合扫码 (labs) notify: flat; `trade_state` word, amounts as strings in fen, `log_no` (the
  reconciliation key), `acc_trade_no` (WeChat/Alipay order no.).

Amounts in fen are accepted as JSON integers or as digit strings (the docs disagree between the
two products); status codes as integers or strings. Unknown fields are kept.
"""

from __future__ import annotations

from typing import Annotated, Final

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from payment_gateway.adapters.channels.money_edge import fen_text_to_fen
from payment_gateway.errors import MoneyFormatError

AMOUNT_FEN_MAX: Final = 10**15


def _fen_from_json(value: object) -> object:
    if isinstance(value, bool):
        raise ValueError("amount must be an integer in fen")
    if isinstance(value, str):
        try:
            return fen_text_to_fen(value)
        except MoneyFormatError:
            raise ValueError("amount must be a digit string in fen") from None
    return value


def _code_from_json(value: object) -> object:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return value


Fen = Annotated[int, BeforeValidator(_fen_from_json), Field(ge=0, le=AMOUNT_FEN_MAX)]
Code = Annotated[str, BeforeValidator(_code_from_json), Field(min_length=1, max_length=32)]
Id = Annotated[str, Field(min_length=1, max_length=64)]
Text = Annotated[str, Field(max_length=256)]


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="allow", frozen=True)


class CashierTradeInfo(_Strict):
    trade_no: Text = ""
    log_no: Text = ""
    trade_ref_no: Text = ""
    trade_type: Text = ""
    trade_amount: Fen | None = None


class CashierNotification(_Strict):
    """聚合收银台 order notification."""

    pay_order_no: Id
    out_order_no: Id
    merchant_no: Id
    order_status: Code
    total_amount: Fen
    channel_id: Text = ""
    term_no: Text = ""
    order_create_time: Text = ""
    order_trade_info: CashierTradeInfo | None = None


class LabsNotification(_Strict):
    """聚合扫码 (labs) trade notification."""

    merchant_no: Id
    out_trade_no: Id
    trade_no: Id
    trade_state: Code
    total_amount: Fen
    log_no: Text = ""
    acc_trade_no: Text = ""
    account_type: Text = ""
    payer_amount: Fen | None = None
    acc_settle_amount: Fen | None = None
    trade_time: Text = ""
    user_id1: Text = ""
    user_id2: Text = ""
