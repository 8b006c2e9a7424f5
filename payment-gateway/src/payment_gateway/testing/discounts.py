"""Driving discount activities in tests: create and approve one, follow the outbox with the
``gateway-discounts`` handler (what the consumer does in a running cluster), read draws."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from otd_shared.events import decode_envelope
from payment_gateway.adapters.tables import discount_cards, discount_draws
from payment_gateway.service_layer.discount_cashier import outcome_handler
from payment_gateway.testing.harness import Harness, auth


def activity_body(store_id: str, **changes: Any) -> dict[str, Any]:
    """A sound activity for one store: 1–5 CNY off payments of at least 10 CNY."""
    now = datetime.now(UTC)
    body: dict[str, Any] = {
        "name": f"test activity {store_id}",
        "starts_at": (now - timedelta(minutes=1)).isoformat(),
        "ends_at": (now + timedelta(hours=2)).isoformat(),
        "stages": ["intent", "firm"],
        "channels": ["wechatpay", "alipay", "lakala"],
        "store_ids": [store_id],
        "threshold_fen": 1_000,
        "min_fen": 100,
        "max_fen": 500,
        "cap_total": 20,
        "budget_fen": 20 * 500,
    }
    body.update(changes)
    return body


@dataclass
class DiscountDriver:
    """Activities over the API; PaymentCallback outbox rows fed to the discount handler."""

    h: Harness
    _seen_id: int = 0
    applied: list[uuid.UUID] = field(default_factory=list)

    async def skip_existing(self) -> None:
        """Follow only events written from now on."""
        outbox = self.h.runtime.tables.outbox
        async with self.h.gw.sessions() as session:
            self._seen_id = int(await session.scalar(sa.select(sa.func.max(outbox.c.id))) or 0)

    async def create(self, store_id: str, **changes: Any) -> dict[str, Any]:
        response = await self.h.client.post(
            "/v1/discount-activities",
            json=activity_body(store_id, **changes),
            headers=auth("marketing"),
        )
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    async def approve(self, activity_id: str) -> dict[str, Any]:
        response = await self.h.client.post(
            f"/v1/discount-activities/{activity_id}/approve", headers=auth("finance-approver")
        )
        assert response.status_code == 200, response.text
        approved: dict[str, Any] = response.json()
        return approved

    async def running(self, store_id: str, **changes: Any) -> dict[str, Any]:
        created = await self.create(store_id, **changes)
        return await self.approve(created["activity_id"])

    async def start(
        self, billing_id: uuid.UUID, amount_fen: int, store_id: str, *, key: str | None = None
    ) -> Any:
        body = {
            "billing_id": str(billing_id),
            "channel": "wechatpay",
            "amount_fen": amount_fen,
            "store_id": store_id,
        }
        headers = {**auth(), "Idempotency-Key": key or uuid.uuid4().hex}
        return await self.h.client.post("/v1/payments", json=body, headers=headers)

    async def follow(self) -> int:
        """Apply every new PaymentCallback of the outbox (as the consumer would), once."""
        outbox = self.h.runtime.tables.outbox
        handler = outcome_handler(self.h.runtime.outbox)
        applied = 0
        while True:
            async with self.h.gw.sessions() as session:
                rows = (
                    await session.execute(
                        sa.select(outbox.c.id, outbox.c.body)
                        .where(
                            outbox.c.event_type == "PaymentCallback", outbox.c.id > self._seen_id
                        )
                        .order_by(outbox.c.id)
                    )
                ).all()
            if not rows:
                return applied
            for row_id, body in rows:
                envelope = decode_envelope(body.encode())
                async with self.h.gw.sessions() as session, session.begin():
                    await handler(session, envelope)
                self._seen_id = row_id
                self.applied.append(envelope.event_id)
                applied += 1

    async def draws(self, activity_id: str) -> list[Any]:
        async with self.h.gw.sessions() as session:
            query = sa.select(discount_draws).where(
                discount_draws.c.activity_id == uuid.UUID(activity_id)
            )
            return list((await session.execute(query)).mappings())

    async def cards(self, activity_id: str) -> list[Any]:
        async with self.h.gw.sessions() as session:
            query = sa.select(discount_cards).where(
                discount_cards.c.activity_id == uuid.UUID(activity_id)
            )
            return list((await session.execute(query)).mappings())

    async def report(self, activity_id: str) -> dict[str, Any]:
        response = await self.h.client.get(
            f"/v1/discount-activities/{activity_id}/report", headers=auth("marketing")
        )
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found
