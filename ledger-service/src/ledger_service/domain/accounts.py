"""Accounts: code, type, currency and owner; the normal balance side follows from the type.

An account code is ``family`` or ``family:owner`` (``deposits:ORD-1``, ``clearing:wechatpay``,
``bank:ICBC-001``). The family names the chart row (see `chart`), the owner is the order, channel,
store or bank account the account belongs to. Codes are case-sensitive and stable forever: they are
the key finance, SAP mapping and reports use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum
from typing import Final

from ledger_service.domain.errors import InvalidAccount
from ledger_service.domain.money import DEFAULT_CURRENCY, is_currency

MAX_ACCOUNT_CODE_CHARS: Final = 120
OWNER_SEPARATOR: Final = ":"
# Letters, digits and . _ - / after a leading letter or digit; at most one ':' (family:owner).
_FAMILY_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]*")
_OWNER_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.\-/]*")


class AccountType(StrEnum):
    """The five classic account types."""

    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    REVENUE = "revenue"
    EXPENSE = "expense"

    @classmethod
    def parse(cls, text: str) -> AccountType:
        """Parse a type name case-insensitively; unknown names raise `InvalidAccount` (422)."""
        try:
            return cls(text.strip().lower())
        except ValueError:
            allowed = ", ".join(t.value for t in cls)
            raise InvalidAccount(
                f"unknown account type {text!r}; expected one of {allowed}", field="type"
            ) from None


class Side(StrEnum):
    """The side of a leg or of a balance."""

    DEBIT = "debit"
    CREDIT = "credit"

    @property
    def opposite(self) -> Side:
        """The other side."""
        return Side.CREDIT if self is Side.DEBIT else Side.DEBIT


def normal_side(account_type: AccountType) -> Side:
    """The side on which an account of this type normally carries its balance."""
    match account_type:
        case AccountType.ASSET | AccountType.EXPENSE:
            return Side.DEBIT
        case AccountType.LIABILITY | AccountType.EQUITY | AccountType.REVENUE:
            return Side.CREDIT


def validate_account_code(code: object) -> str:
    """Return `code` when it is a well-formed account code, else raise `InvalidAccount` (422)."""
    if not isinstance(code, str) or not code:
        raise InvalidAccount("account code must be a non-empty string", field="code")
    if len(code) > MAX_ACCOUNT_CODE_CHARS:
        raise InvalidAccount(
            f"account code longer than {MAX_ACCOUNT_CODE_CHARS} characters", field="code"
        )
    family, sep, owner = code.partition(OWNER_SEPARATOR)
    if _FAMILY_RE.fullmatch(family) is None or (sep and _OWNER_RE.fullmatch(owner) is None):
        raise InvalidAccount(
            f"malformed account code {code!r}: expected 'family' or 'family:owner' made of "
            "letters, digits and . _ - /",
            field="code",
        )
    return code


def split_account_code(code: str) -> tuple[str, str | None]:
    """Split a valid code into ``(family, owner)``; owner is None for single-segment codes."""
    family, sep, owner = validate_account_code(code).partition(OWNER_SEPARATOR)
    return family, (owner if sep else None)


def join_account_code(family: str, owner: str | None = None) -> str:
    """Build ``family`` or ``family:owner`` and validate it."""
    code = family if owner is None else f"{family}{OWNER_SEPARATOR}{owner}"
    return validate_account_code(code)


@dataclass(frozen=True)
class Account:
    """A ledger account. Immutable: an account is opened once and never changes type.

    `owner` defaults to the part of the code after ``:``; pass it explicitly only to override.
    """

    code: str
    type: AccountType
    currency: str = DEFAULT_CURRENCY
    owner: str | None = None

    def __post_init__(self) -> None:
        validate_account_code(self.code)
        if not isinstance(self.type, AccountType):
            raise InvalidAccount(f"account {self.code}: type must be an AccountType", field="type")
        if not is_currency(self.currency):
            raise InvalidAccount(
                f"account {self.code}: bad currency {self.currency!r}", field="currency"
            )
        if self.owner is None:
            object.__setattr__(self, "owner", split_account_code(self.code)[1])

    @property
    def family(self) -> str:
        """The chart family: the code before ``:``."""
        return split_account_code(self.code)[0]

    @property
    def normal_side(self) -> Side:
        """Debit for assets and expenses, credit for liabilities, equity and revenue."""
        return normal_side(self.type)
