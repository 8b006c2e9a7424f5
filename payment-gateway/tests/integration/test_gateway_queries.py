"""The active-query scheduler: unknown outcomes settled by querying the channel, with back-off,
expiry and closing; a late notification after a query applied once."""

from __future__ import annotations

import asyncio
import uuid
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from channel_sandbox.store import PayState
from payment_gateway.adapters.tables import payments
from payment_gateway.testing.harness import Harness, auth
from payment_gateway.testing.notifications import NotificationEvent

pytestmark = pytest.mark.integration


async def test_paying_payment_is_queried_after_the_named_delay(make_harness: Any) -> None:
    async with make_harness(active_query_delay_s=30) as h:
        created = await h.paying("wechatpay", 7_000)
        row = await h.payment_row(created["payment_id"])
        delay = row["next_query_at"] - row["created_at"]
        assert timedelta(seconds=29) < delay < timedelta(seconds=31)
        assert (
            await h.scheduler().run_once() == 0
            or await h.status_of(created["payment_id"]) == "paying"
        )


async def test_query_success_then_late_notification_is_applied_once(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 7_100)
    order = harness.sandbox.pay("wechatpay", created["out_trade_no"])
    await harness.make_due(created["payment_id"])
    await _run_until_settled(harness, created["payment_id"])
    payment = await harness.payment(created["payment_id"])
    assert payment["status"] == "succeeded"
    assert payment["channel_txn_id"] == order.channel_txn_id
    assert [e["outcome"] for e in await harness.callbacks_events(created["payment_id"])] == [
        "succeeded"
    ]
    late = harness.sign(
        "wechatpay",
        NotificationEvent(
            out_trade_no=created["out_trade_no"],
            channel_txn_id=order.channel_txn_id,
            amount_fen=7_100,
        ),
    )
    answer = await harness.notify("wechatpay", dict(late.headers), late.body)
    assert answer.status_code == 204
    assert len(await harness.callbacks_events(created["payment_id"])) == 1
    rows = await harness.callback_rows(payment_id=created["payment_id"])
    assert [(r["verdict"], r["reason"]) for r in rows] == [("duplicate", "already_succeeded")]


async def _run_until_settled(h: Harness, payment_id: str) -> None:
    for _ in range(20):
        await h.scheduler().run_once()
        if await h.status_of(payment_id) not in ("paying", "unknown"):
            return
        await h.make_due(payment_id)
    raise AssertionError("payment did not settle")


@pytest.mark.parametrize("channel", ["alipay", "lakala"])
async def test_query_success_on_alipay_and_lakala(harness: Harness, channel: str) -> None:
    created = await harness.paying(channel, 7_200)
    if channel == "alipay":
        harness.sandbox.open("alipay", created["out_trade_no"], 7_200)
    harness.sandbox.pay(channel, created["out_trade_no"])
    await harness.make_due(created["payment_id"])
    await _run_until_settled(harness, created["payment_id"])
    assert (await harness.payment(created["payment_id"]))["status"] == "succeeded"
    assert len(await harness.callbacks_events(created["payment_id"])) == 1


async def test_pending_is_queried_again_with_back_off(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 7_300)
    gaps = []
    for _ in range(3):
        await harness.make_due(created["payment_id"])
        await harness.scheduler().run_once()
        row = await harness.payment_row(created["payment_id"])
        assert row["status"] == "paying"
        gaps.append((row["next_query_at"] - row["updated_at"]).total_seconds())
    assert gaps == pytest.approx([0.05, 0.1, 0.2])
    assert row["query_attempts"] == 3


async def test_timeout_during_query_stays_open(make_harness: Any) -> None:
    async with make_harness(channel_read_timeout_s=0.2) as h:
        created = await h.paying("wechatpay", 7_400)
        h.sandbox.pay("wechatpay", created["out_trade_no"])
        with h.sandbox.faulty("wechatpay", "timeout"):
            await h.make_due(created["payment_id"])
            await h.scheduler().run_once()
        assert await h.status_of(created["payment_id"]) == "paying"
        assert await h.callbacks_events(created["payment_id"]) == []
        await h.make_due(created["payment_id"])
        await h.scheduler().run_once()
        assert await h.status_of(created["payment_id"]) == "succeeded"


