"""Money in integer minor units (fen).

Channel edges hand us yuan strings (Alipay, bills); they are converted here with
Decimal and an explicit rule. No float ever touches an amount.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CNY = "CNY"
FEN_PER_YUAN = 100
MAX_AMOUNT_FEN = 10**15  # far above any car; guards against garbage input
WIRE_AMOUNT_DIGITS_MAX = 15  # integer digits of an amount on the wire (channel texts)
WIRE_FEE_DECIMALS_MAX = 5  # WeChat bill 手续费 carries 5 decimals
_WIRE_INT = f"[0-9]{{1,{WIRE_AMOUNT_DIGITS_MAX}}}"
_WIRE_YUAN_RE = re.compile(rf"(-?)({_WIRE_INT})(?:\.([0-9]{{1,2}}))?", re.ASCII)
_WIRE_FEE_RE = re.compile(
    rf"(-?)({_WIRE_INT})(?:\.([0-9]{{1,{WIRE_FEE_DECIMALS_MAX}}}))?", re.ASCII
)
_WIRE_FEN_RE = re.compile(rf"(-?)([0-9]{{1,{WIRE_AMOUNT_DIGITS_MAX + 2}}})", re.ASCII)


class MoneyError(ValueError):
    """An amount that cannot be money: not an integer, negative, too many decimals."""


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in fen with its currency. Arithmetic only within one currency."""

    amount_fen: int
    currency: str = CNY

    def __post_init__(self) -> None:
        if isinstance(self.amount_fen, bool) or not isinstance(self.amount_fen, int):
            raise MoneyError(f"amount_fen must be an integer, got {type(self.amount_fen).__name__}")
        if abs(self.amount_fen) > MAX_AMOUNT_FEN:
            raise MoneyError("amount_fen is out of range")

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_fen + other.amount_fen, self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(self.amount_fen - other.amount_fen, self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise MoneyError(f"currency mismatch: {self.currency} vs {other.currency}")

    def to_yuan(self) -> str:
        """The amount as a yuan string with two decimals, e.g. ``"12.30"``."""
        return fen_to_yuan(self.amount_fen)


def yuan_to_fen(text: str, *, allow_negative: bool = False) -> int:
    """Parse a yuan string such as ``"12.30"`` into fen exactly.

    Rule: at most two decimals; anything finer is rejected, never rounded.
    """
    value = _parse_decimal(text)
    if value != value.quantize(Decimal("0.01")):
        raise MoneyError(f"more than two decimals in yuan amount {text!r}")
    if value < 0 and not allow_negative:
        raise MoneyError(f"negative amount {text!r}")
    fen = int(value * FEN_PER_YUAN)
    if abs(fen) > MAX_AMOUNT_FEN:
        raise MoneyError("amount is out of range")
    return fen


def yuan_to_fen_rounded(text: str) -> int:
    """Parse a yuan string with any number of decimals (fees: ``"0.01000"``).

    Rule: ROUND_HALF_UP to the fen, the convention of the channels' fee columns.
    """
    value = _parse_decimal(text)
    return int((value * FEN_PER_YUAN).quantize(Decimal("1"), rounding=ROUND_HALF_UP))


def fen_to_yuan(amount_fen: int) -> str:
    """Format fen as a yuan string with exactly two decimals."""
    sign = "-" if amount_fen < 0 else ""
    whole, cents = divmod(abs(amount_fen), FEN_PER_YUAN)
    return f"{sign}{whole}.{cents:02d}"


def wire_yuan_to_fen(text: str, *, allow_negative: bool = False) -> int:
    """Parse a yuan amount exactly as a channel sends it (``"0.01"``, ``"12"``) into fen.

    Stricter than ``yuan_to_fen`` (for channel wire texts, which are signed as they are):
    ASCII digits, at most two decimals, no whitespace, exponent or ``+``; a leading ``-``
    only when ``allow_negative``. Raises MoneyError; nothing is rounded.
    """
    sign, whole, fraction = _wire_match(_WIRE_YUAN_RE, text, "yuan amount")
    _check_wire_sign(sign, allow_negative, text)
    fen = int(whole) * FEN_PER_YUAN + int(fraction.ljust(2, "0"))
    return -fen if sign else fen


def wire_fee_yuan_to_fen(text: str) -> int:
    """Parse a fee in yuan with up to five decimals (WeChat bill ``"0.01000"``) into fen.

    Rule: ROUND_HALF_UP (half away from zero) to the fen; fees may be negative (refund rows).
    """
    sign, whole, fraction = _wire_match(_WIRE_FEE_RE, text, "fee amount")
    # Exact in integers: the fraction in units of 10^-5 yuan; half a fen (500) rounds up.
    cents, rest = divmod(int(fraction.ljust(WIRE_FEE_DECIMALS_MAX, "0")), 1_000)
    fen = int(whole) * FEN_PER_YUAN + cents + (1 if rest >= 500 else 0)
    return -fen if sign else fen


def fen_text_to_fen(text: str, *, allow_negative: bool = False) -> int:
    """Parse an amount a channel already sends in fen as a digit string (``"100"``)."""
    sign, digits, _ = _wire_match(_WIRE_FEN_RE, text, "fen amount")
    _check_wire_sign(sign, allow_negative, text)
    return -int(digits) if sign else int(digits)


def _wire_match(pattern: re.Pattern[str], text: str, what: str) -> tuple[str, str, str]:
    if not isinstance(text, str):
        raise MoneyError(f"{what} must be a string, not {type(text).__name__}")
    match = pattern.fullmatch(text)
    if match is None:
        raise MoneyError(f"{what} {text[:32]!r} is not an exact decimal in the allowed form")
    groups = match.groups()
    return groups[0], groups[1], (groups[2] if len(groups) > 2 else None) or ""


def _check_wire_sign(sign: str, allow_negative: bool, text: str) -> None:
    if sign and not allow_negative:
        raise MoneyError(f"amount {text[:32]!r} must not be negative")


def _parse_decimal(text: str) -> Decimal:
    cleaned = text.strip()
    if not cleaned or len(cleaned) > 32:
        raise MoneyError(f"not an amount: {text!r}")
    try:
        value = Decimal(cleaned)
    except InvalidOperation as exc:
        raise MoneyError(f"not an amount: {text!r}") from exc
    if not value.is_finite() or abs(value) > MAX_AMOUNT_FEN:
        raise MoneyError(f"not an amount: {text!r}")
    return value
