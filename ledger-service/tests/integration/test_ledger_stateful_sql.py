"""The ledger state machine against the PostgreSQL-backed service, with InMemoryLedger as model.

Same commands and invariants as the unit test (tests/support/ledger_stateful_machine.py); every
call goes to both ledgers (`Differential`) and must give the same answer or the same error.
Per-account and per-journal invariants read the whole book in a few queries instead of one
query per account, and every example ends with the SQL invariant checks (balanced journals,
balance rows equal to the fold of the lines, sources, reversals).

LEDGER_STATEFUL_EXAMPLES (default 200) sets the number of sequences (`make ledger-long`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable
from datetime import date
from typing import ClassVar

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, settings
from hypothesis.stateful import invariant, run_state_machine_as_test
from ledger_sql_facade import Differential, SqlLedger
from ledger_stateful_machine import CURRENCIES, DATES, STATEFUL_EXAMPLES, LedgerMachine
from ledger_testkit import migrated
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import create_async_engine

from ledger_service.domain.balances import Balance, balance_of
from ledger_service.domain.journal import Entry, Journal, journal_id_for
from ledger_service.domain.memory import InMemoryLedger
from otd_shared.db import asyncpg_url

pytestmark = pytest.mark.integration

SQL_STEPS_PER_EXAMPLE = 20


class SqlLedgerMachine(LedgerMachine):
    """The machine over the SQL ledger, checked call by call against the in-memory model.

    The base invariants query one account or journal at a time; here one invariant reads the
    whole book in six queries after every step and checks the same properties.
    """

    sql: ClassVar[SqlLedger]

    def make_ledger(self) -> Differential:
        self.sql.reset()
        return Differential(self.sql, InMemoryLedger())

    def _snapshot(self) -> tuple[object, ...]:
        model = self.ledger.model
        return (model.accounts(), model.journals(), model.entries(), self.sql.fingerprint())

    # Replaced by `the_whole_book_holds` (plain methods are not invariants).
    def debits_equal_credits_per_currency(self) -> None: ...
    def each_balance_is_the_fold_of_its_entries(self) -> None: ...
    def every_journal_has_its_source(self) -> None: ...
    def reversals_net_to_zero(self) -> None: ...
    def trial_balances_balance(self) -> None: ...

    @invariant()
    def the_whole_book_holds(self) -> None:
        entries = self.ledger.entries()  # every read is also compared with the model
        journals = self.ledger.journals()
        balances = {as_of: self.ledger.balances(as_of) for as_of in (None, DATES[2])}
        self._debits_equal_credits(entries)
        self._balances_are_folds(entries, balances)
        self._journals_have_sources(journals)
        self._reversals_net_to_zero(journals)
        for currency in CURRENCIES:
            tb = self.ledger.trial_balance(DATES[-1], currency)
            assert tb.total_debit_fen == tb.total_credit_fen
            for row in tb.rows:
                assert row.debit_fen - row.credit_fen == balances[None][row.account].net_debit_fen

    def _debits_equal_credits(self, entries: tuple[Entry, ...]) -> None:
        totals: Counter[str] = Counter()
        for entry in entries:
            totals[entry.currency] += entry.debit_fen - entry.credit_fen
        assert all(net == 0 for net in totals.values())

    def _balances_are_folds(
        self, entries: tuple[Entry, ...], balances: dict[date | None, dict[str, Balance]]
    ) -> None:
        for as_of, by_code in balances.items():
            for code in self.opened:
                folded = balance_of(
                    e
                    for e in entries
                    if e.account == code and (as_of is None or e.business_date <= as_of)
                )
                assert by_code[code] == folded, code
                if as_of is None:
                    assert folded.net_debit_fen == self.expected_net_debit_fen[code]

    def _journals_have_sources(self, journals: tuple[Journal, ...]) -> None:
        assert len(journals) == len(self.by_source)
        for journal in journals:
            assert journal.source_id
            assert journal.journal_id == journal_id_for(journal.source_id)
            assert self.by_source[journal.source_id] == journal

    def _reversals_net_to_zero(self, journals: tuple[Journal, ...]) -> None:
        by_id = {journal.journal_id: journal for journal in journals}
        for reversal in journals:
            if reversal.reverses_journal_id is None:
                continue
            net: Counter[tuple[str, str]] = Counter()
            for leg in (*by_id[reversal.reverses_journal_id].legs, *reversal.legs):
                net[(leg.account, leg.currency)] += leg.debit_fen - leg.credit_fen
            assert all(value == 0 for value in net.values())

    def teardown(self) -> None:
        report = self.sql.integrity()
        assert report.ok, report.violations


@pytest.fixture
async def stateful_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A database of its own: every example starts by emptying it. Commits there need not
    wait for the disk (this database is thrown away), which halves the run time."""
    url = await migrated(await new_database())
    name = make_url(asyncpg_url(url)).database
    engine = create_async_engine(asyncpg_url(url), isolation_level="AUTOCOMMIT")
    try:
        async with engine.connect() as conn:
            await conn.execute(sa.text(f'ALTER DATABASE "{name}" SET synchronous_commit = off'))
    finally:
        await engine.dispose()
    return url


def test_sql_ledger_state_machine(stateful_url: str) -> None:
    sql = SqlLedger(stateful_url)
    SqlLedgerMachine.sql = sql
    try:
        run_state_machine_as_test(
            SqlLedgerMachine,
            settings=settings(
                max_examples=STATEFUL_EXAMPLES,
                stateful_step_count=SQL_STEPS_PER_EXAMPLE,
                deadline=None,
                suppress_health_check=[HealthCheck.too_slow],
            ),
        )
    finally:
        sql.close()
