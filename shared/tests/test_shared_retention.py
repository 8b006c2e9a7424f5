"""The retention job on real PostgreSQL: what expires goes, in batches; the rest stays."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from otd_shared.db import asyncpg_url
from otd_shared.messaging_tables import MessagingTables, messaging_tables
from otd_shared.retention import RetentionPolicy, purge
from otd_shared.settings import ServiceSettings

pytestmark = pytest.mark.integration
NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
POLICY = RetentionPolicy(inbox_days=14, outbox_days=7, dead_letters_days=90, batch_rows=7)


@pytest.fixture
async def schema(database_url: str) -> AsyncIterator[tuple[AsyncEngine, MessagingTables]]:
    name = f"ret_{uuid.uuid4().hex[:8]}"
    metadata = sa.MetaData(schema=name)
    tables = messaging_tables(metadata)
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{name}"'))
        await conn.run_sync(metadata.create_all)
    yield engine, tables
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{name}" CASCADE'))
    await engine.dispose()


async def _seed(engine: AsyncEngine, tables: MessagingTables) -> None:
    def days_ago(n: float) -> datetime:
        return NOW - timedelta(days=n)

    inbox = [
        {"consumer": "c", "event_id": uuid.uuid4(), "event_type": "T", "processed_at": days_ago(d)}
        for d in [20] * 30 + [13] * 5
    ]
    outbox = [
        {
            "event_id": uuid.uuid4(),
            "event_type": "T",
            "topic": "t",
            "partition_key": "k",
            "body": "{}",
            "created_at": days_ago(d),
            "published_at": None if unsent else days_ago(d),
        }
        for d, unsent in [(10, False)] * 12 + [(10, True)] * 3 + [(2, False)] * 4
    ]
    letters = [
        {
            "consumer": "c",
            "topic": "t",
            "kafka_partition": 0,
            "kafka_offset": i,
            "body": b"x",
            "error": "e",
            "attempts": 1,
            "parked_at": days_ago(200),
            "resolved_at": resolved,
        }
        for i, resolved in enumerate([days_ago(100), days_ago(100), None, days_ago(10)])
    ]
    async with engine.begin() as conn:
        await conn.execute(sa.insert(tables.inbox), inbox)
        await conn.execute(sa.insert(tables.outbox), outbox)
        await conn.execute(sa.insert(tables.dead_letters), letters)


async def _count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        return int(await conn.scalar(sa.select(sa.func.count()).select_from(table)) or 0)


async def test_expired_rows_go_in_batches_and_the_rest_stays(
    schema: tuple[AsyncEngine, MessagingTables],
) -> None:
    engine, tables = schema
    await _seed(engine, tables)
    dry = await purge(engine, tables, POLICY, now=NOW, dry_run=True)
    assert (dry.inbox, dry.outbox, dry.dead_letters) == (30, 12, 2)
    assert await _count(engine, tables.inbox) == 35  # a dry run deletes nothing
    done = await purge(engine, tables, POLICY, now=NOW)
    assert (done.inbox, done.outbox, done.dead_letters) == (30, 12, 2)  # 30 = 4 batches of 7 + 2
    assert await _count(engine, tables.inbox) == 5
    # Unpublished outbox rows stay whatever their age; recent published ones too.
    async with engine.connect() as conn:
        left = (await conn.execute(sa.select(tables.outbox.c.published_at))).scalars().all()
    assert sorted(p is None for p in left) == [False] * 4 + [True] * 3
    assert await _count(engine, tables.dead_letters) == 2  # the open one and the recent one
    again = await purge(engine, tables, POLICY, now=NOW)
    assert (again.inbox, again.outbox, again.dead_letters) == (0, 0, 0)


def test_the_inbox_must_outlive_the_outbox() -> None:
    with pytest.raises(ValidationError, match="RETENTION_INBOX_DAYS"):
        ServiceSettings(retention_inbox_days=7, retention_outbox_days=7)
    policy = RetentionPolicy.from_settings(ServiceSettings())
    assert policy.inbox_days > policy.outbox_days
