"""Helpers for the ledger's integration tests: a migrated database, settings, the app.

Importable from every ledger test (ledger-service/tests/conftest.py puts this folder on
sys.path); the module name is unique in the repository.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from ledger_service.adapters.integrity import IntegrityReport, check_books
from ledger_service.adapters.tables import SCHEMA
from ledger_service.bootstrap import MIGRATIONS_DIR, LedgerRuntime, build, create_app
from ledger_service.config import LedgerSettings
from otd_shared.db import asyncpg_url
from otd_shared.migrations import upgrade_head_async

TOKENS = {
    "finance": "tok-finance-0001",
    "finance-approver": "tok-approver-0001",
    "sre": "tok-sre-0001",
    "app-backend": "tok-app-0001",
}


def auth(role: str) -> dict[str, str]:
    """Authorization header for a role."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


async def migrated(url: str) -> str:
    """Migrate the ledger schema of a fresh database; returns the URL."""
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    return url


def settings_for(url: str, **overrides: Any) -> LedgerSettings:
    """Settings for a test: its database, dev tokens, no workers."""
    values: dict[str, Any] = {
        "database_url": url,
        "auth_tokens_json": json.dumps(TOKENS),
        "kafka_bootstrap_servers": "127.0.0.1:1",
        "db_pool_size": 10,
        "log_json": False,
        **overrides,
    }
    return LedgerSettings(**values)


@asynccontextmanager
async def running(settings: LedgerSettings) -> AsyncIterator[LedgerRuntime]:
    """A runtime whose engine is disposed at the end."""
    runtime = build(settings)
    try:
        yield runtime
    finally:
        await runtime.engine.dispose()


@asynccontextmanager
async def client_for(runtime: LedgerRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app in-process, authenticated as finance."""
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ledger", headers=auth("finance")
    ) as client:
        yield client


async def integrity_of(url: str) -> IntegrityReport:
    """Run the books' invariant checks on a database."""
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with AsyncSession(bind=engine) as session:
            return await check_books(session)
    finally:
        await engine.dispose()


def unique(prefix: str) -> str:
    """A code segment unique to this test run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def journal(
    source_id: str, day: str, *lines: tuple[str, int, int], description: str = "t"
) -> dict[str, Any]:
    """A manual journal body; lines are (account, debit_fen, credit_fen)."""
    return {
        "source_id": source_id,
        "business_date": day,
        "description": description,
        "lines": [{"account": a, "debit_fen": d, "credit_fen": c} for a, d, c in lines],
    }
