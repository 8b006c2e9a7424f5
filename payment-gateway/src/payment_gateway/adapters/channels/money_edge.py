"""Money at the channel edge: a thin face over `otd_shared.money` (one implementation).

Follows docs/channel-formats.md Appendix B item 6 (units per channel) and §2.2 (WeChat bill
fees with 5 decimals). The rules live in `otd_shared.money` (`wire_yuan_to_fen`,
`wire_fee_yuan_to_fen`, `fen_text_to_fen`, `fen_to_yuan`):

* Payment amounts in yuan (Alipay `total_amount`, `refund_fee`, ...) must be exact: at most two
  decimals, ASCII digits only, no exponent, no sign unless negatives are allowed; nothing is
  rounded.
* Fees in yuan (WeChat bill `手续费`, up to 5 decimals) round to fen with ROUND_HALF_UP.
* Amounts already in fen (WeChat JSON, UnionPay `txnAmt`, Allinpay `trxamt`, Lakala) are parsed
  from their decimal-digit string form.

This module only translates `MoneyError` into the channel layer's `MoneyFormatError`, so the
protocol code keeps one exception tree (errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ParamSpec, TypeVar

from otd_shared import money
from payment_gateway.errors import MoneyFormatError

AMOUNT_DIGITS_MAX = money.WIRE_AMOUNT_DIGITS_MAX
FEE_DECIMALS_MAX = money.WIRE_FEE_DECIMALS_MAX

_P = ParamSpec("_P")
_R = TypeVar("_R")


def _edge(parse: Callable[_P, _R]) -> Callable[_P, _R]:
    def translated(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        try:
            return parse(*args, **kwargs)
        except money.MoneyError as exc:
            raise MoneyFormatError(str(exc)) from None

    translated.__doc__ = parse.__doc__
    translated.__name__ = parse.__name__
    return translated


yuan_to_fen = _edge(money.wire_yuan_to_fen)
fee_yuan_to_fen = _edge(money.wire_fee_yuan_to_fen)
fen_text_to_fen = _edge(money.fen_text_to_fen)


def fen_to_yuan(amount_fen: int) -> str:
    """Format integer fen as a yuan string with exactly two decimals (`1` → `"0.01"`)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise MoneyFormatError("amount_fen must be an int")
    return money.fen_to_yuan(amount_fen)
