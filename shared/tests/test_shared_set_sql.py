"""Rows as arrays through unnest (``otd_shared.set_sql``) against a real PostgreSQL."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from otd_shared.db import asyncpg_url
from otd_shared.set_sql import arrays, insert_rows, update_rows

AT = datetime(2026, 12, 3, 8, 0, tzinfo=UTC)


@pytest.fixture
async def table(database_url: str) -> AsyncIterator[tuple[AsyncEngine, sa.Table]]:
    schema = f"set_{uuid.uuid4().hex[:8]}"
    metadata = sa.MetaData(schema=schema)
    things = sa.Table(
        "things",
        metadata,
        sa.Column("seq", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("thing_id", sa.Uuid, nullable=False, unique=True),
        sa.Column("name", sa.Text),
        sa.Column("amount_fen", sa.BigInteger, nullable=False),
        sa.Column("flag", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime(timezone=True)),
        sa.Column("version", sa.Integer, nullable=False),
    )
    engine = create_async_engine(asyncpg_url(database_url))
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
        await conn.run_sync(metadata.create_all)
    yield engine, things
    async with engine.begin() as conn:
        await conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
    await engine.dispose()


def _row(i: int, *, name: str | None = "x") -> dict[str, object]:
    return {
        "thing_id": uuid.UUID(int=i),
        "name": name,
        "amount_fen": 10**15 + i,  # beyond 32 bits: BIGINT arrays
        "flag": i % 3 == 0,
        "at": None if i == 3 else AT,
        "version": 1,
    }


async def _stored(engine: AsyncEngine, things: sa.Table) -> list[sa.Row[tuple[object, ...]]]:
    async with engine.connect() as conn:
        return list(await conn.execute(sa.select(things).order_by(things.c.seq)))


async def test_inserted_rows_keep_their_order_values_and_nulls(
    table: tuple[AsyncEngine, sa.Table],
) -> None:
    engine, things = table
    rows = [_row(i, name=None if i == 5 else f"n{i}") for i in (9, 3, 5, 1)]
    columns = tuple(rows[0])
    async with engine.begin() as conn:
        await conn.execute(insert_rows(things, columns), arrays(rows, columns))
    stored = await _stored(engine, things)
    assert [r.thing_id for r in stored] == [uuid.UUID(int=i) for i in (9, 3, 5, 1)]
    assert [(r.name, r.amount_fen, r.flag, r.at) for r in stored] == [
        ("n9", 10**15 + 9, True, AT),
        ("n3", 10**15 + 3, True, None),
        (None, 10**15 + 5, False, AT),
        ("n1", 10**15 + 1, False, AT),
    ]


async def test_a_conflict_clause_applies_to_every_row(table: tuple[AsyncEngine, sa.Table]) -> None:
    engine, things = table
    columns = tuple(_row(1))
    statement = insert_rows(things, columns, suffix="ON CONFLICT (thing_id) DO NOTHING")
    async with engine.begin() as conn:
        await conn.execute(statement, arrays([_row(1)], columns))
        again = [_row(1, name="changed"), _row(2), _row(2, name="twice in one statement")]
        await conn.execute(statement, arrays(again, columns))
    assert [(r.thing_id.int, r.name) for r in await _stored(engine, things)] == [(1, "x"), (2, "x")]


async def test_updates_match_their_keys_and_leave_other_rows(
    table: tuple[AsyncEngine, sa.Table],
) -> None:
    engine, things = table
    rows = [_row(i) for i in range(1, 5)]
    columns = tuple(rows[0])
    async with engine.begin() as conn:
        await conn.execute(insert_rows(things, columns), arrays(rows, columns))
        changes = [
            {"b_thing_id": uuid.UUID(int=2), "b_version": 1, "name": "two", "version": 2},
            {"b_thing_id": uuid.UUID(int=3), "b_version": 7, "name": "stale", "version": 8},
            {"b_thing_id": uuid.UUID(int=4), "b_version": 1, "name": None, "version": 2},
        ]
        keys = tuple(changes[0])
        result = await conn.execute(
            update_rows(things, ("thing_id", "version"), keys[2:]), arrays(changes, keys)
        )
        assert result.rowcount == 2  # the stale version matched nothing
    stored = {r.thing_id.int: (r.name, r.version) for r in await _stored(engine, things)}
    assert stored == {1: ("x", 1), 2: ("two", 2), 3: ("x", 1), 4: (None, 2)}


def test_json_columns_are_refused() -> None:
    docs = sa.Table("docs", sa.MetaData(), sa.Column("doc", sa.JSON))
    with pytest.raises(TypeError, match="doc"):
        insert_rows(docs, ("doc",))
