"""Concurrency: many postings on a few hot accounts at once, in random order, stay exact;
no deadlock or serialization error reaches a caller; one source posts once; one reversal."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date

import pytest
import sqlalchemy as sa
from ledger_testkit import client_for, journal, running, settings_for, unique

from ledger_service.bootstrap import LedgerRuntime
from ledger_service.service_layer.books import Books
from ledger_service.service_layer.commands import LedgerCommands
from ledger_service.service_layer.queries import LedgerQueries

pytestmark = pytest.mark.integration

TASKS = 24
JOURNALS_PER_TASK = 15
BATCH_TASKS = 4
BATCH_SIZE = 40
DAYS = ("2035-06-01", "2035-06-02", "2035-06-03")


@pytest.fixture(params=[1, 16], ids=["one-shard", "sixteen-shards"])
async def sharded(request: pytest.FixtureRequest, ledger_url: str) -> AsyncIterator[LedgerRuntime]:
    """One shard: every posting on a hot account updates the same balance row (fixed-order
    row locks are all that keeps them apart); sixteen: the default spread."""
    settings = settings_for(ledger_url, balance_shards=request.param, db_pool_size=12)
    async with running(settings) as rt:
        yield rt


def random_journal(
    rng: random.Random, hot: list[str], cold: list[str]
) -> tuple[dict[str, object], Counter[str]]:
    """A balanced journal of 2..6 legs, mostly on hot accounts, legs in random order."""
    legs: list[tuple[str, int, int]] = []
    for _ in range(rng.randint(1, 3)):
        debit = rng.choice(hot) if rng.random() < 0.8 else rng.choice(cold)
        credit = rng.choice(hot) if rng.random() < 0.8 else rng.choice(cold)
        fen = rng.randint(1, 1_000_000)
        legs += [(debit, fen, 0), (credit, 0, fen)]
    rng.shuffle(legs)
    net: Counter[str] = Counter()
    for account, debit_fen, credit_fen in legs:
        net[account] += debit_fen - credit_fen
    return journal(unique("cc"), rng.choice(DAYS), *legs), net


async def test_hot_accounts_stay_exact_under_concurrent_postings(sharded: LedgerRuntime) -> None:
    runtime = sharded
    rng = random.Random(20240501)
    hot = [unique(f"hot{n}") for n in range(3)]
    cold = [unique(f"cold{n}") for n in range(12)]
    expected: Counter[str] = Counter()
    async with client_for(runtime) as client:
        for code in hot + cold:
            r = await client.post("/v1/accounts", json={"code": code, "type": "asset"})
            assert r.status_code == 201

        singles = [
            [random_journal(rng, hot, cold) for _ in range(JOURNALS_PER_TASK)] for _ in range(TASKS)
        ]
        batches = [
            [random_journal(rng, hot, cold) for _ in range(BATCH_SIZE)] for _ in range(BATCH_TASKS)
        ]
        for _, net in [item for group in singles + batches for item in group]:
            expected.update(net)

        async def post_singles(items: list[tuple[dict[str, object], Counter[str]]]) -> list[int]:
            return [(await client.post("/v1/journals", json=body)).status_code for body, _ in items]

        async def post_batch(items: list[tuple[dict[str, object], Counter[str]]]) -> list[int]:
            r = await client.post("/v1/journals/batch", json={"journals": [b for b, _ in items]})
            assert r.status_code == 200, r.text
            return [201 if x["status"] == "created" else 500 for x in r.json()["results"]]

        results = await asyncio.gather(
            *(post_singles(items) for items in singles), *(post_batch(items) for items in batches)
        )
    statuses = Counter(code for codes in results for code in codes)
    assert statuses == {201: TASKS * JOURNALS_PER_TASK + BATCH_TASKS * BATCH_SIZE}
    # Rows locked in one global order cannot deadlock: not even a retry was needed.
    assert not runtime.metrics.registry.get_sample_value("ledger_transaction_retries_total")

    queries = LedgerQueries(runtime.ledger, runtime.sessions)
    for code in hot + cold:
        found = await queries.account(code, None)
        assert found.balance.net_debit_fen == expected[code], code
    # As of the first day too: the balance rows are kept per business date.
    first_day: Counter[str] = Counter()
    for body, net in [item for group in singles + batches for item in group]:
        if body["business_date"] == DAYS[0]:
            first_day.update(net)
    as_of = date.fromisoformat(DAYS[0])
    for code in hot:
        found = await queries.account(code, as_of)
        assert found.balance.net_debit_fen == first_day[code], code


async def test_one_source_posted_concurrently_posts_once(runtime: LedgerRuntime) -> None:
    bank, other = unique("bank:CC"), unique("other")
    source = unique("same")
    async with client_for(runtime) as client:
        for code in (bank, other):
            assert (
                await client.post("/v1/accounts", json={"code": code, "type": "asset"})
            ).status_code == 201
        bodies = [journal(source, DAYS[0], (bank, n, 0), (other, 0, n)) for n in range(1, 21)]
        answers = await asyncio.gather(*(client.post("/v1/journals", json=b) for b in bodies))
        assert sorted(a.status_code for a in answers) == [200] * 19 + [201]
        assert len({a.json()["journal_id"] for a in answers}) == 1
        winner = next(a.json() for a in answers if a.status_code == 201)
        balance = (await client.get(f"/v1/accounts/{bank}")).json()["net_debit_fen"]
        assert balance == winner["total_debit_fen"]


async def test_concurrent_reversals_of_one_journal_only_one_wins(runtime: LedgerRuntime) -> None:
    bank, other = unique("bank:RV"), unique("other")
    async with client_for(runtime) as client:
        for code in (bank, other):
            assert (
                await client.post("/v1/accounts", json={"code": code, "type": "asset"})
            ).status_code == 201
        posted = await client.post(
            "/v1/journals", json=journal(unique("s"), DAYS[0], (bank, 9, 0), (other, 0, 9))
        )
        journal_id = posted.json()["journal_id"]
        answers = await asyncio.gather(
            *(
                client.post(
                    f"/v1/journals/{journal_id}/reversal",
                    json={"source_id": unique("rev"), "business_date": DAYS[1], "reason": "race"},
                )
                for _ in range(10)
            )
        )
        assert sorted(a.status_code for a in answers) == [201] + [409] * 9
        assert {a.json()["code"] for a in answers if a.status_code == 409} == {"already_reversed"}
        assert (await client.get(f"/v1/accounts/{bank}")).json()["net_debit_fen"] == 0


async def test_a_real_deadlock_is_retried_and_never_reaches_the_caller(
    runtime: LedgerRuntime,
) -> None:
    """Two units of work lock two rows in opposite orders: PostgreSQL aborts one with a
    deadlock; the command layer runs it again and both succeed."""
    first, second = unique("lock-a"), unique("lock-b")
    async with client_for(runtime) as client:
        for code in (first, second):
            assert (
                await client.post("/v1/accounts", json={"code": code, "type": "asset"})
            ).status_code == 201
    commands = LedgerCommands(runtime.ledger, runtime.sessions)
    both_hold_one = asyncio.Barrier(2)
    registry = runtime.metrics.registry
    retries_before = registry.get_sample_value("ledger_transaction_retries_total") or 0.0

    def locking(order: tuple[str, str]) -> Callable[[Books], Awaitable[int]]:
        attempts = 0

        async def work(books: Books) -> int:
            nonlocal attempts
            attempts += 1
            lock = sa.text("SELECT code FROM ledger.accounts WHERE code = :code FOR UPDATE")
            await books.session.execute(lock, {"code": order[0]})
            if attempts == 1:
                await both_hold_one.wait()
            await books.session.execute(lock, {"code": order[1]})
            return attempts

        return work

    attempts = await asyncio.gather(
        commands.run_in_transaction(locking((first, second))),
        commands.run_in_transaction(locking((second, first))),
    )
    assert sorted(attempts) == [1, 2]  # one of them was chosen as the deadlock victim
    retries = registry.get_sample_value("ledger_transaction_retries_total")
    assert retries == retries_before + 1
