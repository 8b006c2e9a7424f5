"""Money at the channel edge: yuan strings and fen strings to integer fen, and back.

Follows CHANNEL-FORMATS.md Appendix B item 6 (units per channel) and §2.2 (WeChat bill fees with
5 decimals). Rules:

* Payment amounts in yuan (Alipay `total_amount`, `refund_fee`, ...) must be exact: at most two
  decimals, ASCII digits only, no exponent, no sign unless negatives are allowed. Anything else
  raises `MoneyFormatError`; nothing is rounded.
* Fees in yuan (WeChat bill `手续费`, up to 5 decimals) are the one place where rounding happens:
  `fee_yuan_to_fen` rounds to fen with ROUND_HALF_UP (half away from zero, so -0.00500 → -1).
* Amounts already in fen (WeChat JSON, UnionPay `txnAmt`, Allinpay `trxamt`, Lakala) are parsed
  by `fen_text_to_fen` from their decimal-digit string form.

No float is ever created: parsing goes through a strict regular expression and `Decimal`.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal

from payment_gateway.adapters.channels.errors import MoneyFormatError

AMOUNT_DIGITS_MAX = 15  # integer digits; 10**15 yuan is far beyond any single payment
FEE_DECIMALS_MAX = 5  # WeChat bill 手续费 carries 5 decimals
_FEN_PER_YUAN = Decimal(100)
_ONE_FEN = Decimal(1)

_INT = f"[0-9]{{1,{AMOUNT_DIGITS_MAX}}}"
_YUAN_RE = re.compile(rf"(-?)({_INT})(?:\.([0-9]{{1,2}}))?", re.ASCII)
_FEE_RE = re.compile(rf"(-?)({_INT})(?:\.([0-9]{{1,{FEE_DECIMALS_MAX}}}))?", re.ASCII)
_FEN_RE = re.compile(rf"(-?)([0-9]{{1,{AMOUNT_DIGITS_MAX + 2}}})", re.ASCII)


def yuan_to_fen(text: str, *, allow_negative: bool = False) -> int:
    """Parse an exact yuan amount such as `"0.01"` or `"12"` into integer fen.

    Rejects more than two decimals, exponents, whitespace, `+`, non-ASCII digits, and a leading
    `-` unless `allow_negative` (refund rows of bills are negative).
    """
    match = _full_match(_YUAN_RE, text, "yuan amount")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    _check_sign(sign, allow_negative, text)
    fen = int(whole) * 100 + int(fraction.ljust(2, "0"))
    return -fen if sign else fen


def fee_yuan_to_fen(text: str) -> int:
    """Parse a fee in yuan with up to five decimals (WeChat bill `0.01000`) into fen.

    Rounds with ROUND_HALF_UP (half away from zero). Fees may be negative on refund rows.
    """
    match = _full_match(_FEE_RE, text, "fee amount")
    sign, whole, fraction = match.group(1), match.group(2), match.group(3) or ""
    magnitude = Decimal(f"{whole}.{fraction or '0'}") * _FEN_PER_YUAN
    fen = int(magnitude.quantize(_ONE_FEN, rounding=ROUND_HALF_UP))
    return -fen if sign else fen


def fen_text_to_fen(text: str, *, allow_negative: bool = False) -> int:
    """Parse an amount that the channel already sends in fen as a digit string (`"100"`)."""
    match = _full_match(_FEN_RE, text, "fen amount")
    _check_sign(match.group(1), allow_negative, text)
    return int(text)


def fen_to_yuan(amount_fen: int) -> str:
    """Format integer fen as a yuan string with exactly two decimals (`1` → `"0.01"`)."""
    if isinstance(amount_fen, bool) or not isinstance(amount_fen, int):
        raise MoneyFormatError("amount_fen must be an int")
    sign = "-" if amount_fen < 0 else ""
    whole, fen = divmod(abs(amount_fen), 100)
    return f"{sign}{whole}.{fen:02d}"


def _full_match(pattern: re.Pattern[str], text: str, what: str) -> re.Match[str]:
    if not isinstance(text, str):
        raise MoneyFormatError(f"{what} must be a string, not {type(text).__name__}")
    match = pattern.fullmatch(text)
    if match is None:
        raise MoneyFormatError(f"{what} {text[:32]!r} is not an exact decimal in the allowed form")
    return match


def _check_sign(sign: str, allow_negative: bool, text: str) -> None:
    if sign and not allow_negative:
        raise MoneyFormatError(f"amount {text[:32]!r} must not be negative")
