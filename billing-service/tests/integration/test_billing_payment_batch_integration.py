"""A partition batch of PaymentCallbacks through the real consumer runtime on PostgreSQL: the
batch handler gives the same billings, events, webhooks and deferred outcomes as applying
the callbacks one by one, falls back to one by one when an order's outcome is refused, and
costs a fixed number of statements whatever the number of orders."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import pytest
import sqlalchemy as sa
from aiokafka import ConsumerRecord
from sqlalchemy import event

from billing_service.adapters.tables import deferred_outcomes, webhook_deliveries
from otd_shared.consumer import EventConsumer
from otd_shared.events import PaymentCallback, new_envelope
from otd_shared.testing.consumer_records import partition_records

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration
INTENT_FEN = 500_000
FIRM_FEN = 5_000_000


def _payments_consumer(billing: BillingHarness) -> EventConsumer:
    [spec] = [s for s in billing.runtime.consumers if s.name == "billing-payment-events"]
    assert "PaymentCallback" in spec.batch_handlers
    return billing.runtime.build_consumer(spec)


def _callback(
    order_id: str, billing_id: str, amount_fen: int, payment_id: str, **extra: Any
) -> PaymentCallback:
    return PaymentCallback(
        order_id=order_id,
        billing_id=billing_id,
        payment_id=payment_id,
        channel=extra.pop("channel", "wechatpay"),
        method="app",
        outcome=extra.pop("outcome", "succeeded"),
        out_trade_no=f"OTD{payment_id}",
        amount_fen=amount_fen,
        completed_at=datetime.now(UTC),
        **extra,
    )


def _records(callbacks: list[PaymentCallback], first_offset: int = 0) -> list[ConsumerRecord]:
    envelopes = [
        new_envelope(callback, producer="payment-gateway", correlation_id=f"c{offset}")
        for offset, callback in enumerate(callbacks, start=first_offset)
    ]
    return partition_records(envelopes, topic="otd.payments", first_offset=first_offset)


async def _scenario(billing: BillingHarness, tag: str) -> tuple[list[str], list[PaymentCallback]]:
    """Five orders and the callbacks of one partition poll, several per order, in order."""
    orders = [await billing.open_order() for _ in range(5)]
    bills = [await billing.billings(o) for o in orders]
    intent = [b["intent"]["billing_id"] for b in bills]
    firm = bills[0]["firm"]["billing_id"]
    a, b, c, d, e = orders
    callbacks = [
        _callback(a, intent[0], INTENT_FEN, f"{tag}-a1"),  # pays the intent
        _callback(b, intent[1], 100_000, f"{tag}-b1", outcome="refunded", refund_id="r-b"),
        _callback(c, intent[2], 200_000, f"{tag}-c1", channel="alipay"),
        _callback(a, intent[0], INTENT_FEN, f"{tag}-a1"),  # the same payment again
        _callback(b, intent[1], INTENT_FEN, f"{tag}-b1"),  # its success: the refund applies
        _callback(c, intent[2], 300_000, f"{tag}-c2"),  # completes the intent
        _callback(d, intent[3], INTENT_FEN, f"{tag}-d1", outcome="failed"),
        _callback(str(uuid.uuid4()), intent[4], INTENT_FEN, f"{tag}-x1"),  # unknown order
        _callback(e, intent[4], INTENT_FEN, f"{tag}-e1"),
        _callback(e, intent[4], INTENT_FEN, f"{tag}-e2"),  # overpaid: refund requested
        _callback(a, firm, 1_000_000, f"{tag}-a2", channel="unionpay"),  # part of the firm
    ]
    return orders, callbacks


async def _snapshot(billing: BillingHarness, orders: list[str]) -> list[Any]:
    """What each order ended as: billings, events, webhooks, deferred outcomes."""
    found: list[Any] = []
    async with billing.runtime.sessions() as session:
        for order_id in orders:
            bills = await billing.billings(order_id)
            webhooks = await session.execute(
                sa.select(webhook_deliveries.c.event_type)
                .where(webhook_deliveries.c.order_id == order_id)
                .order_by(webhook_deliveries.c.id)
            )
            deferred = await session.execute(
                sa.select(deferred_outcomes.c.outcome, deferred_outcomes.c.status)
                .where(deferred_outcomes.c.order_id == order_id)
                .order_by(deferred_outcomes.c.id)
            )
            found.append(
                (
                    {s: (x["status"], x["paid_fen"], x["credit_fen"]) for s, x in bills.items()},
                    await billing.outbox_types(order_id),
                    [r[0] for r in webhooks],
                    [tuple(r) for r in deferred],
                )
            )
    return found


async def test_a_partition_batch_applies_exactly_like_one_by_one(billing: BillingHarness) -> None:
    single_orders, single = await _scenario(billing, f"s{uuid.uuid4().hex[:6]}")
    for callback in single:
        await billing.deliver(callback, producer="payment-gateway")
    batch_orders, batch = await _scenario(billing, f"b{uuid.uuid4().hex[:6]}")

    await _payments_consumer(billing).process(_records(batch))

    one_by_one = await _snapshot(billing, single_orders)
    assert await _snapshot(billing, batch_orders) == one_by_one
    paid_a, paid_b, paid_c, failed_d, overpaid_e = one_by_one
    assert paid_a[0]["intent"] == ("paid", INTENT_FEN, 0)
    assert paid_a[0]["firm"][:2] == ("partially_paid", 1_000_000)
    assert paid_a[1].count("BillingPaid") == 1
    assert paid_b[3] == [("refunded", "applied")]
    assert paid_c[0]["intent"] == ("paid", INTENT_FEN, 0)
    assert failed_d[0]["intent"] == ("due", 0, 0)
    assert overpaid_e[1][-2:] == ["BillingOverpaid", "RefundRequested"]
    assert "BillingPaid" in overpaid_e[2]


async def test_a_refused_outcome_among_its_orders_callbacks_falls_back_to_one_by_one(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    bills = await billing.billings(order_id)
    intent, firm = bills["intent"]["billing_id"], bills["firm"]["billing_id"]
    callbacks = [
        _callback(order_id, intent, INTENT_FEN, "p-1"),
        _callback(order_id, firm, 1_000_000, "p-1"),  # p-1 belongs to the intent: refused
        _callback(order_id, firm, 1_000_000, "p-2"),
    ]

    await _payments_consumer(billing).process(_records(callbacks))

    after = await billing.billings(order_id)
    assert after["intent"]["status"] == "paid"
    assert (after["firm"]["status"], after["firm"]["paid_fen"]) == ("partially_paid", 1_000_000)
    assert (await billing.outbox_types(order_id)).count("BillingPaid") == 1
    async with billing.runtime.sessions() as session:
        statuses = await session.scalars(
            sa.select(deferred_outcomes.c.status).where(deferred_outcomes.c.order_id == order_id)
        )
        assert list(statuses) == ["conflict"]


async def test_a_batch_costs_the_same_statements_for_ten_orders_as_for_forty(
    billing: BillingHarness,
) -> None:
    consumer = _payments_consumer(billing)
    counts = []
    offset = 0
    for size in (10, 40):
        orders = [await billing.open_order() for _ in range(size)]
        callbacks = [
            _callback(o, (await billing.billings(o))["intent"]["billing_id"], INTENT_FEN, f"p{o}")
            for o in orders
        ]
        records = _records(callbacks, first_offset=offset)
        offset += size
        counter = [0]

        def count(*_: object, counter: list[int] = counter) -> None:
            counter[0] += 1

        event.listen(billing.runtime.engine.sync_engine, "before_cursor_execute", count)
        try:
            await consumer.process(records)
        finally:
            event.remove(billing.runtime.engine.sync_engine, "before_cursor_execute", count)
        counts.append(counter[0])
        statuses = {(await billing.billings(o))["intent"]["status"] for o in orders}
        assert statuses == {"paid"}
    assert counts[0] == counts[1]
    assert counts[0] <= 15
