"""Checks on integer fen amounts and currency codes (conversion lives in `otd_shared.money`).

Amounts are plain `int` fen. `bool` is rejected even though it subclasses `int`, and so are
`float` and `Decimal`: they reach the domain only through a bug or unchecked JSON.
"""

from __future__ import annotations

import re
from typing import Final

from otd_shared.money import CNY

DEFAULT_CURRENCY: Final = CNY
_CURRENCY_RE: Final = re.compile(r"[A-Z]{3}")


def is_fen(value: object) -> bool:
    """True when `value` is a plain `int` (not `bool`, `float` or `Decimal`)."""
    return type(value) is int


def is_currency(value: object) -> bool:
    """True when `value` is a three-letter upper-case currency code such as ``CNY``."""
    return isinstance(value, str) and _CURRENCY_RE.fullmatch(value) is not None
