"""PaymentCallback through the real broker into recon's projection: the consumer applies each
event once (inbox), even when the gateway's relay publishes it twice."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest

from otd_shared.events import PaymentCallback, Topic, new_envelope, topic_for
from otd_shared.kafka import EventProducer
from otd_shared.runtime import run_workers
from otd_shared.testing.cluster import eventually

pytestmark = pytest.mark.integration


async def test_payment_callbacks_are_projected_once(
    recon_with, kafka_bootstrap: str, topic_prefix: str
) -> None:
    tag = uuid.uuid4().hex[:8]
    payment = PaymentCallback(
        order_id=f"order-{tag}",
        billing_id=f"bill-{tag}",
        payment_id=f"pay-{tag}",
        channel="alipay",
        method="app",
        outcome="succeeded",
        out_trade_no=f"P{tag}",
        channel_txn_id=f"2031{tag}",
        amount_fen=4_999_900,
        completed_at=datetime(2031, 9, 1, 2, 0, tzinfo=UTC),
    )
    refund = payment.model_copy(
        update={"outcome": "refunded", "refund_id": f"ref-{tag}", "amount_fen": 100}
    )
    envelopes = [
        new_envelope(e, producer="payment-gateway", correlation_id=tag) for e in (payment, refund)
    ]
    topic = topic_for(Topic.PAYMENTS, topic_prefix)
    messages = [(topic, e.partition_key.decode(), e.model_dump_json()) for e in envelopes]

    async with recon_with(
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_topic_prefix=topic_prefix,
        kafka_consumer_group_prefix=f"g{tag}.",
    ) as recon:
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(recon.runtime, stop, relay=False))
        producer = EventProducer(kafka_bootstrap, enable_idempotence=False)
        await producer.start()
        try:
            await producer.send_many(messages + messages)  # a relay that published twice

            async def projected() -> bool:
                inbox = await recon.scalar(
                    "SELECT count(*) FROM recon.inbox WHERE event_id = ANY(:ids)",
                    ids=[e.event_id for e in envelopes],
                )
                return bool(inbox == 2)

            await eventually(projected)
            rows = await recon.scalar(
                "SELECT array_agg(kind || ':' || amount_fen ORDER BY kind)"
                " FROM recon.internal_records WHERE payment_id = :p",
                p=f"pay-{tag}",
            )
        finally:
            stop.set()
            await producer.stop()
            await workers

    assert rows == ["payment:4999900", "refund:100"]
