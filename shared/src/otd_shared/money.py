"""Money in integer minor units (fen).

Channel edges hand us yuan strings (Alipay, bills); they are converted here with
Decimal and an explicit rule. No float ever touches an amount.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

CNY = "CNY"
FEN_PER_YUAN = 100
MAX_AMOUNT_FEN = 10**15  # far above any car; guards against garbage input


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
