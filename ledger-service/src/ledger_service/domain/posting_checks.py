"""Checks a ledger makes before it records a journal or opens an account.

Shared by `memory.InMemoryLedger` and the PostgreSQL-backed service, so both refuse the same
journals with the same errors. Each check is pure: the caller loads what it needs (the accounts
a draft touches, the journal a reversal targets) and passes it in.
"""

from __future__ import annotations

from collections.abc import Mapping

from ledger_service.domain.accounts import Account
from ledger_service.domain.errors import (
    AccountConflict,
    AlreadyReversed,
    CurrencyMismatch,
    InvalidJournal,
    ReversalOfReversal,
    UnknownAccount,
)
from ledger_service.domain.journal import Journal, JournalDraft, mirrors


def check_account_reopen(existing: Account | None, requested: Account) -> None:
    """Opening `requested` again is fine when it matches `existing`; otherwise 409."""
    if existing is not None and (existing.type, existing.currency) != (
        requested.type,
        requested.currency,
    ):
        raise AccountConflict(
            f"account {requested.code} is open as {existing.type.value} {existing.currency}",
            field="code",
        )


def check_legs(draft: JournalDraft, accounts: Mapping[str, Account]) -> None:
    """Every leg's account is open (422 `UnknownAccount`) and kept in the leg's currency (422)."""
    for leg in draft.legs:
        account = accounts.get(leg.account)
        if account is None:
            raise UnknownAccount(f"account {leg.account!r} is not open", field="lines")
        if account.currency != leg.currency:
            raise CurrencyMismatch(
                f"leg in {leg.currency} on account {leg.account} kept in {account.currency}",
                field="lines",
            )


def check_reversal(
    draft: JournalDraft, target: Journal | None, existing_reversal_id: str | None
) -> None:
    """`draft` may reverse `target`: it exists, is no reversal, has none yet, and is mirrored."""
    target_id = draft.reverses_journal_id
    if target is None:
        raise InvalidJournal(f"reversed journal {target_id} does not exist")
    if target.is_reversal:
        raise ReversalOfReversal(f"journal {target_id} is itself a reversal")
    if existing_reversal_id is not None:
        raise AlreadyReversed(f"journal {target_id} was reversed by {existing_reversal_id}")
    if not mirrors(draft, target):
        raise InvalidJournal(f"draft does not mirror the legs of journal {target_id}")
