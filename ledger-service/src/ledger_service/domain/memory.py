"""`InMemoryLedger`: the reference model of the ledger service.

It implements the ledger's contracts with dictionaries, for unit tests and as the model of the
stateful test that drives the PostgreSQL-backed service with the same commands:

- accounts are opened once; opening again with the same type and currency returns the account,
  with another type or currency is a 409;
- `post` is idempotent by source id: the same source returns the first journal unchanged, even
  when the second draft differs (the DESIGN §3 contract);
- every leg's account must be open (422) and in the leg's currency (422);
- journals are immutable; `reverse` posts a mirror journal, once per journal (409 after);
- journal ids come from `journal_id_for(source_id)`, so both implementations agree on them.

Every method either raises before changing anything or completes: there are no partial writes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from ledger_service.domain.accounts import Account
from ledger_service.domain.balances import (
    Balance,
    TrialBalance,
    balance_of,
    order_statement,
    trial_balance,
)
from ledger_service.domain.chart import DEFAULT_CHART, Chart, check_against_chart
from ledger_service.domain.errors import (
    JournalNotFound,
    LedgerInvariantError,
    SourceConflict,
    UnknownAccount,
)
from ledger_service.domain.journal import Entry, Journal, JournalDraft, entries_of
from ledger_service.domain.journal import reverse as reversing_draft
from ledger_service.domain.money import DEFAULT_CURRENCY
from ledger_service.domain.posting_checks import check_account_reopen, check_legs, check_reversal
from ledger_service.domain.rules import PostingProposal


@dataclass(frozen=True)
class PostResult:
    """The journal recorded for a source id; `created` is False for an idempotent replay."""

    journal: Journal
    created: bool


class InMemoryLedger:
    """A complete ledger in memory (see the module docstring for its contracts)."""

    def __init__(self, chart: Chart = DEFAULT_CHART) -> None:
        self._chart = chart
        self._accounts: dict[str, Account] = {}
        self._journals: dict[str, Journal] = {}  # by journal id, in posting order
        self._journal_by_source: dict[str, str] = {}
        self._reversed_by: dict[str, str] = {}
        self._entries: dict[str, list[Entry]] = {}  # by account code, in posting order

    # --- accounts -------------------------------------------------------------------------

    def open_account(self, account: Account) -> Account:
        """Open `account`; idempotent for an identical account, 409 for a different one."""
        self._check_new_account(account)
        return self._accounts.setdefault(account.code, account)

    def get_account(self, code: str) -> Account:
        """The open account with `code`; 422 `UnknownAccount` when there is none."""
        account = self._accounts.get(code)
        if account is None:
            raise UnknownAccount(f"account {code!r} is not open", field="account")
        return account

    def accounts(self) -> tuple[Account, ...]:
        """Every open account, sorted by code."""
        return tuple(self._accounts[code] for code in sorted(self._accounts))

    def _check_new_account(self, account: Account) -> None:
        check_against_chart(account, self._chart)
        check_account_reopen(self._accounts.get(account.code), account)

    # --- posting --------------------------------------------------------------------------

    def post(self, draft: JournalDraft) -> PostResult:
        """Post `draft`, or return the journal already posted for its source id."""
        existing = self.find_by_source(draft.source_id)
        if existing is not None:
            return PostResult(existing, created=False)
        self._check_legs(draft, self._accounts)
        if draft.reverses_journal_id is not None:
            self._check_reversal(draft)
        return PostResult(self._record(Journal.posted(draft)), created=True)

    def post_proposal(self, proposal: PostingProposal) -> PostResult:
        """Open the proposal's missing accounts and post its journal, all or nothing."""
        existing = self.find_by_source(proposal.journal.source_id)
        if existing is not None:
            return PostResult(existing, created=False)
        for account in proposal.accounts:
            self._check_new_account(account)
        known = {**{a.code: a for a in proposal.accounts}, **self._accounts}
        self._check_legs(proposal.journal, known)
        for account in proposal.accounts:
            self._accounts.setdefault(account.code, account)
        return self.post(proposal.journal)

    def reverse(
        self, journal_id: str, new_source_id: str, business_date: date, reason: str
    ) -> PostResult:
        """Post the reversal of `journal_id` under `new_source_id` (idempotent by that source)."""
        original = self.get_journal(journal_id)
        existing = self.find_by_source(new_source_id)
        if existing is not None:
            if existing.reverses_journal_id == journal_id:
                return PostResult(existing, created=False)
            raise SourceConflict(
                f"source {new_source_id!r} already posted journal {existing.journal_id}",
                field="source_id",
            )
        return self.post(reversing_draft(original, new_source_id, business_date, reason))

    def _check_legs(self, draft: JournalDraft, accounts: Mapping[str, Account]) -> None:
        check_legs(draft, accounts)

    def _check_reversal(self, draft: JournalDraft) -> None:
        target_id = draft.reverses_journal_id or ""
        check_reversal(draft, self._journals.get(target_id), self._reversed_by.get(target_id))

    def _record(self, journal: Journal) -> Journal:
        if journal.journal_id in self._journals:
            raise LedgerInvariantError(f"journal id {journal.journal_id} already taken")
        self._journals[journal.journal_id] = journal
        self._journal_by_source[journal.source_id] = journal.journal_id
        if journal.reverses_journal_id is not None:
            self._reversed_by[journal.reverses_journal_id] = journal.journal_id
        for entry in entries_of(journal):
            self._entries.setdefault(entry.account, []).append(entry)
        return journal

    # --- queries --------------------------------------------------------------------------

    def get_journal(self, journal_id: str) -> Journal:
        """The journal with `journal_id`; 404 `JournalNotFound` when there is none."""
        journal = self._journals.get(journal_id)
        if journal is None:
            raise JournalNotFound(f"journal {journal_id} not found")
        return journal

    def find_by_source(self, source_id: str) -> Journal | None:
        """The journal posted for `source_id`, if any."""
        journal_id = self._journal_by_source.get(source_id)
        return None if journal_id is None else self._journals[journal_id]

    def reversal_of(self, journal_id: str) -> Journal | None:
        """The journal that reverses `journal_id`, if any."""
        reversal_id = self._reversed_by.get(journal_id)
        return None if reversal_id is None else self._journals[reversal_id]

    def journals(self) -> tuple[Journal, ...]:
        """Every journal in posting order."""
        return tuple(self._journals.values())

    def entries(self, account: str | None = None, as_of: date | None = None) -> tuple[Entry, ...]:
        """Entries of one account (or all), dated on or before `as_of` when given."""
        if account is None:
            pool: Iterable[Entry] = (e for j in self._journals.values() for e in entries_of(j))
        else:
            pool = self._entries.get(account, ())
        return tuple(e for e in pool if as_of is None or e.business_date <= as_of)

    def balance(self, code: str, as_of: date | None = None) -> Balance:
        """Balance of an open account over entries dated on or before `as_of` (all when None)."""
        self.get_account(code)
        return balance_of(self.entries(code, as_of))

    def trial_balance(self, as_of: date, currency: str = DEFAULT_CURRENCY) -> TrialBalance:
        """Trial balance of every open account in `currency`, cumulative to `as_of`."""
        codes = [a.code for a in self._accounts.values() if a.currency == currency]
        return trial_balance(self.entries(as_of=as_of), as_of, currency, codes)

    def order_statement(self, order_id: str) -> tuple[Entry, ...]:
        """All lines of the journals touching ``deposits:<order_id>``, in posting order."""
        return order_statement(self._journals.values(), order_id)
