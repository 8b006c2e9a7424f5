"""Journals: immutable, balanced double-entry records, and their reversal.

A `JournalDraft` is what a caller proposes (manual entry or posting rule); it validates itself on
construction, so a draft that exists is well-formed: 2..`MAX_LEGS_PER_JOURNAL` legs, each leg one
positive integer amount on one side, debits == credits per currency. Whether its accounts exist is
the ledger's check, not the draft's. A posted `Journal` adds the `journal_id`, which is derived from
the source id (`journal_id_for`) so that every implementation of the ledger assigns the same id.

Journals are never updated: `reverse` builds a new journal with every leg on the other side.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final

from ledger_service.domain.accounts import Side, validate_account_code
from ledger_service.domain.errors import (
    InvalidAccount,
    InvalidJournal,
    InvalidLeg,
    UnbalancedJournal,
)
from ledger_service.domain.money import DEFAULT_CURRENCY, is_currency, is_fen

MIN_LEGS_PER_JOURNAL: Final = 2
MAX_LEGS_PER_JOURNAL: Final = 100
# 10 billion CNY: far above a day's settlement; 100 legs of it still fit a BIGINT sum.
MAX_LEG_AMOUNT_FEN: Final = 1_000_000_000_000
MAX_SOURCE_ID_CHARS: Final = 200
MAX_DESCRIPTION_CHARS: Final = 500
MAX_REVERSAL_REASON_CHARS: Final = 300
# Namespace of journal ids: uuid5(LEDGER_JOURNAL_NAMESPACE, source_id). Never change it.
LEDGER_JOURNAL_NAMESPACE: Final = uuid.UUID("6f1d3c1e-8a53-5a4e-9f0b-0d7c4e2b9a10")


@dataclass(frozen=True)
class Leg:
    """One line of a journal: exactly one of `debit_fen` / `credit_fen` is > 0, the other is 0."""

    account: str
    debit_fen: int = 0
    credit_fen: int = 0
    currency: str = DEFAULT_CURRENCY

    def __post_init__(self) -> None:
        try:
            validate_account_code(self.account)
        except InvalidAccount as exc:
            raise InvalidLeg(str(exc), field="lines") from None
        _check_leg_amounts(self.account, self.debit_fen, self.credit_fen)
        if not is_currency(self.currency):
            raise _bad_leg(self.account, f"bad currency {self.currency!r}")

    @classmethod
    def debit(cls, account: str, amount_fen: int, currency: str = DEFAULT_CURRENCY) -> Leg:
        """A debit leg of `amount_fen` on `account`."""
        return cls(account=account, debit_fen=amount_fen, credit_fen=0, currency=currency)

    @classmethod
    def credit(cls, account: str, amount_fen: int, currency: str = DEFAULT_CURRENCY) -> Leg:
        """A credit leg of `amount_fen` on `account`."""
        return cls(account=account, debit_fen=0, credit_fen=amount_fen, currency=currency)

    @property
    def side(self) -> Side:
        """The side this leg is on."""
        return Side.DEBIT if self.debit_fen > 0 else Side.CREDIT

    @property
    def amount_fen(self) -> int:
        """The leg's (positive) amount, whichever side it is on."""
        return self.debit_fen + self.credit_fen

    def swapped(self) -> Leg:
        """The same amount on the other side: the leg of a reversal."""
        return Leg(self.account, self.credit_fen, self.debit_fen, self.currency)


def _check_leg_amounts(account: str, debit_fen: int, credit_fen: int) -> None:
    # Annotations are not enforced at run time: JSON floats and Decimals arrive here too.
    if not (is_fen(debit_fen) and is_fen(credit_fen)):
        raise _bad_leg(account, "amounts must be integer fen, not float or decimal")
    if debit_fen < 0 or credit_fen < 0:
        raise _bad_leg(account, "amounts must not be negative")
    if (debit_fen > 0) == (credit_fen > 0):
        raise _bad_leg(account, "exactly one of debit_fen and credit_fen must be > 0")
    if max(debit_fen, credit_fen) > MAX_LEG_AMOUNT_FEN:
        raise _bad_leg(account, f"amount above the limit of {MAX_LEG_AMOUNT_FEN} fen")


def _bad_leg(account: str, problem: str) -> InvalidLeg:
    return InvalidLeg(f"leg on {account}: {problem}", field="lines")


def signed_leg(account: str, amount_fen: int, currency: str = DEFAULT_CURRENCY) -> Leg | None:
    """A debit leg for a positive amount, a credit leg for a negative one, None for zero."""
    if amount_fen == 0:
        return None
    if amount_fen > 0:
        return Leg.debit(account, amount_fen, currency)
    return Leg.credit(account, -amount_fen, currency)


@dataclass(frozen=True, kw_only=True)
class JournalDraft:
    """A proposed journal, valid by construction (see module docstring)."""

    source_id: str
    business_date: date
    description: str
    legs: tuple[Leg, ...]
    reverses_journal_id: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "legs", tuple(self.legs))
        _check_header(self.source_id, self.business_date, self.description)
        _check_legs(self.legs)

    @property
    def accounts(self) -> tuple[str, ...]:
        """Codes of the accounts the legs touch, each once, in leg order."""
        return tuple(dict.fromkeys(leg.account for leg in self.legs))

    def totals_fen(self) -> dict[str, tuple[int, int]]:
        """``{currency: (total_debit_fen, total_credit_fen)}``; both equal by construction."""
        return currency_totals(self.legs)


