"""The pool pings a connection at checkout only when it sat idle (a real PostgreSQL).

The e2e bench saw SQLAlchemy's pre-ping (three round trips at every checkout) take 1–8 %
of each consumer process."""

from __future__ import annotations

import asyncio

import asyncpg  # type: ignore[import-untyped]
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.db import create_engine
from otd_shared.settings import ServiceSettings

IDLE_S = 0.2


def _engine(database_url: str, *, pre_ping: bool, idle_s: float = IDLE_S) -> AsyncEngine:
    settings = ServiceSettings(
        database_url=database_url,
        db_pool_size=1,
        db_pool_pre_ping=pre_ping,
        db_pool_ping_idle_s=idle_s,
    )
    return create_engine(settings)


async def _backend_pid(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(text("SELECT pg_backend_pid()"))).scalar_one())


async def _terminate(database_url: str, pid: int) -> None:
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute("SELECT pg_terminate_backend($1)", pid)
    finally:
        await conn.close()


async def test_a_connection_killed_while_idle_is_replaced_at_checkout(database_url: str) -> None:
    engine = _engine(database_url, pre_ping=True)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        await asyncio.sleep(IDLE_S * 2)
        assert await _backend_pid(engine) != pid  # the ping failed, the pool connected anew
    finally:
        await engine.dispose()


async def test_a_connection_in_use_a_moment_ago_is_not_pinged(database_url: str) -> None:
    """Without a ping the killed connection is used as it is: the statement fails, and the
    pool invalidates it (the next checkout connects anew)."""
    engine = _engine(database_url, pre_ping=True, idle_s=600)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        with pytest.raises(DBAPIError) as failed:
            await _backend_pid(engine)
        assert failed.value.connection_invalidated
        assert await _backend_pid(engine) != pid
    finally:
        await engine.dispose()


async def test_without_pre_ping_an_idle_killed_connection_fails_once(database_url: str) -> None:
    engine = _engine(database_url, pre_ping=False)
    try:
        pid = await _backend_pid(engine)
        await _terminate(database_url, pid)
        await asyncio.sleep(IDLE_S * 2)
        with pytest.raises(DBAPIError):
            await _backend_pid(engine)
        assert await _backend_pid(engine) != pid
    finally:
        await engine.dispose()
