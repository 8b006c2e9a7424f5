"""Background jobs of billing-service (run with the relay, see ``runtime.jobs``).

- ``WebhookSender``: pushes pending webhook deliveries to the app backend, signed, with
  bounded retries and exponential back-off; every attempt is recorded.
- ``ReminderJob``: finds unpaid billings whose next reminder time has come (the named
  schedule of the settings), records the step and emits BillingReminderDue, which is
  pushed through the same webhook path.

Both claim their work with row locks, so several replicas may run them at once.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta

import httpx
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.fund_order_repo import FundOrderRepository
from billing_service.adapters.reminder_repo import ReminderRepository
from billing_service.adapters.webhook_client import WebhookClient
from billing_service.adapters.webhook_repo import AttemptResult, Delivery, WebhookRepository
from billing_service.config import BillingSettings
from billing_service.domain import reminders_due
from billing_service.domain.events import BillingEvent, BillingReminderDue
from billing_service.service_layer.clock import utc_now
from billing_service.service_layer.messages import publish
from billing_service.service_layer.metrics import BillingMetrics
from otd_shared.db import SessionFactory
from otd_shared.http_clients import pooled_limits
from otd_shared.outbox import OutboxWakeups, OutboxWriter

log = logging.getLogger(__name__)
NO_URL = "no BILLING_WEBHOOK_URL configured"


class WebhookSender:
    """Sends due deliveries; ``run`` loops, ``send_due`` does one round (for tests)."""

    def __init__(
        self,
        sessions: SessionFactory,
        settings: BillingSettings,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        metrics: BillingMetrics | None = None,
        wakeups: OutboxWakeups | None = None,
    ) -> None:
        self._sessions = sessions
        self._settings = settings
        self._transport = transport
        self._metrics = metrics or BillingMetrics()
        self._wakeups = wakeups
        """NOTIFYs of billing's outbox: every webhook row is written with outbox rows, so
        a new delivery wakes the sender at its commit (None: poll every interval)."""

    async def run(self, stop: asyncio.Event) -> None:
        """Send until ``stop``. Idle: until a NOTIFY, the next due retry or the safety poll
        (without a LISTEN connection: the poll interval)."""
        try:
            async with self._http() as http:
                while not stop.is_set():
                    if self._wakeups is not None and await self._wakeups.connect():
                        self._wakeups.clear()
                    sent = await self.send_due(http, now=utc_now())
                    if sent < self._settings.webhook_batch_size:
                        await self._idle(stop)
        finally:
            if self._wakeups is not None:
                await self._wakeups.close()

    async def _idle(self, stop: asyncio.Event) -> None:
        s = self._settings
        wakeups = self._wakeups
        if wakeups is None or not wakeups.listening:
            await sleep_or_stop(stop, s.webhook_poll_interval_ms / 1000)
            return
        async with self._sessions() as session:
            due = await WebhookRepository(session).next_due()
        wait_s = s.webhook_safety_poll_ms / 1000
        if due is not None:
            wait_s = min(wait_s, max(0.0, (due - utc_now()).total_seconds()))
        await wakeups.wait_or_stop(stop, wait_s)

    def _http(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            timeout=self._settings.webhook_timeout_s,
            transport=self._transport,
            limits=pooled_limits(),
        )

    async def send_due(self, http: httpx.AsyncClient, *, now: datetime) -> int:
        """Claim the due deliveries, post each once, record the claim's attempts in one
        transaction; returns how many. A sender that dies before that commit leaves the
        claimed rows to be posted again after the lease (pushes are at least once; the
        receiver dedupes by ``X-OTD-Event-Id``), as one dying mid-post always did. Without a
        URL (``make run``) the due deliveries are recorded as skipped in one statement."""
        s = self._settings
        client = self._client(http)
        if client is None:
            return await self._skip_due(now)
        async with self._sessions() as session, session.begin():
            claimed = await WebhookRepository(session).claim(
                now=now, limit=s.webhook_batch_size, lease_s=s.webhook_lease_s
            )
        attempts: list[tuple[int, AttemptResult, datetime]] = []
        for delivery in claimed:
            result = await self._attempt(client, delivery, now=now)
            self._metrics.webhook_attempts.labels(_result_label(result)).inc()
            attempts.append((delivery.id, result, utc_now()))
        if attempts:
            async with self._sessions() as session, session.begin():
                await WebhookRepository(session).record_many(attempts)
        return len(claimed)

    async def _skip_due(self, now: datetime) -> int:
        """Without a URL: the due deliveries recorded as skipped, one statement a round."""
        async with self._sessions() as session, session.begin():
            skipped = await WebhookRepository(session).skip_due(
                now=now, limit=self._settings.webhook_batch_size, error=NO_URL
            )
        if skipped:
            self._metrics.webhook_attempts.labels("skipped").inc(skipped)
        return skipped

    def _client(self, http: httpx.AsyncClient) -> WebhookClient | None:
        s = self._settings
        if not s.billing_webhook_url or s.billing_webhook_secret is None:
            return None
        secret = s.billing_webhook_secret.get_secret_value().encode()
        return WebhookClient(http, s.billing_webhook_url, secret)

    async def _attempt(
        self, client: WebhookClient, delivery: Delivery, *, now: datetime
    ) -> AttemptResult:
        posted = await client.post(
            body=delivery.body,
            event_id=str(delivery.event_id),
            event_type=delivery.event_type,
            delivery_id=delivery.id,
        )
        retry_at = None if posted.ok else self.retry_at(delivery.attempts + 1, now=now)
        if not posted.ok:
            log.warning(
                "webhook attempt failed",
                extra={
                    "delivery_id": delivery.id,
                    "attempt": delivery.attempts + 1,
                    "err": posted.error,
                },
            )
        return AttemptResult(
            delivered=posted.ok,
            status_code=posted.status_code,
            error=posted.error,
            duration_ms=posted.duration_ms,
            url=client.url,
            retry_at=retry_at,
        )

    def retry_at(self, attempts_made: int, *, now: datetime) -> datetime | None:
        """When to try again after ``attempts_made`` failures (None: give up)."""
        s = self._settings
        if attempts_made >= s.webhook_max_attempts:
            return None
        delay_s = min(
            s.webhook_retry_delay_s_min * 2 ** (attempts_made - 1), s.webhook_retry_delay_s_max
        )
        return now + timedelta(seconds=delay_s)


class ReminderJob:
    """Emits BillingReminderDue for unpaid billings on the configured named schedule."""

    def __init__(
        self,
        sessions: SessionFactory,
        outbox: OutboxWriter,
        settings: BillingSettings,
        metrics: BillingMetrics | None = None,
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._settings = settings
        self._schedule = settings.reminder_schedule()
        self._metrics = metrics or BillingMetrics()

    async def run(self, stop: asyncio.Event) -> None:
        """Remind until ``stop``, once per poll interval."""
        while not stop.is_set():
            await self.remind_due(now=utc_now())
            await sleep_or_stop(stop, self._settings.reminder_poll_interval_s)

    async def remind_due(self, *, now: datetime) -> int:
        """One round: returns how many reminders were emitted."""
        async with self._sessions() as session:
            order_ids = await ReminderRepository(session).billings_to_remind(
                now=now, limit=self._settings.reminder_batch_size
            )
        sent = 0
        for order_id in order_ids:
            async with self._sessions() as session, session.begin():
                sent += await self._remind_order(session, order_id, now)
        return sent

    async def _remind_order(self, session: AsyncSession, order_id: str, now: datetime) -> int:
        repo = FundOrderRepository(session, self._schedule)
        fund = await repo.get_by_order(order_id, for_update=True)
        if fund is None:
            return 0
        events: list[BillingEvent] = []
        for billing in fund.billings:
            sent_steps = range(1, repo.reminder_step(billing.id) + 1)
            for reminder in reminders_due(billing, now, self._schedule, sent_steps):
                events.append(reminder)
                repo.mark_reminded(billing.id, reminder.step)
        await repo.save(fund, at=now)
        envelopes = await publish(session, self._outbox, events, fund=fund, at=now)
        reminders = ReminderRepository(session)
        for event, envelope in zip(events, envelopes, strict=True):
            assert isinstance(event, BillingReminderDue)
            self._metrics.reminders.labels(event.stage).inc()
            await reminders.record_reminder(
                billing_id=event.billing_id,
                step=event.step,
                schedule=event.schedule,
                remind_at=event.remind_at,
                sent_at=now,
                event_id=envelope.event_id,
            )
        return len(events)


def _result_label(result: AttemptResult) -> str:
    if result.delivered:
        return "delivered"
    return "retry" if result.retry_at is not None else "failed"


async def sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    """Wait ``seconds`` or until ``stop`` is set, whichever comes first."""
    try:
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    except TimeoutError:
        return
