"""The consumer's batch handler: a run of events posted together ends exactly as the same
events posted one by one (journals, lines, balances, JournalPosted rows with each event's
correlation id, unposted events), and a run costs the same statements whatever its size."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable

import pytest
import sqlalchemy as sa
from ledger_testkit import migrated, payment, running, scenario, settings_for, snapshot

from ledger_service.bootstrap import LedgerRuntime
from ledger_service.service_layer.event_handlers import BATCHED_EVENT_TYPES, LedgerEventHandlers
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.events import EventEnvelope, EventPayload, new_envelope
from otd_shared.observability import set_correlation_id

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
