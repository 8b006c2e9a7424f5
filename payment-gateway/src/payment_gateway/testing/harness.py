"""Driving a gateway app in tests: a payable billing, payments, signed notifications, the
outbox and the raw callback log (used by the integration tests and the e2e checks).

The channel side is the channel sandbox (`channel_sandbox.testing.SandboxHandle`): its APIs
answer the gateway's clients, and `sign` has the sandbox's channel modules sign notifications,
so the gateway's verifiers never check what the gateway itself signed."""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa

from channel_sandbox.testing import SandboxHandle
from otd_shared.events import BillingDue, new_envelope
from payment_gateway.adapters.tables import callback_requests, payments, refunds
from payment_gateway.bootstrap import GatewayRuntime
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.event_handlers import on_billing_due
from payment_gateway.service_layer.scheduler import QueryScheduler
from payment_gateway.testing.notifications import (
    NotificationEvent,
    SignedNotification,
    sandbox_event,
)

TOKENS = {
    "app-backend": "tok-app",
    "finance": "tok-fin",
    "cashier": "tok-cash",
    "pos-integrator": "tok-pos",
    "sre": "tok-sre",
    "installer": "tok-inst",
    "marketing": "tok-mkt",
    "bank": "tok-bank",
    "finance-approver": "tok-appr",
    "service": "tok-svc",
}


def auth(role: str = "app-backend") -> dict[str, str]:
    return {"Authorization": f"Bearer {TOKENS[role]}"}