@dataclass(frozen=True, kw_only=True)
class Journal(JournalDraft):
    """A posted journal: the draft plus the id the ledger gave it. Never changes."""

    journal_id: str

    def __post_init__(self) -> None:
        super().__post_init__()
        if not isinstance(self.journal_id, str) or not self.journal_id:
            raise InvalidJournal("journal_id must be a non-empty string")

    @classmethod
    def posted(cls, draft: JournalDraft, journal_id: str | None = None) -> Journal:
        """The journal a ledger records for `draft` (id from `journal_id_for` by default).

        A draft that exists is valid (it checked itself when built), so only the id is checked
        here: the hot posting paths build one journal per draft and need not check twice.
        """
        chosen_id = journal_id or journal_id_for(draft.source_id)
        if not isinstance(chosen_id, str) or not chosen_id:
            raise InvalidJournal("journal_id must be a non-empty string")
        journal = object.__new__(cls)
        for name, value in _fields(draft).items():
            object.__setattr__(journal, name, value)
        object.__setattr__(journal, "journal_id", chosen_id)
        return journal

    @property
    def is_reversal(self) -> bool:
        """True when this journal reverses another."""
        return self.reverses_journal_id is not None


def _fields(draft: JournalDraft) -> dict[str, object]:
    return {
        "source_id": draft.source_id,
        "business_date": draft.business_date,
        "description": draft.description,
        "legs": draft.legs,
        "reverses_journal_id": draft.reverses_journal_id,
    }


def journal_id_for(source_id: str) -> str:
    """The journal id of a source id: a name-based UUID, the same in every ledger implementation."""
    return str(uuid.uuid5(LEDGER_JOURNAL_NAMESPACE, source_id))


def currency_totals(legs: Iterable[Leg]) -> dict[str, tuple[int, int]]:
    """``{currency: (total_debit_fen, total_credit_fen)}`` over `legs`."""
    totals: dict[str, tuple[int, int]] = {}
    for leg in legs:
        debit_fen, credit_fen = totals.get(leg.currency, (0, 0))
        totals[leg.currency] = (debit_fen + leg.debit_fen, credit_fen + leg.credit_fen)
    return totals


def _check_header(source_id: object, business_date: object, description: object) -> None:
    if not isinstance(source_id, str) or not source_id.strip():
        raise InvalidJournal("source_id must be a non-empty string", field="source_id")
    if len(source_id) > MAX_SOURCE_ID_CHARS:
        raise InvalidJournal(
            f"source_id longer than {MAX_SOURCE_ID_CHARS} characters", field="source_id"
        )
    # datetime is a subclass of date: a timestamp here means the caller skipped business_date_of.
    if not isinstance(business_date, date) or isinstance(business_date, datetime):
        raise InvalidJournal(
            "business_date must be a date (Asia/Shanghai), not a timestamp", field="business_date"
        )
    if not isinstance(description, str):
        raise InvalidJournal("description must be a string", field="description")
    if len(description) > MAX_DESCRIPTION_CHARS:
        raise InvalidJournal(
            f"description longer than {MAX_DESCRIPTION_CHARS} characters", field="description"
        )


def _check_legs(legs: tuple[Leg, ...]) -> None:
    if not all(isinstance(leg, Leg) for leg in legs):
        raise InvalidJournal("legs must be Leg values", field="lines")
    if not MIN_LEGS_PER_JOURNAL <= len(legs) <= MAX_LEGS_PER_JOURNAL:
        raise InvalidJournal(
            f"a journal needs {MIN_LEGS_PER_JOURNAL} to {MAX_LEGS_PER_JOURNAL} legs, "
            f"got {len(legs)}",
            field="lines",
        )
    for currency, (debit_fen, credit_fen) in sorted(currency_totals(legs).items()):
        if debit_fen != credit_fen:
            raise UnbalancedJournal(
                f"{currency}: debits {debit_fen} fen != credits {credit_fen} fen", field="lines"
            )


def reverse(journal: Journal, new_source_id: str, business_date: date, reason: str) -> JournalDraft:
    """The draft that reverses `journal`: every leg on the other side, linked by id.

    The reversal may not be dated before the original; the reason is required and goes into the
    description. Reversing is the only way to undo a journal; journals are never updated.
    """
    if not isinstance(reason, str) or not reason.strip():
        raise InvalidJournal("a reversal needs a reason")
    if len(reason) > MAX_REVERSAL_REASON_CHARS:
        raise InvalidJournal(f"reversal reason longer than {MAX_REVERSAL_REASON_CHARS} characters")
    if isinstance(business_date, date) and business_date < journal.business_date:
        raise InvalidJournal(
            f"reversal dated {business_date} before the journal's date {journal.business_date}"
        )
    return JournalDraft(
        source_id=new_source_id,
        business_date=business_date,
        description=f"reversal of {journal.journal_id}: {reason.strip()}",
        legs=tuple(leg.swapped() for leg in journal.legs),
        reverses_journal_id=journal.journal_id,
    )


def mirrors(reversal: JournalDraft, journal: Journal) -> bool:
    """True when `reversal` points at `journal` and carries exactly its legs, sides swapped."""
    return reversal.reverses_journal_id == journal.journal_id and reversal.legs == tuple(
        leg.swapped() for leg in journal.legs
    )


@dataclass(frozen=True)
class Entry:
    """One posted leg, flattened with its journal's header: a row of the ledger's line table."""

    journal_id: str
    source_id: str
    business_date: date
    line_no: int
    account: str
    debit_fen: int
    credit_fen: int
    currency: str


def entries_of(journal: Journal) -> tuple[Entry, ...]:
    """The journal's legs as entries, numbered from 1 in leg order."""
    return tuple(
        Entry(
            journal_id=journal.journal_id,
            source_id=journal.source_id,
            business_date=journal.business_date,
            line_no=line_no,
            account=leg.account,
            debit_fen=leg.debit_fen,
            credit_fen=leg.credit_fen,
            currency=leg.currency,
        )
        for line_no, leg in enumerate(journal.legs, start=1)
    )
