"""recon-service on real PostgreSQL: a migrated schema, the app over ASGI, upload helpers."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from pydantic import SecretStr

from otd_shared.events import PaymentCallback, PaymentCorrected, new_envelope
from otd_shared.migrations import upgrade_head_async
from otd_shared.runtime import ServiceRuntime
from recon_service.adapters.tables import SCHEMA
from recon_service.bootstrap import ENTRY, MIGRATIONS_DIR
from recon_service.config import ReconSettings
from recon_service.service_layer.event_handlers import payment_handlers
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

TOKENS = {"finance": "r-fin", "finance-approver": "r-appr", "cashier": "r-cash"}


@dataclass
class ReconHarness:
    """The app and its runtime."""

    runtime: ServiceRuntime
    settings: ReconSettings
    http: httpx.AsyncClient
    app: FastAPI

    @staticmethod
    def auth(role: str = "finance") -> dict[str, str]:
        """The Authorization header of a role."""
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    async def upload(
        self,
        source: str,
        content: bytes,
        *,
        filename: str = "statement.csv",
        statement_date: str | None = None,
        role: str = "finance",
    ) -> httpx.Response:
        """POST /v1/statements as multipart."""
        data = {"source": source}
        if statement_date is not None:
            data["statement_date"] = statement_date
        return await self.http.post(
            "/v1/statements",
            data=data,
            files={"file": (filename, content, "application/octet-stream")},
            headers=self.auth(role),
        )

    async def deliver(
        self, payload: PaymentCallback | PaymentCorrected, *, event_id: uuid.UUID | None = None
    ) -> None:
        """Apply one event of the gateway through the consumer's handler, in its own
        transaction."""
        envelope = new_envelope(
            payload, producer="payment-gateway", correlation_id="test", event_id=event_id
        )
        async with ReconUnitOfWork(self.runtime.sessions, self.runtime.outbox) as uow:
            await payment_handlers()[payload.event_type](uow, envelope)
            await uow.commit()

    async def run(self, source: str, day: str, *, expect: int = 201) -> dict[str, Any]:
        """POST /v1/recon-runs; returns the body."""
        response = await self.http.post(
            "/v1/recon-runs", json={"source": source, "date": day}, headers=self.auth()
        )
        assert response.status_code == expect, response.text
        body: dict[str, Any] = response.json()
        return body

    async def scalar(self, query: str, **params: Any) -> Any:
        """One value from the recon schema."""
        async with self.runtime.engine.connect() as conn:
            return await conn.scalar(sa.text(query), params)

    async def rows(self, query: str, **params: Any) -> list[tuple[Any, ...]]:
        """Rows from the recon schema."""
        async with self.runtime.engine.connect() as conn:
            return [tuple(row) for row in await conn.execute(sa.text(query), params)]

    async def outbox(self, event_type: str) -> list[dict[str, Any]]:
        """Envelopes of one type in the outbox, oldest first."""
        t = self.runtime.tables.outbox
        async with self.runtime.engine.connect() as conn:
            rows = await conn.execute(
                sa.select(t.c.body).where(t.c.event_type == event_type).order_by(t.c.id)
            )
            return [json.loads(r[0]) for r in rows]


@pytest.fixture(scope="session")
async def recon_database(new_database: Any) -> str:
    url: str = await new_database()
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    return url


def recon_settings(database_url: str, **overrides: Any) -> ReconSettings:
    """Settings of a test: explicit, nothing read from the environment."""
    values: dict[str, Any] = {
        "database_url": SecretStr(database_url),
        "auth_tokens_json": SecretStr(json.dumps(TOKENS)),
        "db_pool_size": 5,
        "log_json": False,
        **overrides,
    }
    return ReconSettings(**values)


@contextlib.asynccontextmanager
async def harness(database_url: str, **overrides: Any) -> AsyncIterator[ReconHarness]:
    """The app on its own runtime with settings overridden."""
    settings = recon_settings(database_url, **overrides)
    runtime = ENTRY.build_runtime(settings)
    app = ENTRY.create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    try:
        async with httpx.AsyncClient(transport=transport, base_url="http://recon") as client:
            yield ReconHarness(runtime, settings, client, app)
    finally:
        await runtime.engine.dispose()


@pytest.fixture
async def recon(recon_database: str) -> AsyncIterator[ReconHarness]:
    async with harness(recon_database, statement_copy_batch_lines=7) as h:
        yield h


@pytest.fixture
def recon_with(
    recon_database: str,
) -> Callable[..., contextlib.AbstractAsyncContextManager[ReconHarness]]:
    """recon_with(**settings) → an async context manager of a harness with those settings."""
    return lambda **overrides: harness(recon_database, **overrides)
