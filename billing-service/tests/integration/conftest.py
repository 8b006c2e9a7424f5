"""billing-service on real PostgreSQL: a migrated schema, the app over ASGI, and helpers
that deliver order events and payment outcomes through the consumers' handlers (each in
its own transaction, as the consumer would)."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from pydantic import SecretStr

from billing_service.adapters.tables import SCHEMA
from billing_service.bootstrap import ENTRY, MIGRATIONS_DIR
from billing_service.config import BillingSettings
from billing_service.service_layer.event_handlers import BillingEventHandlers
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.events import EventPayload, OrderCreated, PaymentCallback, new_envelope
from otd_shared.migrations import upgrade_head_async
from otd_shared.runtime import ServiceRuntime

TOKENS = {"app-backend": "b-app", "finance": "b-fin", "sre": "b-sre", "installer": "b-inst"}
WEBHOOK_URL = "http://app-backend.test/hooks/billing"
WEBHOOK_SECRET = "whsec-test"


@dataclass
class BillingHarness:
    """The app and its runtime, acting as order-service and the payment gateway."""

    runtime: ServiceRuntime
    settings: BillingSettings
    http: httpx.AsyncClient
    customer_id: str = field(default_factory=lambda: f"cust-{uuid.uuid4().hex[:8]}")

    @staticmethod
    def auth(role: str) -> dict[str, str]:
        """The Authorization header of a role."""
        return {"Authorization": f"Bearer {TOKENS[role]}"}

    async def deliver(self, payload: EventPayload, *, producer: str = "order-service") -> None:
        """Apply one event through its consumer handler, in its own transaction."""
        handlers = BillingEventHandlers(self.settings)
        handler = {**handlers.order_handlers(), **handlers.payment_handlers()}[payload.event_type]
        envelope = new_envelope(payload, producer=producer, correlation_id="test")
        uow = BillingUnitOfWork(
            self.runtime.sessions, self.runtime.outbox, self.settings.reminder_schedule()
        )
        async with uow:
            await handler(uow, envelope)
            await uow.commit()

    async def open_order(self, *, price_fen: int = 30_000_000, loan_fen: int = 0) -> str:
        """An OrderCreated for a new vehicle order; returns the order id."""
        order_id = str(uuid.uuid4())
        await self.deliver(
            OrderCreated(
                order_id=order_id,
                customer_id=self.customer_id,
                vehicle_model="OTD-S",
                price_fen=price_fen,
                loan_fen=loan_fen,
                fund_order_id=str(uuid.uuid4()),
            )
        )
        return order_id

    async def callback(
        self,
        order_id: str,
        billing_id: str,
        amount_fen: int,
        *,
        payment_id: str | None = None,
        outcome: str = "succeeded",
        channel: str = "wechatpay",
        refund_id: str | None = None,
    ) -> str:
        """A PaymentCallback from the gateway; returns the payment id."""
        payment_id = payment_id or f"pay-{uuid.uuid4().hex[:12]}"
        await self.deliver(
            PaymentCallback(
                order_id=order_id,
                billing_id=billing_id,
                payment_id=payment_id,
                channel=channel,  # type: ignore[arg-type]  # tests pass valid codes
                method="app",
                outcome=outcome,  # type: ignore[arg-type]
                out_trade_no=f"OTD{payment_id}",
                amount_fen=amount_fen,
                refund_id=refund_id,
                completed_at=datetime.now(UTC),
            ),
            producer="payment-gateway",
        )
        return payment_id

    async def fund(self, order_id: str) -> dict[str, Any]:
        """GET the fund order."""
        response = await self.http.get(
            f"/v1/orders/{order_id}/fund-order", headers=self.auth("app-backend")
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    async def billings(self, order_id: str) -> dict[str, dict[str, Any]]:
        """The billings of an order by stage."""
        return {b["stage"]: b for b in (await self.fund(order_id))["billings"]}

    async def outbox(self, order_id: str, event_type: str | None = None) -> list[dict[str, Any]]:
        """Envelopes written for an order (optionally of one type), oldest first."""
        t = self.runtime.tables.outbox
        conditions = [t.c.partition_key == order_id]
        if event_type is not None:
            conditions.append(t.c.event_type == event_type)
        async with self.runtime.sessions() as session:
            rows = await session.execute(sa.select(t.c.body).where(*conditions).order_by(t.c.id))
            return [json.loads(r[0]) for r in rows]

    async def outbox_types(self, order_id: str) -> list[str]:
        """Event types written for an order, oldest first."""
        return [e["event_type"] for e in await self.outbox(order_id)]


@pytest.fixture(scope="session")
async def billing_database(database_url: str) -> str:
    await upgrade_head_async(MIGRATIONS_DIR, database_url, SCHEMA)
    return database_url


def billing_settings(database_url: str, **overrides: Any) -> BillingSettings:
    """Settings of a test: explicit everywhere, nothing read from the environment's webhook."""
    values: dict[str, Any] = {
        "database_url": SecretStr(database_url),
        "auth_tokens_json": SecretStr(json.dumps(TOKENS)),
        "db_pool_size": 10,
        "log_json": False,
        "billing_webhook_url": WEBHOOK_URL,
        "billing_webhook_secret": SecretStr(WEBHOOK_SECRET),
        "webhook_retry_delay_s_min": 1.0,
        "webhook_max_attempts": 3,
        **overrides,
    }
    return BillingSettings(**values)


@pytest.fixture
async def billing(billing_database: str) -> AsyncIterator[BillingHarness]:
    settings = billing_settings(billing_database)
    runtime = ENTRY.build_runtime(settings)
    app = ENTRY.create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://billing") as client:
        yield BillingHarness(runtime, settings, client)
    await runtime.engine.dispose()
