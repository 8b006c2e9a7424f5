"""The ledger state machine: random command sequences must keep every invariant.

`LedgerMachine` drives `make_ledger()` — an `InMemoryLedger` here; the PostgreSQL-backed
service in the integration test, which overrides the hook. Each command states which errors
its preconditions allow; the ledger must raise one of them when any applies and succeed
otherwise, so the check does not depend on the order in which an implementation tests its
preconditions.

Set LEDGER_STATEFUL_EXAMPLES to run more (or fewer) sequences than the default 200.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable
from collections.abc import Set as AbstractSet
from datetime import date, timedelta
from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import Bundle, RuleBasedStateMachine, invariant, rule

from ledger_service.domain.accounts import Account, AccountType
from ledger_service.domain.balances import balance_of
from ledger_service.domain.errors import (
    AccountConflict,
    AlreadyReversed,
    InvalidJournal,
    ReversalOfReversal,
    SourceConflict,
    UnknownAccount,
)
from ledger_service.domain.journal import (
    MAX_LEG_AMOUNT_FEN,
    Journal,
    JournalDraft,
    Leg,
    journal_id_for,
)
from ledger_service.domain.memory import InMemoryLedger

STATEFUL_EXAMPLES = int(os.environ.get("LEDGER_STATEFUL_EXAMPLES", "200"))

ACCOUNT_POOL = (
    Account("clearing:wechatpay", AccountType.ASSET),
    Account("bank:ICBC-001", AccountType.ASSET),
    Account("deposits:ORD-1", AccountType.LIABILITY),
    Account("deposits:ORD-2", AccountType.LIABILITY),
    Account("revenue", AccountType.REVENUE),
    Account("fees:wechatpay", AccountType.EXPENSE),
    Account("bank:HSBC-USD", AccountType.ASSET, "USD"),
    Account("owner-equity-usd", AccountType.EQUITY, "USD"),
)
NEVER_OPENED = {"CNY": "deposits:ORD-404", "USD": "bank:NOWHERE-USD"}
CURRENCIES = ("CNY", "USD")
DATES = tuple(date(2024, 5, 1) + timedelta(days=i) for i in range(5))
SOURCES = st.sampled_from([f"src-{i}" for i in range(10)])
TRANSFERS = st.lists(
    st.tuples(st.integers(0, 7), st.integers(0, 7), st.integers(1, MAX_LEG_AMOUNT_FEN)),
    min_size=1,
    max_size=6,
)


class LedgerMachine(RuleBasedStateMachine):
    """Commands on an InMemoryLedger with a shadow model of the expected balances."""

    journal_ids = Bundle("journal_ids")

    def __init__(self) -> None:
        super().__init__()
        self.ledger = self.make_ledger()
        self.opened: dict[str, Account] = {}
        self.expected_net_debit_fen: Counter[str] = Counter()
        self.by_source: dict[str, Journal] = {}
        self.reversed_ids: set[str] = set()

    def make_ledger(self) -> Any:
        """The ledger under test, empty (InMemoryLedger, or a subclass's SQL ledger)."""
        return InMemoryLedger()

    # --- commands -------------------------------------------------------------------------

    @rule(account=st.sampled_from(ACCOUNT_POOL), other_currency=st.booleans())
    def open_account(self, account: Account, other_currency: bool) -> None:
        if other_currency:  # same code, other currency: a conflict once the code is open
            swapped = "USD" if account.currency == "CNY" else "CNY"
            account = Account(account.code, account.type, swapped)
        current = self.opened.get(account.code)
        allowed = {AccountConflict} if current not in (None, account) else set()
        before = self._snapshot()
        outcome = self._attempt(allowed, lambda: self.ledger.open_account(account))
        if outcome is not None:
            assert self._snapshot() == before
            return
        assert self.ledger.get_account(account.code) == account
        self.opened[account.code] = account

    @rule(
        target=journal_ids,
        source=SOURCES,
        day=st.sampled_from(DATES),
        currency=st.sampled_from(CURRENCIES),
        transfers=TRANSFERS,
        stray=st.booleans(),
    )
    def post(
        self,
        source: str,
        day: date,
        currency: str,
        transfers: list[tuple[int, int, int]],
        stray: bool,
    ) -> str:
        draft = self._draft(source, day, currency, transfers, stray)
        before = self._snapshot()
        if source in self.by_source:
            result = self.ledger.post(draft)
            assert not result.created
            assert result.journal == self.by_source[source]
            assert self._snapshot() == before  # re-posting a source changes nothing
            return result.journal.journal_id
        unknown = any(leg.account not in self.opened for leg in draft.legs)
        allowed = {UnknownAccount} if unknown else set()
        outcome = self._attempt(allowed, lambda: self.ledger.post(draft))
        if outcome is not None:
            assert self._snapshot() == before
            return journal_id_for(source)  # a never-posted id: reversals of it must 404
        journal = self.ledger.find_by_source(source)
        assert journal is not None
        self._apply(journal)
        return journal.journal_id

    @rule(
        journal_id=journal_ids,
        source=st.one_of(SOURCES, st.sampled_from(["rev-0", "rev-1", "rev-2", "rev-3"])),
        day=st.sampled_from(DATES),
    )
    def reverse(self, journal_id: str, source: str, day: date) -> None:
        original = next((j for j in self.by_source.values() if j.journal_id == journal_id), None)
        if original is None:
            return  # the id of a rejected post; nothing to reverse
        before = self._snapshot()
        existing = self.by_source.get(source)
        if existing is not None and existing.reverses_journal_id == journal_id:
            result = self.ledger.reverse(journal_id, source, day, "replayed")
            assert (result.created, result.journal) == (False, existing)
            assert self._snapshot() == before
            return
        allowed: set[type[Exception]] = set()
        if existing is not None:
            allowed.add(SourceConflict)
        if original.is_reversal:
            allowed.add(ReversalOfReversal)
        if journal_id in self.reversed_ids:
            allowed.add(AlreadyReversed)
        if day < original.business_date:
            allowed.add(InvalidJournal)
        outcome = self._attempt(allowed, lambda: self.ledger.reverse(journal_id, source, day, "t"))
        if outcome is not None:
            assert self._snapshot() == before
            return
        reversal = self.ledger.find_by_source(source)
        assert reversal is not None
        assert reversal.reverses_journal_id == journal_id
        self._apply(reversal)

    # --- invariants -----------------------------------------------------------------------

    @invariant()
    def debits_equal_credits_per_currency(self) -> None:
        totals: Counter[str] = Counter()
        for entry in self.ledger.entries():
            totals[entry.currency] += entry.debit_fen - entry.credit_fen
        assert all(net == 0 for net in totals.values())

    @invariant()
    def each_balance_is_the_fold_of_its_entries(self) -> None:
        for code in self.opened:
            balance = self.ledger.balance(code)
            assert balance == balance_of(self.ledger.entries(code))
            assert balance.net_debit_fen == self.expected_net_debit_fen[code]
            middle = DATES[2]
            assert self.ledger.balance(code, middle) == balance_of(
                e for e in self.ledger.entries(code) if e.business_date <= middle
            )

    @invariant()
    def every_journal_has_its_source(self) -> None:
        journals = self.ledger.journals()
        assert len(journals) == len(self.by_source)
        for journal in journals:
            assert journal.source_id
            assert self.ledger.find_by_source(journal.source_id) == journal
            assert journal.journal_id == journal_id_for(journal.source_id)
            assert self.by_source[journal.source_id] == journal

    @invariant()
    def reversals_net_to_zero(self) -> None:
        for journal in self.ledger.journals():
            reversal = self.ledger.reversal_of(journal.journal_id)
            if reversal is None:
                continue
            net: Counter[tuple[str, str]] = Counter()
            for leg in (*journal.legs, *reversal.legs):
                net[(leg.account, leg.currency)] += leg.debit_fen - leg.credit_fen
            assert all(value == 0 for value in net.values())

    @invariant()
    def trial_balances_balance(self) -> None:
        for currency in CURRENCIES:
            tb = self.ledger.trial_balance(DATES[-1], currency)
            assert tb.total_debit_fen == tb.total_credit_fen
            for row in tb.rows:
                net = self.ledger.balance(row.account).net_debit_fen
                assert row.debit_fen - row.credit_fen == net

    # --- helpers --------------------------------------------------------------------------

    def _draft(
        self,
        source: str,
        day: date,
        currency: str,
        transfers: list[tuple[int, int, int]],
        stray: bool,
    ) -> JournalDraft:
        codes = sorted(c for c, a in self.opened.items() if a.currency == currency)
        codes = codes or [NEVER_OPENED[currency]]
        legs: list[Leg] = []
        for debit, credit, amount in transfers:
            legs.append(Leg.debit(codes[debit % len(codes)], amount, currency))
            legs.append(Leg.credit(codes[credit % len(codes)], amount, currency))
        if stray:
            legs[0] = Leg.debit(NEVER_OPENED[currency], legs[0].debit_fen, currency)
        return JournalDraft(
            source_id=source, business_date=day, description="stateful", legs=tuple(legs)
        )

    def _attempt(
        self, allowed: AbstractSet[type[Exception]], action: Callable[[], object]
    ) -> Exception | None:
        """Run `action`; it must raise one of `allowed` when any is allowed, else succeed."""
        raised: Exception | None = None
        try:
            action()
        except Exception as exc:  # noqa: BLE001 - checked against the allowed set just below
            raised = exc
        if raised is None:
            assert not allowed, f"expected one of {allowed}"
            return None
        assert any(isinstance(raised, kind) for kind in allowed), f"{raised!r} not in {allowed}"
        return raised

    def _apply(self, journal: Journal) -> None:
        self.by_source[journal.source_id] = journal
        if journal.reverses_journal_id is not None:
            self.reversed_ids.add(journal.reverses_journal_id)
        for leg in journal.legs:
            self.expected_net_debit_fen[leg.account] += leg.debit_fen - leg.credit_fen

    def _snapshot(self) -> tuple[object, ...]:
        return (self.ledger.accounts(), self.ledger.journals(), self.ledger.entries())


MACHINE_SETTINGS = settings(max_examples=STATEFUL_EXAMPLES, stateful_step_count=40, deadline=None)
