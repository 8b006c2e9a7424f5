"""Driving discount activities in tests: create and approve one, follow the outbox with the
``gateway-discounts`` handler (what the consumer does in a running cluster), read draws."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa

from otd_shared.events import BillingDue, decode_envelope, new_envelope
from otd_shared.testing.windows import within_today
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.tables import discount_cards, discount_draws
from payment_gateway.service_layer.discount_cashier import (
    outcome_batch_handler,
    outcome_handler,
)
from payment_gateway.service_layer.event_handlers import on_billing_due
from payment_gateway.testing.harness import Harness, auth
from payment_gateway.testing.notifications import NotificationEvent

BILLING_FEN = 500_000


def activity_body(store_id: str, **changes: Any) -> dict[str, Any]:
    """A sound activity for one store: 1–5 CNY off payments of at least 10 CNY."""
    starts_at, ends_at = within_today(datetime.now(UTC), timedelta(hours=2))
    body: dict[str, Any] = {
        "name": f"test activity {store_id}",
        "starts_at": starts_at.isoformat(),
        "ends_at": ends_at.isoformat(),
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
    batched: bool = False
    """``follow`` applies each round's callbacks in one unit of work through the batch
    handler (as a consumer's partition batch) instead of one by one."""

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

    async def billing(self, *, customer: str | None = None, stage: str = "intent") -> uuid.UUID:
        """A due billing of 5,000.00 CNY of its own order (a fresh customer by default)."""
        billing_id = uuid.uuid4()
        event = BillingDue(
            order_id=str(uuid.uuid4()),
            billing_id=str(billing_id),
            customer_id=customer or f"cust-{uuid.uuid4().hex[:8]}",
            stage=stage,
            amount_fen=BILLING_FEN,
            outstanding_fen=BILLING_FEN,
            due_at=datetime.now(UTC),
        )
        async with self.h.gw.uow() as uow:
            await on_billing_due(uow, new_envelope(event, producer="test", correlation_id="c"))
            await uow.commit()
        return billing_id

    async def pay_notified(self, created: dict[str, Any]) -> str:
        """The channel says the payment succeeded (a genuine signed WeChat notification)."""
        no = created["out_trade_no"]
        try:
            self.h.sandbox.order("wechatpay", no)
        except KeyError:  # our order call timed out on a busy machine (payment ``unknown``)
            self.h.sandbox.open("wechatpay", no, created["amount_fen"])
        order = self.h.sandbox.pay("wechatpay", no)
        await self.notify_success(created, order.channel_txn_id)
        return order.channel_txn_id

    async def notify_success(self, created: dict[str, Any], txn_id: str) -> None:
        """A genuine signed WeChat success notification, whatever the sandbox's order says
        (a channel that took the money after our close, say)."""
        event = NotificationEvent(
            out_trade_no=created["out_trade_no"],
            channel_txn_id=txn_id,
            amount_fen=created["amount_fen"],
        )
        signed = self.h.sign("wechatpay", event)
        answer = await self.h.notify("wechatpay", dict(signed.headers), signed.body)
        assert answer.status_code == 204, answer.text

    async def close(self, created: dict[str, Any]) -> None:
        """The customer gives up: the payment is closed at the channel."""
        closed = await self.h.client.post(
            f"/v1/payments/{created['payment_id']}/close", headers=auth()
        )
        assert closed.status_code == 200, closed.text

    async def refund(
        self, created: dict[str, Any], txn_id: str, amount_fen: int | None = None
    ) -> None:
        """Finance refunds (all the customer paid, by default); the channel confirms it."""
        body: dict[str, Any] = {"reason": "customer cancelled"}
        if amount_fen is not None:
            body["amount_fen"] = amount_fen
        asked = await self.h.client.post(
            f"/v1/payments/{created['payment_id']}/refunds",
            json=body,
            headers={**auth("finance"), "Idempotency-Key": uuid.uuid4().hex},
        )
        assert asked.status_code == 201, asked.text
        refund = asked.json()
        await self.h.scheduler().run_once()
        sim_refund = self.h.sandbox.settle_refund("wechatpay", refund["out_refund_no"])
        signed = self.h.sign(
            "wechatpay",
            NotificationEvent(
                kind=NotificationKind.REFUND,
                outcome=Outcome.REFUNDED,
                out_trade_no=created["out_trade_no"],
                channel_txn_id=txn_id,
                amount_fen=created["amount_fen"],
                out_refund_no=refund["out_refund_no"],
                channel_refund_id=sim_refund.refund_id,
                refund_amount_fen=amount_fen or created["amount_fen"],
            ),
        )
        answer = await self.h.notify("wechatpay", dict(signed.headers), signed.body)
        assert answer.status_code == 204, answer.text

    async def discount_events(self, discount_payment_id: str) -> list[dict[str, Any]]:
        """PaymentCallback payloads of one discount payment, oldest first."""
        events = await self.h.callbacks_events(discount_payment_id)
        return [e for e in events if e["channel"] == "discount"]

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
            if self.batched:
                applied += await self._follow_batch(rows)
                continue
            for row_id, body in rows:
                envelope = decode_envelope(body.encode())
                async with self.h.gw.uow() as uow:
                    await handler(uow, envelope)
                    await uow.commit()
                self._seen_id = row_id
                self.applied.append(envelope.event_id)
                applied += 1

    async def _follow_batch(self, rows: Sequence[Any]) -> int:
        envelopes = [decode_envelope(body.encode()) for _, body in rows]
        async with self.h.gw.uow() as uow:
            await outcome_batch_handler(self.h.runtime.outbox)(uow, envelopes)
            await uow.commit()
        self._seen_id = rows[-1][0]
        self.applied += [e.event_id for e in envelopes]
        return len(envelopes)

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
