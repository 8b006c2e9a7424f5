"""The app-backend webhook and the reminders on real PostgreSQL; the app backend itself is
an httpx transport fake (a pure function of the request)."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
import pytest
import sqlalchemy as sa

from billing_service.adapters.tables import SCHEMA, webhook_deliveries
from billing_service.adapters.webhook_client import SIGNATURE_HEADER, verify_signature
from billing_service.service_layer.jobs import ReminderJob, WebhookSender
from otd_shared.infra import wait_until
from otd_shared.outbox import OutboxWakeups, listen_dsn, notify_channel
from otd_shared.testing.consumer_records import count_statements

if TYPE_CHECKING:
    from conftest import BillingHarness

pytestmark = pytest.mark.integration
SECRET = b"whsec-test"


class AppBackend:
    """Records what it receives; answers with the scripted status codes, then 200."""

    def __init__(self, *statuses: int) -> None:
        self.statuses = list(statuses)
        self.received: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.received.append(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200)


async def _quiesce_other_deliveries(billing: BillingHarness, order_id: str) -> None:
    """Only this test's deliveries are due: park every other pending one far ahead."""
    async with billing.runtime.sessions() as session, session.begin():
        await session.execute(
            sa.update(webhook_deliveries)
            .where(
                webhook_deliveries.c.status == "pending", webhook_deliveries.c.order_id != order_id
            )
            .values(next_attempt_at=datetime(2999, 1, 1, tzinfo=UTC))
        )


async def _send(
    billing: BillingHarness, backend: AppBackend, now: datetime, **settings: Any
) -> int:
    sender = WebhookSender(
        billing.runtime.sessions,
        billing.settings.model_copy(update=settings),
        transport=httpx.MockTransport(backend),
    )
    async with httpx.AsyncClient(transport=httpx.MockTransport(backend)) as http:
        return await sender.send_due(http, now=now)


async def _deliveries(billing: BillingHarness, order_id: str) -> list[dict[str, Any]]:
    listed = await billing.http.get(
        "/v1/webhook-deliveries", params={"order_id": order_id}, headers=billing.auth("finance")
    )
    return list(listed.json()["items"])


