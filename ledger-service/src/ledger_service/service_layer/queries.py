"""The read side of the API: balances, trial balance, statements, journals, exports.

Each query runs in one short read transaction, so what it returns is one consistent view.
"""

from __future__ import annotations

import csv
import io
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass
from datetime import date

from ledger_service.adapters.integrity import IntegrityReport, check_books
from ledger_service.adapters.journal_repo import JournalFilter, StoredJournal
from ledger_service.adapters.unposted_repo import UnpostedEvent, UnpostedRepository
from ledger_service.domain.accounts import Account
from ledger_service.domain.balances import (
    Balance,
    OrderSummary,
    TrialBalance,
    order_summary,
    trial_balance_of_turnovers,
)
from ledger_service.domain.chart import deposits_account
from ledger_service.domain.errors import AccountNotFound, JournalNotFound
from ledger_service.service_layer.context import LedgerContext
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.db import SessionFactory

EXPORT_CHUNK_ROWS = 2000
LINE_CSV_COLUMNS = (
    "journal_id",
    "source_id",
    "business_date",
    "source_kind",
    "description",
    "line_no",
    "account",
    "debit_fen",
    "credit_fen",
    "currency",
)


@dataclass(frozen=True)
class AccountBalance:
    """An account and its balance up to a date (None: everything posted)."""

    account: Account
    balance: Balance
    as_of: date | None


@dataclass(frozen=True)
class OrderStatement:
    """Every journal touching an order's deposits, and what they add up to."""

    order_id: str
    journals: list[StoredJournal]
    summary: OrderSummary


@dataclass(frozen=True)
class JournalDetail:
    """A journal and the journal reversing it, if any."""

    stored: StoredJournal
    reversed_by: str | None


class LedgerQueries:
    """Reads on fresh sessions."""

    def __init__(self, ctx: LedgerContext, sessions: SessionFactory) -> None:
        self._ctx = ctx
        self._sessions = sessions

    def _uow(self) -> LedgerUnitOfWork:
        return LedgerUnitOfWork(self._sessions, self._ctx.outbox)

    async def account(self, code: str, as_of: date | None) -> AccountBalance:
        """An open account with its balance (404 when it is not open)."""
        async with self._uow() as uow:
            found = (await uow.accounts.get_many([code])).get(code)
            if found is None:
                raise AccountNotFound(f"account {code!r} is not open", field="code")
            return AccountBalance(found, await uow.balances.balance(code, as_of), as_of)

    async def accounts(
        self, *, family: str | None, currency: str | None, after: str, limit: int
    ) -> list[Account]:
        """Open accounts by code (keyset pagination on the code)."""
        async with self._uow() as uow:
            return await uow.accounts.page(
                family=family, currency=currency, after_code=after, limit=limit
            )

    async def trial_balance(self, as_of: date, currency: str) -> TrialBalance:
        """Net balance of every open account in `currency`, cumulative to `as_of`."""
        async with self._uow() as uow:
            turnovers = await uow.balances.turnovers(as_of, currency)
        return trial_balance_of_turnovers(turnovers, as_of, currency)

    async def order_statement(self, order_id: str) -> OrderStatement:
        """The order's journals (all their lines) and its paid/refunded/held/recognised."""
        code = deposits_account(order_id)
        async with self._uow() as uow:
            stored = await uow.journals.for_account(code)
        summary = order_summary((s.journal for s in stored), order_id)
        return OrderStatement(order_id, stored, summary)

    async def journal(self, journal_id: str) -> JournalDetail:
        """One journal (404 when unknown) and its reversal."""
        async with self._uow() as uow:
            stored = await uow.journals.get(journal_id)
            if stored is None:
                raise JournalNotFound(f"journal {journal_id} not found")
            reversal = await uow.journals.reversal_of(journal_id)
        return JournalDetail(stored, None if reversal is None else reversal.journal.journal_id)

    async def journals(self, where: JournalFilter, limit: int) -> list[StoredJournal]:
        """A page of journals in posting order."""
        async with self._uow() as uow:
            return await uow.journals.page(where, limit)

    async def unposted(self, limit: int) -> list[UnpostedEvent]:
        """Consumed events the rules refused, newest first."""
        async with self._uow() as uow:
            return await UnpostedRepository(uow.session).recent(limit=limit)

    async def integrity(self) -> IntegrityReport:
        """Run the invariant checks over the stored books."""
        async with self._uow() as uow:
            return await check_books(uow.session)

    async def journal_lines_csv(self, where: JournalFilter) -> AsyncIterator[str]:
        """CSV text of every matching line, streamed in chunks."""
        async with self._uow() as uow:
            yield _csv_rows([LINE_CSV_COLUMNS])
            async for chunk in uow.journals.stream_lines(where, EXPORT_CHUNK_ROWS):
                yield _csv_rows(chunk)


def trial_balance_csv(tb: TrialBalance) -> str:
    """A trial balance as CSV, with a totals row."""
    rows: list[tuple[object, ...]] = [("account", "debit_fen", "credit_fen")]
    rows += [(row.account, row.debit_fen, row.credit_fen) for row in tb.rows]
    rows.append(("TOTAL", tb.total_debit_fen, tb.total_credit_fen))
    return _csv_rows(rows)


def _csv_rows(rows: Iterable[Sequence[object]]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="\n").writerows(rows)
    return out.getvalue()
