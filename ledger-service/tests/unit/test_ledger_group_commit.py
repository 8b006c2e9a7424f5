"""Group commit: idle posts go alone, concurrent posts share a transaction, every caller gets
its own answer, and a failing group is retried post by post."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

import pytest

from ledger_service.domain.errors import UnknownAccount
from ledger_service.domain.journal import Journal, JournalDraft, Leg
from ledger_service.domain.memory import PostResult
from ledger_service.service_layer.group_commit import GroupCommit


def draft(source_id: str) -> JournalDraft:
    legs = (Leg.debit("bank:A", 1), Leg.credit("revenue", 1))
    return JournalDraft(
        source_id=source_id, business_date=date(2024, 5, 1), description="", legs=legs
    )


class FakeBooks:
    """Answers like Books.post_group: sources starting 'ghost' are refused, 'boom' breaks the
    whole transaction."""

    def __init__(self, groups: list[list[str]]) -> None:
        self._groups = groups

    async def post_group(self, drafts: list[JournalDraft]) -> list[Any]:
        sources = [d.source_id for d in drafts]
        self._groups.append(sources)
        await asyncio.sleep(0.01)  # the transaction takes a while; others queue meanwhile
        if any(s.startswith("boom") for s in sources):
            raise RuntimeError("the database refused the statement")
        return [
            UnknownAccount(f"{d.source_id}: no account")
            if d.source_id.startswith("ghost")
            else PostResult(Journal.posted(d), created=True)
            for d in drafts
        ]


def group_commit(groups: list[list[str]], *, in_flight: int = 1, size: int = 50) -> GroupCommit:
    books = FakeBooks(groups)

    async def run(work: Callable[[Any], Awaitable[Any]]) -> Any:
        return await work(books)

    return GroupCommit(run, max_journals=size, max_in_flight=in_flight)


async def in_flight(commit: GroupCommit, source_id: str) -> asyncio.Task[PostResult]:
    """Start a post and return once its transaction is running."""
    task = asyncio.create_task(commit.post(draft(source_id)))
    await asyncio.sleep(0.002)
    return task


async def test_an_idle_post_goes_alone_and_later_ones_share_the_next_group() -> None:
    groups: list[list[str]] = []
    commit = group_commit(groups)
    first = await in_flight(commit, "s0")
    results = await asyncio.gather(*(commit.post(draft(f"s{n}")) for n in range(1, 10)))
    assert (await first).journal.source_id == "s0"
    assert [r.journal.source_id for r in results] == [f"s{n}" for n in range(1, 10)]
    assert all(r.created for r in results)
    assert groups == [["s0"], [f"s{n}" for n in range(1, 10)]]


async def test_groups_are_capped_and_several_may_be_in_flight() -> None:
    groups: list[list[str]] = []
    commit = group_commit(groups, in_flight=2, size=3)
    await asyncio.gather(*(commit.post(draft(f"s{n}")) for n in range(11)))
    assert sorted(s for g in groups for s in g) == sorted(f"s{n}" for n in range(11))
    assert max(len(g) for g in groups) == 3
    assert len(groups) == 4


async def test_each_caller_gets_its_own_error() -> None:
    groups: list[list[str]] = []
    commit = group_commit(groups)
    first = await in_flight(commit, "first")
    outcomes = await asyncio.gather(
        commit.post(draft("ok")), commit.post(draft("ghost")), return_exceptions=True
    )
    assert (await first).created
    assert isinstance(outcomes[0], PostResult)
    assert isinstance(outcomes[1], UnknownAccount)
    assert groups == [["first"], ["ok", "ghost"]]


async def test_a_broken_group_is_retried_post_by_post() -> None:
    groups: list[list[str]] = []
    commit = group_commit(groups)
    first = await in_flight(commit, "first")
    outcomes = await asyncio.gather(
        commit.post(draft("a")),
        commit.post(draft("boom")),
        commit.post(draft("b")),
        return_exceptions=True,
    )
    assert (await first).created
    assert isinstance(outcomes[0], PostResult)
    assert isinstance(outcomes[1], RuntimeError)
    assert isinstance(outcomes[2], PostResult)
    assert groups == [["first"], ["a", "boom", "b"], ["a"], ["boom"], ["b"]]


async def test_a_caller_that_goes_away_does_not_break_the_group() -> None:
    groups: list[list[str]] = []
    commit = group_commit(groups)
    first = await in_flight(commit, "first")
    leaving = asyncio.create_task(commit.post(draft("leaving")))
    staying = asyncio.create_task(commit.post(draft("staying")))
    await asyncio.sleep(0)
    leaving.cancel()
    assert (await staying).journal.source_id == "staying"
    assert (await first).created
    with pytest.raises(asyncio.CancelledError):
        await leaving
