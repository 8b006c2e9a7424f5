"""Async SQLAlchemy plumbing: engine and session factory, built at startup only."""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy import event, exc, text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from otd_shared.settings import ServiceSettings

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An asyncpg engine for the service's database (pool sized by settings); with
    ``db_pool_pre_ping`` a connection is pinged at checkout when it sat idle in the pool."""
    engine = create_async_engine(
        asyncpg_url(settings.database_url.get_secret_value()),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        hide_parameters=True,  # SQL parameters (customer data, secrets) never reach a log
    )
    if settings.db_pool_pre_ping:
        ping_when_idle(engine, settings.db_pool_ping_idle_s)
    return engine


def ping_when_idle(engine: AsyncEngine, idle_s: float) -> None:
    """Ping a pooled connection at checkout when it sat in the pool ``idle_s`` or longer
    (SQLAlchemy's pre-ping on every checkout costs three round trips per transaction: under
    load the connections never sit idle, and a disconnect during use invalidates the pool
    anyway). A failed ping is a ``DisconnectionError``: the pool retries with a new one."""
    pool = engine.sync_engine.pool
    dialect = engine.sync_engine.dialect

    @event.listens_for(pool, "checkin")
    def _checked_in(_dbapi_connection: Any, record: Any) -> None:
        record.info[_CHECKED_IN_AT] = time.monotonic()

    @event.listens_for(pool, "checkout")
    def _checked_out(dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        checked_in_at = record.info.get(_CHECKED_IN_AT)
        if checked_in_at is None or time.monotonic() - checked_in_at < idle_s:
            return  # new, or in use a moment ago
        try:
            alive = dialect.do_ping(dbapi_connection)
        except Exception as error:
            raise exc.DisconnectionError(f"ping failed: {error}") from error
        if not alive:
            raise exc.DisconnectionError("ping failed")


_CHECKED_IN_AT = "otd_checked_in_at"


def create_session_factory(engine: AsyncEngine) -> SessionFactory:
    """Sessions that do not expire objects on commit (we read after commit)."""
    return async_sessionmaker(engine, expire_on_commit=False)


def asyncpg_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` URLs and return the asyncpg form."""
    for prefix in ("postgresql+asyncpg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix) :]
    raise ValueError("DATABASE_URL must be a postgresql URL")


async def database_ready(engine: AsyncEngine) -> bool:
    """True when a trivial query succeeds."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception:  # noqa: BLE001  (readiness reports any failure as not ready)
        return False
    return True
