"""Card and account numbers masked to BIN + last 4 (the only form we store, log or return).

A card or bank account number is 8 to 32 digits (spaces and dashes between groups are
dropped). The BIN is the first 6 digits; the masked form is ``BIN + '*' × n + last 4``, e.g.
``622848******1234``. Numbers of fewer than 10 digits keep only their last 4 visible.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from otd_shared.errors import InvalidInput

ACCOUNT_DIGITS_MIN: Final = 8
ACCOUNT_DIGITS_MAX: Final = 32
BIN_DIGITS: Final = 6
LAST_DIGITS: Final = 4
_SEPARATORS: Final = re.compile(r"[ \-]")
_MASKED: Final = re.compile(r"\d{0,6}\*+\d{4}", re.ASCII)


@dataclass(frozen=True)
class MaskedAccount:
    """What is kept of a card or account number."""

    masked: str
    bin: str  # empty when the number was too short to show one
    last4: str


def mask_account(number: str, *, field: str = "account") -> MaskedAccount:
    """Mask a full number, or accept one already masked (``622848******1234``)."""
    text = _SEPARATORS.sub("", number.strip())
    if _MASKED.fullmatch(text):
        head = text.split("*", 1)[0]
        return MaskedAccount(masked=text, bin=head, last4=text[-LAST_DIGITS:])
    if not (text.isascii() and text.isdigit()):
        raise InvalidInput(f"{field} must be digits (card or account number)", field=field)
    if not ACCOUNT_DIGITS_MIN <= len(text) <= ACCOUNT_DIGITS_MAX:
        raise InvalidInput(
            f"{field} must have {ACCOUNT_DIGITS_MIN} to {ACCOUNT_DIGITS_MAX} digits", field=field
        )
    shown_bin = text[:BIN_DIGITS] if len(text) >= BIN_DIGITS + LAST_DIGITS else ""
    hidden = len(text) - len(shown_bin) - LAST_DIGITS
    return MaskedAccount(
        masked=f"{shown_bin}{'*' * hidden}{text[-LAST_DIGITS:]}",
        bin=shown_bin,
        last4=text[-LAST_DIGITS:],
    )
