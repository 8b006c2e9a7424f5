"""Commands of the HTTP API: each runs in its own unit of work, retried on lock conflicts.

PostgreSQL may abort a transaction with a deadlock (40P01) or serialization failure (40001);
nothing of it was recorded, so the whole unit of work is run again, a bounded number of times
with a growing, jittered pause. Only when every attempt failed does the caller see
`LedgerBusy` (503, safe to retry) — never the database error.
"""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from typing import Final, TypeVar

from sqlalchemy.exc import DBAPIError

from ledger_service.domain.accounts import Account
from ledger_service.domain.errors import LedgerBusy
from ledger_service.domain.events import LedgerEvent
from ledger_service.domain.journal import JournalDraft
from ledger_service.domain.memory import PostResult
from ledger_service.domain.rules import propose
from ledger_service.service_layer.books import Books, ItemOutcome
from ledger_service.service_layer.context import LedgerContext
from ledger_service.service_layer.group_commit import GroupCommit
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.db import SessionFactory
from otd_shared.errors import DomainError

T = TypeVar("T")
RETRYABLE_SQLSTATES: Final = frozenset({"40001", "40P01"})  # serialization, deadlock


def is_retryable(exc: BaseException) -> bool:
    """True for a deadlock or serialization failure (the transaction changed nothing)."""
    return isinstance(exc, DBAPIError) and getattr(exc.orig, "sqlstate", None) in (
        RETRYABLE_SQLSTATES
    )


class LedgerCommands:
    """The write side of the API."""

    def __init__(self, ctx: LedgerContext, sessions: SessionFactory) -> None:
        self._ctx = ctx
        self._sessions = sessions
        self._group = GroupCommit(
            self.run_in_transaction,
            max_journals=ctx.settings.group_commit_max_journals,
            max_in_flight=ctx.settings.group_commit_max_in_flight,
        )

    @property
    def context(self) -> LedgerContext:
        """The shared context (settings, cache, metrics)."""
        return self._ctx

    @property
    def sessions(self) -> SessionFactory:
        """The session factory."""
        return self._sessions

    def unit_of_work(self) -> LedgerUnitOfWork:
        """A fresh unit of work (one transaction)."""
        return LedgerUnitOfWork(self._sessions, self._ctx.outbox)

    async def open_account(self, account: Account) -> tuple[Account, bool]:
        """Open an account (idempotent for the same type and currency)."""
        opened = await self.run_in_transaction(lambda books: books.open_account(account))
        self._ctx.accounts.remember([opened[0]])
        return opened

    async def post_journal(self, draft: JournalDraft) -> PostResult:
        """Post a manual journal, or return the journal its source id posted first (concurrent
        calls share transactions: see `group_commit`)."""
        return await self._group.post(draft)

    async def post_batch(self, items: Sequence[JournalDraft | DomainError]) -> list[ItemOutcome]:
        """Post many manual journals in one transaction, each accepted or rejected alone."""
        return await self.run_in_transaction(lambda books: books.post_many(items, kind="manual"))

    async def reverse(
        self, journal_id: str, source_id: str, business_date: date, reason: str
    ) -> PostResult:
        """Reverse a journal (idempotent by the reversal's source id)."""
        return await self.run_in_transaction(
            lambda books: books.reverse(journal_id, source_id, business_date, reason)
        )

    async def post_event(self, event: LedgerEvent, kind: str) -> PostResult | None:
        """Post what a posting rule proposes for `event` (None when it proposes nothing)."""

        async def work(books: Books) -> PostResult | None:
            proposal = propose(event, self._ctx.chart)
            if proposal is None:
                return None
            return await books.post_proposal(proposal, kind=kind)

        return await self.run_in_transaction(work)

    async def run_in_transaction(self, work: Callable[[Books], Awaitable[T]]) -> T:
        """Run `work` in a unit of work and commit; again on a deadlock or serialization
        failure (bounded, with back-off); `LedgerBusy` when every attempt failed."""
        settings = self._ctx.settings
        for attempt in range(1, settings.db_retry_attempts + 1):
            try:
                async with self.unit_of_work() as uow:
                    result = await work(Books(uow.session, self._ctx, cache_reads=True))
                    await uow.commit()
                    return result
            except DBAPIError as exc:
                if not is_retryable(exc):
                    raise
                self._ctx.metrics.retries.inc()
                if attempt == settings.db_retry_attempts:
                    raise LedgerBusy(
                        "the ledger is busy with conflicting postings; retry shortly"
                    ) from exc
                await asyncio.sleep(_backoff_s(settings.db_retry_delay_ms, attempt))
        raise AssertionError("unreachable: the loop returns or raises")


def _backoff_s(delay_ms: int, attempt: int) -> float:
    jitter = 1 + secrets.randbelow(1000) / 1000
    return delay_ms * attempt * jitter / 1000
