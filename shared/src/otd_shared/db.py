"""Async SQLAlchemy plumbing: engine and session factory, built at startup only."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from otd_shared.settings import ServiceSettings

SessionFactory = async_sessionmaker[AsyncSession]


def create_engine(settings: ServiceSettings) -> AsyncEngine:
    """An asyncpg engine for the service's database (pool sized by settings)."""
    return create_async_engine(
        asyncpg_url(settings.database_url.get_secret_value()),
        pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size,
        pool_timeout=settings.db_pool_timeout_s,
        pool_pre_ping=settings.db_pool_pre_ping,
        hide_parameters=True,  # SQL parameters (customer data, secrets) never reach a log
    )


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
