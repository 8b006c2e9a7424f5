"""Amounts typed into the console's forms: yuan text → integer fen, exact (no float).

A form amount is digits with an optional decimal point and at most two decimals
(``1234``, ``1234.5``, ``1,234.56``; thousands commas are allowed); anything else, zero or
more than ``AMOUNT_FEN_MAX`` is refused with a message that names the field.
"""

from __future__ import annotations

import re
from datetime import date
from typing import Final

AMOUNT_FEN_MAX: Final = 10**12
YUAN_TEXT: Final = re.compile(r"^(?P<yuan>\d{1,3}(?:,\d{3})+|\d{1,13})(?:\.(?P<cents>\d{1,2}))?$")


class AmountError(ValueError):
    """A form amount that is not a positive yuan amount with at most two decimals."""


def yuan_to_fen(text: str, field: str = "amount") -> int:
    """The fen of a yuan amount typed into a form (``"1,234.50"`` → ``123450``)."""
    cleaned = text.strip()
    match = YUAN_TEXT.match(cleaned)
    if match is None:
        raise AmountError(f"{field}: {cleaned!r} is not an amount in yuan (like 1234.56)")
    cents = (match.group("cents") or "").ljust(2, "0")
    fen = int(match.group("yuan").replace(",", "")) * 100 + int(cents)
    if fen <= 0:
        raise AmountError(f"{field}: the amount must be more than zero")
    if fen > AMOUNT_FEN_MAX:
        raise AmountError(f"{field}: the amount is above {AMOUNT_FEN_MAX // 100:,} yuan")
    return fen


def age_days(value_date: date, today: date) -> int:
    """How many days a transfer has waited since its value date (0 on the day itself)."""
    return max((today - value_date).days, 0)