async def test_billing_due_is_pushed_signed_and_the_attempt_recorded(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    await _quiesce_other_deliveries(billing, order_id)
    backend = AppBackend()

    assert await _send(billing, backend, datetime.now(UTC)) == 1

    [request] = backend.received
    assert str(request.url) == "http://app-backend.test/hooks/billing"
    assert verify_signature(SECRET, request.content, request.headers[SIGNATURE_HEADER])
    assert not verify_signature(b"other", request.content, request.headers[SIGNATURE_HEADER])
    body = json.loads(request.content)
    assert (body["event_type"], body["order_id"]) == ("BillingDue", order_id)
    assert body["data"]["stage"] == "intent"
    assert request.headers["X-OTD-Event-Id"] == body["event_id"]
    [push] = await _deliveries(billing, order_id)
    assert (push["status"], push["attempts"], push["last_status_code"]) == ("delivered", 1, 200)
    detail = await billing.http.get(
        f"/v1/webhook-deliveries/{push['delivery_id']}", headers=billing.auth("sre")
    )
    assert [a["status_code"] for a in detail.json()["attempt_log"]] == [200]
    assert detail.json()["body"]["event_id"] == body["event_id"]


async def test_failures_back_off_then_give_up_and_a_manual_resend_delivers(
    billing: BillingHarness,
) -> None:
    order_id = await billing.open_order()
    await _quiesce_other_deliveries(billing, order_id)
    backend = AppBackend(500, 503, 502)
    now = datetime.now(UTC)

    assert await _send(billing, backend, now) == 1
    [push] = await _deliveries(billing, order_id)
    assert (push["status"], push["attempts"], push["last_error"]) == ("pending", 1, "HTTP 500")
    retry_at = datetime.fromisoformat(push["next_attempt_at"])
    assert retry_at == now + timedelta(seconds=1)
    assert await _send(billing, backend, now) == 0  # not yet due
    assert await _send(billing, backend, retry_at) == 1
    [push] = await _deliveries(billing, order_id)
    assert datetime.fromisoformat(push["next_attempt_at"]) == retry_at + timedelta(seconds=2)
    assert await _send(billing, backend, retry_at + timedelta(seconds=2)) == 1
    [push] = await _deliveries(billing, order_id)
    assert (push["status"], push["attempts"]) == ("failed", 3)

    resent = await billing.http.post(
        f"/v1/webhook-deliveries/{push['delivery_id']}/resend", headers=billing.auth("finance")
    )
    assert (resent.status_code, resent.json()["status"]) == (202, "pending")
    assert await _send(billing, backend, datetime.now(UTC) + timedelta(seconds=1)) == 1
    [push] = await _deliveries(billing, order_id)
    assert push["status"] == "delivered"
    detail = await billing.http.get(
        f"/v1/webhook-deliveries/{push['delivery_id']}", headers=billing.auth("finance")
    )
    assert [a["status_code"] for a in detail.json()["attempt_log"]] == [500, 503, 502, 200]
    assert len({r.headers["X-OTD-Event-Id"] for r in backend.received}) == 1
    missing = await billing.http.post(
        "/v1/webhook-deliveries/999999999/resend", headers=billing.auth("sre")
    )
    assert missing.status_code == 404


async def test_the_running_sender_wakes_on_the_outbox_notify_and_at_the_next_retry(
    billing: BillingHarness,
) -> None:
    """Safety poll and poll interval of a minute: a new delivery still goes out right after
    its commit (billing's outbox NOTIFY: webhook rows are written with outbox rows) and its
    retry at its due time (1 s back-off), not a minute later."""
    await _quiesce_other_deliveries(billing, "no order")
    backend = AppBackend(500)
    settings = billing.settings.model_copy(
        update={"webhook_safety_poll_ms": 60_000, "webhook_poll_interval_ms": 60_000}
    )
    wakeups = OutboxWakeups(listen_dsn(billing.runtime.engine), notify_channel(SCHEMA))
    sender = WebhookSender(
        billing.runtime.sessions,
        settings,
        transport=httpx.MockTransport(backend),
        wakeups=wakeups,
    )
    stop = asyncio.Event()
    running = asyncio.create_task(sender.run(stop))
    try:
        await asyncio.sleep(1.0)  # nothing due: the sender is idle, listening
        order_id = await billing.open_order()

        async def attempts(n: int) -> bool:
            return sum(order_id in r.content.decode() for r in backend.received) >= n

        assert await wait_until(lambda: attempts(1), 2.0), "woken by the NOTIFY"
        assert await wait_until(lambda: attempts(2), 3.0), "woken at the retry's due time"
    finally:
        stop.set()
        await running
    [push] = await _deliveries(billing, order_id)
    assert (push["status"], push["attempts"]) == ("delivered", 2)


async def test_an_unreachable_app_backend_is_a_failed_attempt(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    await _quiesce_other_deliveries(billing, order_id)

    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    sender = WebhookSender(billing.runtime.sessions, billing.settings)
    async with httpx.AsyncClient(transport=httpx.MockTransport(refuse)) as http:
        assert await sender.send_due(http, now=datetime.now(UTC)) == 1
    [push] = await _deliveries(billing, order_id)
    assert push["status"] == "pending"
    assert "ConnectError" in push["last_error"]


async def test_without_a_url_pushes_are_recorded_as_skipped(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    await _quiesce_other_deliveries(billing, order_id)

    assert await _send(billing, AppBackend(), datetime.now(UTC), billing_webhook_url=None) == 1

    [push] = await _deliveries(billing, order_id)
    assert (push["status"], push["last_error"]) == ("skipped", "no BILLING_WEBHOOK_URL configured")


async def test_without_a_url_a_round_skips_every_due_push_in_one_statement(
    billing: BillingHarness,
) -> None:
    """Each skipped push keeps its attempt row (when, why); three cost what one costs."""
    orders = [await billing.open_order() for _ in range(4)]
    statements: list[int] = []
    for mine in (orders[:1], orders[1:]):
        await _due_only(billing, mine)
        counter = count_statements(billing.runtime.engine)
        sent = await _send(billing, AppBackend(), datetime.now(UTC), billing_webhook_url=None)
        statements.append(counter[0])
        assert sent == len(mine)
    pushes = [p for o in orders for p in await _deliveries(billing, o)]
    skipped = [p for p in pushes if p["status"] == "skipped"]
    assert len(skipped) == 4, pushes
    assert {(p["attempts"], p["last_error"]) for p in skipped} == {
        (1, "no BILLING_WEBHOOK_URL configured")
    }
    detail = await billing.http.get(
        f"/v1/webhook-deliveries/{skipped[0]['delivery_id']}", headers=billing.auth("sre")
    )
    [attempt] = detail.json()["attempt_log"]
    assert (attempt["status_code"], attempt["error"]) == (None, "no BILLING_WEBHOOK_URL configured")
    assert statements[0] == statements[1], statements


async def _due_only(billing: BillingHarness, order_ids: list[str]) -> None:
    """Every pending push far in the future but those of ``order_ids``, due now."""
    async with billing.runtime.sessions() as session, session.begin():
        await session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.status == "pending")
            .values(next_attempt_at=datetime(2999, 1, 1, tzinfo=UTC))
        )
        await session.execute(
            sa.update(webhook_deliveries)
            .where(webhook_deliveries.c.order_id.in_(order_ids))
            .values(next_attempt_at=datetime(2000, 1, 1, tzinfo=UTC))
        )


async def test_reminders_follow_the_named_schedule_once_per_step(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]
    due_at = datetime.fromisoformat(intent["due_at"])
    job = _reminder_job(billing)

    await job.remind_due(now=due_at + timedelta(hours=1))
    assert await billing.outbox(order_id, "BillingReminderDue") == []
    await job.remind_due(now=due_at + timedelta(days=1, seconds=1))
    await job.remind_due(now=due_at + timedelta(days=1, seconds=2))  # the same step: nothing
    await job.remind_due(now=due_at + timedelta(days=8))  # after an outage: only the latest

    reminders = [e["payload"] for e in await billing.outbox(order_id, "BillingReminderDue")]
    assert [(r["step"], r["schedule"], r["stage"]) for r in reminders] == [
        (1, "standard", "intent"),
        (3, "standard", "intent"),
    ]
    pushed = {p["event_type"] for p in await _deliveries(billing, order_id)}
    assert pushed == {"BillingDue", "BillingReminderDue"}
    detail = await billing.http.get(
        f"/v1/billings/{intent['billing_id']}", headers=billing.auth("app-backend")
    )
    assert [r["step"] for r in detail.json()["reminders"]] == [1, 3]


async def test_a_paid_billing_is_not_reminded(billing: BillingHarness) -> None:
    order_id = await billing.open_order()
    intent = (await billing.billings(order_id))["intent"]
    await billing.callback(order_id, intent["billing_id"], 500_000)
    job = _reminder_job(billing)

    await job.remind_due(now=datetime.fromisoformat(intent["due_at"]) + timedelta(days=30))

    assert await billing.outbox(order_id, "BillingReminderDue") == []


def _reminder_job(billing: BillingHarness) -> ReminderJob:
    # Other tests' unpaid billings in this database are due too: take them all in one round.
    settings = billing.settings.model_copy(update={"reminder_batch_size": 5000})
    return ReminderJob(billing.runtime.sessions, billing.runtime.outbox, settings)


async def test_a_claim_of_several_pushes_is_recorded_in_a_fixed_number_of_statements(
    billing: BillingHarness,
) -> None:
    """Each attempt is recorded and each delivery moves on by its own result (delivered,
    retry later), in the same few statements for three pushes as for one."""
    orders = [await billing.open_order() for _ in range(4)]
    statements: list[int] = []
    for mine in (orders[:1], orders[1:]):
        count = len(mine)
        await _due_only(billing, mine)
        counter = count_statements(billing.runtime.engine)
        backend = AppBackend(*([503] if count == 3 else []))  # the first of three fails
        sent = await _send(billing, backend, datetime.now(UTC))
        statements.append(counter[0])
        assert sent == len(backend.received) == count
    pushes = [p for o in orders for p in await _deliveries(billing, o)]
    by_status = sorted(p["status"] for p in pushes)
    assert by_status == ["delivered", "delivered", "delivered", "pending"], pushes
    assert sorted(p["attempts"] for p in pushes) == [1, 1, 1, 1]
    assert statements[0] == statements[1], statements
