"""Group commit: concurrent single-journal posts share one transaction.

A post that arrives while no group is in flight is written at once, alone (no added latency
when the ledger is idle). Posts that arrive while `max_in_flight` groups are being written
queue up, and the next group takes them all (up to `max_journals`): under load, one BEGIN,
one posting statement and one COMMIT serve many callers. Each caller still gets its own
answer — its journal, the journal its source posted first, or its own error.

A group that fails with a deadlock or serialization error is retried whole (nothing of it was
recorded). A group that fails otherwise is split and each post retried alone, so one bad
request cannot fail its neighbours.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Awaitable, Callable
from typing import TypeVar

from ledger_service.domain.journal import JournalDraft
from ledger_service.domain.memory import PostResult
from ledger_service.service_layer.books import Books
from otd_shared.errors import DomainError

log = logging.getLogger(__name__)
T = TypeVar("T")
Outcome = PostResult | DomainError
Runner = Callable[[Callable[[Books], Awaitable[T]]], Awaitable[T]]


class GroupCommit:
    """Coalesces concurrent `post` calls (see the module docstring)."""

    def __init__(
        self,
        run_in_transaction: Runner[list[Outcome]],
        *,
        max_journals: int,
        max_in_flight: int,
    ) -> None:
        self._run = run_in_transaction
        self._max_journals = max_journals
        self._max_in_flight = max_in_flight
        self._pending: deque[tuple[JournalDraft, asyncio.Future[PostResult]]] = deque()
        self._in_flight = 0
        self._tasks: set[asyncio.Task[None]] = set()  # strong references while they run

    async def post(self, draft: JournalDraft) -> PostResult:
        """Post one journal, possibly together with concurrent callers' journals."""
        future: asyncio.Future[PostResult] = asyncio.get_running_loop().create_future()
        self._pending.append((draft, future))
        if self._in_flight < self._max_in_flight:
            self._in_flight += 1
            task = asyncio.get_running_loop().create_task(self._drain())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return await future

    async def _drain(self) -> None:
        try:
            while self._pending:
                group = [
                    self._pending.popleft()
                    for _ in range(min(self._max_journals, len(self._pending)))
                ]
                await self._write(group)
        finally:
            self._in_flight -= 1

    async def _write(self, group: list[tuple[JournalDraft, asyncio.Future[PostResult]]]) -> None:
        drafts = [draft for draft, _ in group]
        try:
            outcomes = await self._run(lambda books: books.post_group(drafts))
        except Exception as exc:  # noqa: BLE001  (handed to the callers, never swallowed)
            if len(group) == 1:
                _settle(group[0][1], exc)
                return
            log.warning("group commit failed; posting its journals one by one", exc_info=True)
            for item in group:
                await self._write([item])
            return
        for (_, future), outcome in zip(group, outcomes, strict=True):
            _settle(future, outcome)


def _settle(future: asyncio.Future[PostResult], outcome: Outcome | BaseException) -> None:
    if future.done():  # the caller went away (request cancelled)
        return
    if isinstance(outcome, BaseException):
        future.set_exception(outcome)
    else:
        future.set_result(outcome)
