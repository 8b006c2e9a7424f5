"""The PostgreSQL-backed ledger behind `InMemoryLedger`'s synchronous interface.

`SqlLedger` runs the service's own layers on a private event loop, so Hypothesis' synchronous
state machine can drive it: writes through `LedgerCommands` (a unit of work each, retries),
reads through the repositories on one autocommit connection (cheap enough to read the whole
book after every step). `Differential` calls the SQL ledger and an `InMemoryLedger` model with the
same arguments and insists on the same answer — the same value, or the same exception class.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine
from datetime import date
from typing import Any, TypeVar

import sqlalchemy as sa
from ledger_testkit import settings_for
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from ledger_service.adapters.accounts_repo import AccountRepository
from ledger_service.adapters.balance_repo import BalanceRepository
from ledger_service.adapters.integrity import IntegrityReport, check_books
from ledger_service.adapters.journal_repo import JournalFilter, JournalRepository
from ledger_service.bootstrap import build
from ledger_service.domain.accounts import Account
from ledger_service.domain.balances import (
    Balance,
    TrialBalance,
    balance_of,
    trial_balance_of_turnovers,
)
from ledger_service.domain.errors import JournalNotFound, UnknownAccount
from ledger_service.domain.journal import Entry, Journal, JournalDraft
from ledger_service.domain.memory import InMemoryLedger, PostResult
from ledger_service.domain.money import DEFAULT_CURRENCY
from ledger_service.service_layer.commands import LedgerCommands

T = TypeVar("T")
TABLES = ("accounts", "journals", "journal_lines", "account_balances", "outbox", "unposted_events")
# One row of counts and sums: equal before and after a refused command means nothing changed.
FINGERPRINT = sa.text(
    """
    SELECT (SELECT count(*) FROM ledger.accounts),
           (SELECT count(*) FROM ledger.journals),
           (SELECT coalesce(max(seq), 0) FROM ledger.journals),
           (SELECT count(*) FROM ledger.journal_lines),
           (SELECT coalesce(sum(debit_fen), 0) FROM ledger.account_balances),
           (SELECT coalesce(sum(credit_fen), 0) FROM ledger.account_balances),
           (SELECT count(*) FROM ledger.outbox)
    """
)


class SqlLedger:
    """The ledger service on PostgreSQL with InMemoryLedger's method names (synchronous)."""

    def __init__(self, database_url: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._runtime = build(settings_for(database_url, db_pool_size=2))
        ctx, sessions = self._runtime.ledger, self._runtime.sessions
        self._ctx = ctx
        self._commands = LedgerCommands(ctx, sessions)
        self._reader = self._run(self._open_reader())

    async def _open_reader(self) -> AsyncSession:
        conn = await self._runtime.engine.connect()
        return AsyncSession(bind=await conn.execution_options(isolation_level="AUTOCOMMIT"))

    def close(self) -> None:
        """Close the reader, dispose of the engine, close the loop."""

        async def close() -> None:
            bind = self._reader.bind
            await self._reader.close()
            assert isinstance(bind, AsyncConnection)
            await bind.close()
            await self._runtime.engine.dispose()

        self._run(close())
        self._loop.close()

    def reset(self) -> None:
        """Empty the books (even the seeded chart rows) and forget cached accounts."""

        async def empty() -> None:
            # Replica role: the append-only triggers stay quiet for this test-only cleanup.
            await self._reader.execute(sa.text("SET session_replication_role = replica"))
            for table in TABLES:
                await self._reader.execute(sa.text(f"DELETE FROM ledger.{table}"))  # noqa: S608
            await self._reader.execute(sa.text("SET session_replication_role = origin"))

        self._run(empty())
        self._ctx.accounts.clear()

    def fingerprint(self) -> tuple[int, ...]:
        """Counts and sums of the whole book, in one query."""
        row = self._run(self._reader.execute(FINGERPRINT)).one()
        return tuple(int(value) for value in row)

    def _run(self, coro: Coroutine[Any, Any, T]) -> T:
        return self._loop.run_until_complete(coro)

    def _read(self, read: Callable[[AsyncSession], Coroutine[Any, Any, T]]) -> T:
        return self._run(read(self._reader))

    # --- InMemoryLedger's interface ----------------------------------------------------------

    def open_account(self, account: Account) -> Account:
        return self._run(self._commands.open_account(account))[0]

    def get_account(self, code: str) -> Account:
        found = self.accounts_by_code().get(code)
        if found is None:
            raise UnknownAccount(f"account {code!r} is not open", field="account")
        return found

    def accounts(self) -> tuple[Account, ...]:
        return tuple(
            self._read(
                lambda s: AccountRepository(s).page(
                    family=None, currency=None, after_code="", limit=None
                )
            )
        )

    def accounts_by_code(self) -> dict[str, Account]:
        return {account.code: account for account in self.accounts()}

    def post(self, draft: JournalDraft) -> PostResult:
        return self._run(self._commands.post_journal(draft))

    def reverse(
        self, journal_id: str, new_source_id: str, business_date: date, reason: str
    ) -> PostResult:
        return self._run(self._commands.reverse(journal_id, new_source_id, business_date, reason))

    def get_journal(self, journal_id: str) -> Journal:
        stored = self._read(lambda s: JournalRepository(s).get(journal_id))
        if stored is None:
            raise JournalNotFound(f"journal {journal_id} not found")
        return stored.journal

    def find_by_source(self, source_id: str) -> Journal | None:
        stored = self._read(lambda s: JournalRepository(s).by_source(source_id))
        return None if stored is None else stored.journal

    def reversal_of(self, journal_id: str) -> Journal | None:
        stored = self._read(lambda s: JournalRepository(s).reversal_of(journal_id))
        return None if stored is None else stored.journal

    def journals(self) -> tuple[Journal, ...]:
        page = self._read(lambda s: JournalRepository(s).page(JournalFilter(), None))
        return tuple(stored.journal for stored in page)

    def entries(self, account: str | None = None, as_of: date | None = None) -> tuple[Entry, ...]:
        return tuple(self._read(lambda s: BalanceRepository(s).entries(account, as_of)))

    def balance(self, code: str, as_of: date | None = None) -> Balance:
        self.get_account(code)
        return self._read(lambda s: BalanceRepository(s).balance(code, as_of))

    def trial_balance(self, as_of: date, currency: str = DEFAULT_CURRENCY) -> TrialBalance:
        turnovers = self._read(lambda s: BalanceRepository(s).turnovers(as_of, currency))
        return trial_balance_of_turnovers(turnovers, as_of, currency)

    # --- beyond InMemoryLedger: whole-book reads for cheap invariants -----------------------

    def balances(self, as_of: date | None) -> dict[str, Balance]:
        """Every open account's balance up to `as_of`, from the balance rows (one query)."""
        return self._read(lambda s: BalanceRepository(s).all_balances(as_of))

    def integrity(self) -> IntegrityReport:
        return self._read(check_books)


def model_balances(model: InMemoryLedger, as_of: date | None) -> dict[str, Balance]:
    """The model's balances of every open account (the SQL ledger's `balances`)."""
    return {a.code: balance_of(model.entries(a.code, as_of)) for a in model.accounts()}


class Differential:
    """Every call goes to the SQL ledger and to the model; both must answer alike."""

    def __init__(self, sql: SqlLedger, model: InMemoryLedger) -> None:
        self.sql = sql
        self.model = model

    def __getattr__(self, name: str) -> Callable[..., Any]:
        sql_method = getattr(self.sql, name)
        model_method = getattr(self.model, name)

        def call(*args: Any, **kwargs: Any) -> Any:
            expected, expected_error = _outcome(model_method, args, kwargs)
            actual, actual_error = _outcome(sql_method, args, kwargs)
            assert type(actual_error) is type(expected_error), (
                f"{name}{args}: SQL raised {actual_error!r}, model raised {expected_error!r}"
            )
            if actual_error is not None:
                raise actual_error
            assert actual == expected, f"{name}{args}: SQL {actual!r} != model {expected!r}"
            return actual

        return call

    def balances(self, as_of: date | None) -> dict[str, Balance]:
        actual = self.sql.balances(as_of)
        assert actual == model_balances(self.model, as_of)
        return actual


def _outcome(
    method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, Exception | None]:
    try:
        return method(*args, **kwargs), None
    except Exception as exc:  # noqa: BLE001 - the caller compares both ledgers' errors
        return None, exc
