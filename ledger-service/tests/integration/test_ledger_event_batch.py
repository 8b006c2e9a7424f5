"""The consumer's batch handler: a run of events posted together ends exactly as the same
events posted one by one (journals, lines, balances, JournalPosted rows with each event's
correlation id, unposted events), and a run costs the same statements whatever its size."""

from __future__ import annotations

import dataclasses
import json
import uuid
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import date

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from ledger_testkit import AT, migrated, payment, running, scenario, settings_for, snapshot

from ledger_service.bootstrap import LedgerRuntime
from ledger_service.service_layer.event_handlers import BATCHED_EVENT_TYPES, LedgerEventHandlers
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.events import (
    EventEnvelope,
    EventPayload,
    OrderDelivered,
    ReconCompleted,
    new_envelope,
)
from otd_shared.observability import set_correlation_id
from otd_shared.testing.consumer_records import partition_records

pytestmark = pytest.mark.integration


def envelopes(payloads: list[EventPayload]) -> list[EventEnvelope]:
    return [
        new_envelope(p, producer="test", correlation_id=f"corr-{n}") for n, p in enumerate(payloads)
    ]


def mixed_run() -> list[EventEnvelope]:
    """Three orders' money of every batched type (new deposit accounts, tills, refunds, a
    failure that posts nothing, one refused as unposted), plus one event delivered twice."""
    payloads = [
        p
        for order in (str(uuid.uuid4()) for _ in range(3))
        for p in scenario(order)
        if type(p).__name__ in BATCHED_EVENT_TYPES
    ]
    run = envelopes(payloads)
    return [*run, run[0]]


def uow_of(runtime: LedgerRuntime) -> LedgerUnitOfWork:
    return LedgerUnitOfWork(runtime.sessions, runtime.outbox)


async def announcements(runtime: LedgerRuntime) -> dict[str, str]:
    """JournalPosted rows: {source id: correlation id}."""
    async with runtime.sessions() as session:
        rows = await session.execute(
            sa.text("SELECT body FROM ledger.outbox WHERE event_type = 'JournalPosted'")
        )
        bodies = [json.loads(row[0]) for row in rows]
    return {b["payload"]["source_id"]: b["correlation_id"] for b in bodies}


async def unposted(runtime: LedgerRuntime) -> list[tuple[str, str]]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            sa.text("SELECT event_type, reason FROM ledger.unposted_events ORDER BY event_type")
        )
        return [(str(r[0]), str(r[1])) for r in rows]


async def test_a_run_ends_exactly_as_one_by_one(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    run = mixed_run()
    one_url, batch_url = await migrated(await new_database()), await migrated(await new_database())
    async with running(settings_for(one_url)) as one, running(settings_for(batch_url)) as batch:
        one_by_one = LedgerEventHandlers(one.ledger)
        async with uow_of(one) as uow:
            for envelope in run:
                set_correlation_id(envelope.correlation_id)  # as the consumer does
                await one_by_one.handle(uow, envelope)
            await uow.commit()
        async with uow_of(batch) as uow:
            await LedgerEventHandlers(batch.ledger).handle_run(uow, run)
            await uow.commit()
        lines, balances, outbox = await snapshot(batch)
        one_lines, one_balances, one_outbox = await snapshot(one)
        # the same journals and lines (a run inserts in source-id order, so seq differs)
        assert sorted(lines) == sorted(one_lines)  # type: ignore[call-overload]
        assert (balances, outbox) == (one_balances, one_outbox)
        assert outbox >= 15
        corr = await announcements(batch)
        assert corr == await announcements(one)
        by_event = {str(e.event_id): e.correlation_id for e in run}
        assert all(by_event[source] == c for source, c in corr.items() if source in by_event)
        assert len(set(corr.values())) == len(corr)  # each journal its own event's id
        assert await unposted(batch) == await unposted(one) != []


@contextmanager
def counting(runtime: LedgerRuntime) -> Iterator[list[int]]:
    """The statements the runtime's engine executes inside the block (``[count]``)."""
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    sa.event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
    try:
        yield counter
    finally:
        sa.event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)


def records(run: list[EventEnvelope]) -> list[ConsumerRecord[bytes, bytes]]:
    """One partition's records of the envelopes, in order."""
    return partition_records(run, topic="otd.payments")


def partition_batch() -> list[EventEnvelope]:
    """Two orders' money with what the batch handler leaves to one by one among it: a
    delivery that reads the deposits the runs before it posted, a versioned settlement
    twice (the second posts nothing), a redelivered event."""
    first, second = str(uuid.uuid4()), str(uuid.uuid4())
    settlement = ReconCompleted(
        run_id="run-2", source="alipay", recon_date=date(2024, 5, 1), counts={},
        settled_fen=99_000, fee_fen=1_000, gross_fen=100_000,
        statement_id="st-1", statement_version=1,
    )  # fmt: skip
    payloads: list[EventPayload] = [
        *scenario(first),
        OrderDelivered(order_id=first, delivered_at=AT),
        settlement,
        *scenario(second)[:4],
        settlement,
        payment(second, "wechatpay", 80_000),
    ]
    run = envelopes(payloads)
    return [*run, run[2]]


async def test_a_partition_batch_through_the_consumer_ends_as_without_the_batch_handler(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    run = records(partition_batch())
    one_url, batch_url = await migrated(await new_database()), await migrated(await new_database())
    async with running(settings_for(one_url)) as one, running(settings_for(batch_url)) as batch:
        (spec,) = one.consumers
        one_by_one = one.build_consumer(dataclasses.replace(spec, batch_handlers={}))
        with counting(one) as one_statements:
            await one_by_one.process(run)
        with counting(batch) as batch_statements:
            await batch.build_consumer(batch.consumers[0]).process(run)
        # the batch handler took the runs: one for each stretch between the settlements and
        # the delivery, whatever the types in it (a run per type cost more than one by one)
        assert batch_statements[0] < one_statements[0], (batch_statements, one_statements)
        assert (await snapshot(batch))[1:] == (await snapshot(one))[1:]
        assert sorted((await snapshot(batch))[0]) == sorted((await snapshot(one))[0])
        assert await announcements(batch) == await announcements(one)
        assert await unposted(batch) == await unposted(one) != []
        async with batch.sessions() as session:
            kinds = await session.execute(
                sa.text("SELECT source_kind, count(*) FROM ledger.journals GROUP BY 1")
            )
            by_kind = {str(kind): int(n) for kind, n in kinds}
        assert by_kind["OrderDelivered"] == 1  # saw the deposits the runs before it posted
        assert by_kind["ReconCompleted"] == 2  # scenario's unversioned one, version 1 once
        assert by_kind["PaymentCallback"] == 9


async def test_a_run_costs_the_same_statements_for_10_and_40_events(
    new_database: Callable[[], Awaitable[str]],
) -> None:
    url = await migrated(await new_database())
    async with running(settings_for(url)) as runtime:
        handlers = LedgerEventHandlers(runtime.ledger)
        counts = []
        for size in (10, 40):
            run = envelopes([payment(str(uuid.uuid4()), "wechatpay", 500_000) for _ in range(size)])
            statements = 0

            def count(*_: object) -> None:
                nonlocal statements
                statements += 1

            sa.event.listen(runtime.engine.sync_engine, "before_cursor_execute", count)
            try:
                async with uow_of(runtime) as uow:
                    await handlers.handle_run(uow, run)
                    await uow.commit()
            finally:
                sa.event.remove(runtime.engine.sync_engine, "before_cursor_execute", count)
            counts.append(statements)
        assert counts[0] == counts[1] <= 4, counts
