"""pytest fixtures with real infrastructure (loaded from the root conftest.py).

- ``pg_server_url``: DATABASE_URL when set, else an embedded PostgreSQL in a fresh
  temporary directory (one per test session).
- ``kafka_bootstrap``: KAFKA_BOOTSTRAP_SERVERS when set, else a Tansu broker on a free port.
- ``database_url``: a fresh database for this test session, dropped at the end.
- ``new_database``: a factory for more fresh databases (for tests that need a clean one).
- ``topic_prefix``: a unique topic prefix per test, with the topics created.

Two test runs, or a test run beside ``make run``, never share a database or a topic.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path

import pytest

from otd_shared.infra import (
    create_database,
    drop_database,
    start_broker,
    start_embedded_postgres,
    stop_embedded_postgres,
)
from otd_shared.kafka import ensure_topics
from otd_shared.testing.cluster import cluster_database, http, running_cluster

__all__ = ["cluster_database", "http", "running_cluster"]


@pytest.fixture(scope="session")
def pg_server_url() -> Iterator[str]:
    """A PostgreSQL server URL (admin database)."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    with tempfile.TemporaryDirectory(prefix="otd-test-pg-") as tmp:
        server, url = start_embedded_postgres(Path(tmp) / "pgdata")
        try:
            yield url
        finally:
            stop_embedded_postgres(server)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> Iterator[str]:
    """Bootstrap servers of a running Kafka-compatible broker."""
    external = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if external:
        yield external
        return
    broker = start_broker()
    try:
        yield broker.bootstrap_servers
    finally:
        broker.stop()


@pytest.fixture(scope="session")
async def new_database(pg_server_url: str) -> AsyncIterator[Callable[[], Awaitable[str]]]:
    """Factory of fresh databases; all are dropped at the end of the session."""
    created: list[str] = []

    async def make() -> str:
        url = await create_database(pg_server_url, prefix="otdtest")
        created.append(url)
        return url

    yield make
    for url in created:
        await drop_database(pg_server_url, url)


@pytest.fixture(scope="session")
async def database_url(new_database: Callable[[], Awaitable[str]]) -> str:
    """One fresh database shared by the tests of this session."""
    return await new_database()


@pytest.fixture
async def topic_prefix(kafka_bootstrap: str) -> str:
    """A unique topic prefix for one test, with every cluster topic created."""
    prefix = f"t{uuid.uuid4().hex[:10]}."
    await ensure_topics(kafka_bootstrap, prefix)
    return prefix
