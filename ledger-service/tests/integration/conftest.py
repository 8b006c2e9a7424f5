"""Fixtures of the ledger's integration tests: one migrated database for the session, a
runtime and an HTTP client per test, and the books' invariants checked after every test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import httpx
import pytest
from ledger_testkit import client_for, integrity_of, migrated, running, settings_for

from ledger_service.bootstrap import LedgerRuntime


@pytest.fixture(scope="session")
async def ledger_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """A fresh database with the ledger schema, shared by the session's ledger tests."""
    return await migrated(await new_database())


@pytest.fixture
async def runtime(ledger_url: str, tmp_path: Path) -> AsyncIterator[LedgerRuntime]:
    """The ledger runtime on the session database; SAP files go to a temporary directory."""
    async with running(settings_for(ledger_url, sap_outbox_dir=tmp_path / "sap")) as rt:
        yield rt


@pytest.fixture
async def client(runtime: LedgerRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """The app in-process, as finance."""
    async with client_for(runtime) as http:
        yield http


@pytest.fixture(autouse=True)
async def books_stay_consistent(ledger_url: str) -> AsyncIterator[None]:
    """After every test: debits equal credits per currency and per journal, every balance
    equals the fold of its lines, no journal without a source or lines, no line on an
    unknown account."""
    yield
    report = await integrity_of(ledger_url)
    assert report.ok, report.violations