@dataclass
class Harness:
    """One gateway app over ASGI with helpers to drive it."""

    runtime: GatewayRuntime
    gw: Gateway
    client: httpx.AsyncClient
    sandbox: SandboxHandle

    async def due_billing(
        self,
        *,
        stage: str = "intent",
        amount_fen: int = 500_000,
        outstanding_fen: int | None = None,
        customer_id: str = "cust-1",
    ) -> uuid.UUID:
        billing_id, order_id = uuid.uuid4(), uuid.uuid4()
        event = BillingDue(
            order_id=str(order_id),
            billing_id=str(billing_id),
            customer_id=customer_id,
            stage=stage,
            amount_fen=amount_fen,
            outstanding_fen=amount_fen if outstanding_fen is None else outstanding_fen,
            due_at=datetime.now(UTC),
        )
        envelope = new_envelope(event, producer="test", correlation_id="c")
        async with self.gw.uow() as uow:
            await on_billing_due(uow, envelope)
            await uow.commit()
        return billing_id

    async def start(
        self,
        billing_id: uuid.UUID,
        channel: str,
        amount_fen: int,
        *,
        key: str | None = None,
        method: str | None = None,
        role: str = "app-backend",
    ) -> httpx.Response:
        body: dict[str, Any] = {
            "billing_id": str(billing_id),
            "channel": channel,
            "amount_fen": amount_fen,
        }
        if method is not None:
            body["method"] = method
        headers = {**auth(role), "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post("/v1/payments", json=body, headers=headers)

    async def paying(
        self,
        channel: str,
        amount_fen: int = 12_345,
        *,
        stage: str = "intent",
        method: str | None = None,
    ) -> dict[str, Any]:
        billing_id = await self.due_billing(stage=stage, amount_fen=max(amount_fen, 500_000))
        response = await self.start(billing_id, channel, amount_fen, method=method)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        assert created["status"] == "paying", created
        return created

    async def paid(self, channel: str, amount_fen: int) -> dict[str, Any]:
        """A payment the sandbox paid and whose signed notification the gateway accepted
        (``channel_txn_id`` added to the payment as started)."""
        created = await self.paying(channel, amount_fen)
        if channel == "alipay":  # Alipay learns of an app payment when the buyer opens it
            self.sandbox.open("alipay", created["out_trade_no"], amount_fen)
        order = self.sandbox.pay(channel, created["out_trade_no"])
        signed = self.sign(
            channel,
            NotificationEvent(
                out_trade_no=created["out_trade_no"],
                channel_txn_id=order.channel_txn_id,
                amount_fen=amount_fen,
            ),
        )
        answer = await self.notify(channel, dict(signed.headers), signed.body)
        assert answer.status_code in (200, 204), answer.text
        created["channel_txn_id"] = order.channel_txn_id
        return created

    def sign(
        self, channel: str, event: NotificationEvent, *, now_s: int | None = None
    ) -> SignedNotification:
        """`event` as the channel would notify it, signed by the sandbox with the channel key."""
        return self.sandbox.notification(
            channel, sandbox_event(event), now_s=now_s if now_s is not None else int(time.time())
        )

    async def notify(
        self, channel: str, headers: dict[str, str] | list[tuple[str, str]], body: bytes
    ) -> httpx.Response:
        return await self.client.post(f"/callbacks/{channel}", headers=headers, content=body)

    async def payment(self, payment_id: str) -> dict[str, Any]:
        response = await self.client.get(f"/v1/payments/{payment_id}", headers=auth("finance"))
        assert response.status_code == 200, response.text
        result: dict[str, Any] = response.json()
        return result

    async def outbox_events(self, event_type: str, contains: str) -> list[dict[str, Any]]:
        """Payloads of the outbox rows of one type whose body contains ``contains``."""
        outbox = self.runtime.tables.outbox
        async with self.gw.sessions() as session:
            rows = await session.execute(
                sa.select(outbox.c.body)
                .where(outbox.c.event_type == event_type, outbox.c.body.contains(contains))
                .order_by(outbox.c.id)
            )
            return [json.loads(r[0])["payload"] for r in rows]

    async def callbacks_events(self, payment_id: str) -> list[dict[str, Any]]:
        """PaymentCallback outbox rows of one payment."""
        outbox = self.runtime.tables.outbox
        async with self.gw.sessions() as session:
            rows = await session.execute(
                sa.select(outbox.c.body).where(
                    outbox.c.event_type == "PaymentCallback", outbox.c.body.contains(payment_id)
                )
            )
            return [json.loads(r[0])["payload"] for r in rows]

    async def callback_rows(
        self, payment_id: str | None = None, channel: str | None = None
    ) -> list[Any]:
        query = sa.select(callback_requests).order_by(callback_requests.c.id)
        if payment_id is not None:
            query = query.where(callback_requests.c.payment_id == uuid.UUID(payment_id))
        if channel is not None:
            query = query.where(callback_requests.c.channel == channel)
        async with self.gw.sessions() as session:
            return list((await session.execute(query)).mappings())

    async def payment_row(self, payment_id: str) -> sa.RowMapping:
        """The payment's row as stored."""
        query = sa.select(payments).where(payments.c.payment_id == uuid.UUID(payment_id))
        async with self.gw.sessions() as session:
            return (await session.execute(query)).mappings().one()

    async def status_of(self, payment_id: str) -> str:
        async with self.gw.sessions() as session:
            value = await session.scalar(
                sa.select(payments.c.status).where(payments.c.payment_id == uuid.UUID(payment_id))
            )
        return str(value)

    async def make_due(self, payment_id: str) -> None:
        """Make the payment's active query due now."""
        async with self.gw.sessions() as session, session.begin():
            await session.execute(
                sa.update(payments)
                .where(payments.c.payment_id == uuid.UUID(payment_id))
                .values(next_query_at=sa.func.now() - sa.text("interval '1 second'"))
            )

    async def make_refund_due(self, refund_id: str | uuid.UUID) -> None:
        """Make the refund's active query due now."""
        async with self.gw.sessions() as session, session.begin():
            await session.execute(
                sa.update(refunds)
                .where(refunds.c.refund_id == uuid.UUID(str(refund_id)))
                .values(next_query_at=sa.func.now() - sa.text("interval '1 second'"))
            )

    def scheduler(self) -> QueryScheduler:
        return QueryScheduler(self.gw)


__all__ = ["Harness", "NotificationEvent", "SignedNotification", "auth", "sandbox_event"]
