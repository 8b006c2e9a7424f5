"""order-service on real PostgreSQL: a migrated schema, the app over ASGI, helpers to feed
billing events through the consumer's handler and to read the outbox."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from order_service.adapters.tables import SCHEMA
from order_service.bootstrap import ENTRY, MIGRATIONS_DIR
from order_service.config import OrderSettings
from order_service.service_layer.event_handlers import OrderEventHandlers
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.events import BillingPaid, EventEnvelope, new_envelope
from otd_shared.migrations import upgrade_head_async
from otd_shared.runtime import ServiceRuntime

TOKENS = {
    "app-backend": "tok-app",
    "finance": "tok-fin",
    "sre": "tok-sre",
    "installer": "tok-inst",
    "bank": "tok-bank",
}
PRICE_FEN = 30_000_000


def auth(role: str) -> dict[str, str]:
    """The Authorization header of a role."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@dataclass
class OrderHarness:
    """The app, its runtime, and ways to act as billing-service."""

    runtime: ServiceRuntime
    http: httpx.AsyncClient

    @staticmethod
    def auth(role: str) -> dict[str, str]:
        """The Authorization header of a role."""
        return auth(role)

    async def billing_paid(self, order_id: str, stage: str, amount_fen: int = 1) -> EventEnvelope:
        """Deliver a BillingPaid through the consumer's handler (its own transaction)."""
        envelope = new_envelope(
            BillingPaid(
                order_id=order_id,
                billing_id=str(uuid.uuid4()),
                stage=stage,  # type: ignore[arg-type]  # tests pass valid stages
                amount_fen=amount_fen,
                paid_fen=amount_fen,
            ),
            producer="billing-service",
            correlation_id="test",
        )
        uow = OrderUnitOfWork(self.runtime.sessions, self.runtime.outbox)
        async with uow:
            await OrderEventHandlers().on_billing_paid(uow, envelope)
            await uow.commit()
        return envelope

    async def outbox_types(self, order_id: str) -> list[str]:
        """Event types written to the outbox for an order, in order."""
        outbox = self.runtime.tables.outbox
        async with self.runtime.sessions() as session:
            rows = await session.execute(
                sa.select(outbox.c.event_type)
                .where(outbox.c.partition_key == order_id)
                .order_by(outbox.c.id)
            )
            return [r[0] for r in rows]

    async def outbox_payloads(self, order_id: str, event_type: str) -> list[dict[str, Any]]:
        """Payloads of one event type written for an order."""
        outbox = self.runtime.tables.outbox
        async with self.runtime.sessions() as session:
            rows = await session.execute(
                sa.select(outbox.c.body)
                .where(outbox.c.partition_key == order_id, outbox.c.event_type == event_type)
                .order_by(outbox.c.id)
            )
            return [json.loads(r[0])["payload"] for r in rows]

    async def create(self, **overrides: Any) -> dict[str, Any]:
        """POST /v1/orders; returns the body of the 201."""
        body = {
            "customer_id": "cust-it",
            "vehicle_model": "OTD-S",
            "price_fen": PRICE_FEN,
            "loan_fen": 0,
            "charging_pile": True,
            **overrides,
        }
        response = await self.http.post("/v1/orders", json=body, headers=auth("app-backend"))
        assert response.status_code == 201, response.text
        return dict(response.json())

    async def post(
        self, path: str, role: str, body: dict[str, Any] | None = None
    ) -> httpx.Response:
        """POST as a role."""
        return await self.http.post(path, json=body, headers=auth(role))


@pytest.fixture(scope="session")
async def order_database(database_url: str) -> str:
    await upgrade_head_async(MIGRATIONS_DIR, database_url, SCHEMA)
    return database_url


@pytest.fixture
async def orders(order_database: str) -> AsyncIterator[OrderHarness]:
    settings = OrderSettings(
        database_url=SecretStr(order_database),
        auth_tokens_json=SecretStr(json.dumps(TOKENS)),
        db_pool_size=5,
        log_json=False,
    )
    runtime = ENTRY.build_runtime(settings)
    app = ENTRY.create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://order-service") as client:
        yield OrderHarness(runtime, client)
    await runtime.engine.dispose()