async def test_unknown_creation_settled_by_query(make_harness: Any) -> None:
    async with make_harness(channel_read_timeout_s=0.2) as h:
        billing = await h.due_billing()
        with h.sandbox.faulty("wechatpay", "timeout"):
            created = (await h.start(billing, "wechatpay", 7_500)).json()
        assert created["status"] == "unknown"
        await asyncio.sleep(1.6)  # the sandbox finishes the slow prepay: the order exists
        await h.make_due(created["payment_id"])
        await h.scheduler().run_once()
        assert await h.status_of(created["payment_id"]) == "paying"  # exists, not paid
        h.sandbox.pay("wechatpay", created["out_trade_no"])
        await h.make_due(created["payment_id"])
        await h.scheduler().run_once()
        assert await h.status_of(created["payment_id"]) == "succeeded"


async def test_unknown_creation_that_never_reached_the_channel_is_closed(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 7_600)
    harness.sandbox.forget("wechatpay", created["out_trade_no"])
    async with harness.gw.sessions() as session, session.begin():
        await session.execute(
            sa.update(payments)
            .where(payments.c.payment_id == uuid.UUID(created["payment_id"]))
            .values(status="unknown")
        )
    for _ in range(3):  # a query that times out on a starved machine is retried next round
        await harness.make_due(created["payment_id"])
        await harness.scheduler().run_once()
        if await harness.status_of(created["payment_id"]) != "unknown":
            break
    assert await harness.status_of(created["payment_id"]) == "closed"
    assert [e["outcome"] for e in await harness.callbacks_events(created["payment_id"])] == [
        "failed"
    ]


async def test_expired_unpaid_order_is_closed_at_the_channel(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 7_700)
    async with harness.gw.sessions() as session, session.begin():
        await session.execute(
            sa.update(payments)
            .where(payments.c.payment_id == uuid.UUID(created["payment_id"]))
            .values(expires_at=sa.func.now() - sa.text("interval '1 minute'"))
        )
    await harness.make_due(created["payment_id"])
    await harness.scheduler().run_once()
    assert await harness.status_of(created["payment_id"]) == "closed"
    assert harness.sandbox.order("wechatpay", created["out_trade_no"]).state is PayState.CLOSED
    assert [e["outcome"] for e in await harness.callbacks_events(created["payment_id"])] == [
        "failed"
    ]


async def test_channel_says_closed_or_failed(harness: Harness) -> None:
    closed = await harness.paying("wechatpay", 7_800)
    failed = await harness.paying("wechatpay", 7_801)
    harness.sandbox.set_state("wechatpay", closed["out_trade_no"], PayState.CLOSED)
    harness.sandbox.set_state("wechatpay", failed["out_trade_no"], PayState.FAILED)
    for created in (closed, failed):
        await harness.make_due(created["payment_id"])
    await harness.scheduler().run_once()
    assert await harness.status_of(closed["payment_id"]) == "closed"
    assert await harness.status_of(failed["payment_id"]) == "failed"


async def test_attempts_are_bounded_then_left_to_reconciliation(make_harness: Any) -> None:
    async with make_harness(active_query_attempts_max=2) as h:
        created = await h.paying("wechatpay", 7_900)
        for _ in range(2):
            await h.make_due(created["payment_id"])
            await h.scheduler().run_once()
        row = await h.payment_row(created["payment_id"])
        assert row["status"] == "paying"
        assert row["next_query_at"] is None


async def test_close_endpoint(harness: Harness) -> None:
    created = await harness.paying("wechatpay", 8_000)
    closed = await harness.client.post(
        f"/v1/payments/{created['payment_id']}/close", headers=auth()
    )
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "closed"
    again = await harness.client.post(f"/v1/payments/{created['payment_id']}/close", headers=auth())
    assert again.status_code == 409
    paid = await harness.paying("wechatpay", 8_001)
    harness.sandbox.pay("wechatpay", paid["out_trade_no"])
    refused = await harness.client.post(f"/v1/payments/{paid['payment_id']}/close", headers=auth())
    assert refused.status_code == 409
    assert await harness.status_of(paid["payment_id"]) == "paying"


async def test_scheduler_runs_as_a_background_job(make_harness: Any) -> None:
    async with make_harness(active_query_delay_s=0, scheduler_poll_interval_s=0.05) as h:
        created = await h.paying("wechatpay", 8_100)
        h.sandbox.pay("wechatpay", created["out_trade_no"])
        job = next(j for j in h.runtime.jobs if j.name == "gateway-active-queries")
        stop = asyncio.Event()
        task = asyncio.create_task(job.run(stop))
        try:
            for _ in range(100):
                if await h.status_of(created["payment_id"]) == "succeeded":
                    break
                await asyncio.sleep(0.05)
        finally:
            stop.set()
            await task
        assert await h.status_of(created["payment_id"]) == "succeeded"
