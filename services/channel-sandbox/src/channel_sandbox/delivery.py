"""Notification delivery: POST a signed notification, retry on the channel's schedule, record.

A delivery is an asyncio task. It may wait for other deliveries (out-of-order and duplicate
scenarios) and an initial delay (notify_late), then POSTs the exact signed bytes until the
receiver gives the channel's documented success answer or the scaled schedule runs out. Every
attempt is recorded on the `Delivery`. Signatures that carry a timestamp (WeChat, Lakala) are
re-signed over the same body once they are older than `RESIGN_AGE_S`, as the real channels sign
each retry, so late retries stay inside the receiver's clock window.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import Final

import httpx

from channel_sandbox.channels.base import SignedNotification
from channel_sandbox.metrics import SandboxMetrics
from channel_sandbox.schedules import retry_delays_s
from channel_sandbox.spec import SandboxChannels
from channel_sandbox.store import ANSWER_TEXT_LEN_MAX, Attempt, Delivery, DeliveryStatus
from otd_shared.http_clients import pooled_limits

RESIGN_AGE_S: Final = 60.0
CONNECT_TIMEOUT_S: Final = 2.0
ERROR_TEXT_LEN_MAX: Final = 200

Resigner = Callable[[str, SignedNotification], SignedNotification]
log = logging.getLogger("channel_sandbox.delivery")


class Notifier:
    """Runs deliveries; owns the HTTP client and the tasks (cancelled on shutdown)."""

    def __init__(
        self,
        *,
        channels: SandboxChannels,
        retry_scale: float,
        timeout_s: float,
        resign: Resigner,
        metrics: SandboxMetrics,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._channels = channels
        self._retry_scale = retry_scale
        self._timeout = httpx.Timeout(timeout_s, connect=min(timeout_s, CONNECT_TIMEOUT_S))
        self._resign = resign
        self._metrics = metrics
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self) -> None:
        """Open the HTTP client (from the app's lifespan)."""
        self._client = httpx.AsyncClient(
            timeout=self._timeout,
            transport=self._transport,
            follow_redirects=False,
            limits=pooled_limits(),
        )

    async def stop(self) -> None:
        """Cancel pending deliveries and close the client."""
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def send(
        self,
        delivery: Delivery,
        *,
        after: Sequence[asyncio.Event] = (),
        delay_s: float = 0.0,
    ) -> None:
        """Start `delivery`: wait for every event in `after`, then `delay_s`, then POST."""
        assert delay_s >= 0
        task = asyncio.create_task(self._run(delivery, after, delay_s))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def pending_count(self) -> int:
        return len(self._tasks)

    async def _run(
        self, delivery: Delivery, after: Sequence[asyncio.Event], delay_s: float
    ) -> None:
        try:
            for event in after:
                await event.wait()
            if delay_s:
                await asyncio.sleep(delay_s)
            await self._attempt_until_accepted(delivery)
        except asyncio.CancelledError:
            if delivery.status is not DeliveryStatus.DELIVERED:
                delivery.status = DeliveryStatus.CANCELLED
            raise
        finally:
            delivery.first_attempt_done.set()
            delivery.finished.set()

    async def _attempt_until_accepted(self, delivery: Delivery) -> None:
        delays = retry_delays_s(self._channels.channel(delivery.channel), self._retry_scale)
        for number in range(1, len(delays) + 2):
            delivery.status = DeliveryStatus.DELIVERING
            if time.time() - delivery.signed_at_s > RESIGN_AGE_S:
                delivery.signed = self._resign(delivery.channel, delivery.signed)
                delivery.signed_at_s = time.time()
            attempt = await self._post(delivery, number)
            delivery.attempts.append(attempt)
            delivery.first_attempt_done.set()
            if attempt.accepted:
                delivery.status = DeliveryStatus.DELIVERED
                return
            if number > len(delays):
                break
            delivery.status = DeliveryStatus.SCHEDULED
            await asyncio.sleep(delays[number - 1])
        delivery.status = DeliveryStatus.GAVE_UP
        log.warning(
            "notification given up",
            extra={"channel": delivery.channel, "out_trade_no": delivery.out_trade_no},
        )

    async def _post(self, delivery: Delivery, number: int) -> Attempt:
        assert self._client is not None, "Notifier.start() was not called"
        delivered_when = self._channels.channel(delivery.channel).delivered_when
        started = time.perf_counter()
        at_s = time.time()
        try:
            response = await self._client.post(
                delivery.url, content=delivery.signed.body, headers=dict(delivery.signed.headers)
            )
        except httpx.HTTPError as exc:
            attempt = Attempt(
                number=number,
                at_s=at_s,
                elapsed_ms=_elapsed_ms(started),
                status_code=None,
                answer="",
                accepted=False,
                error=f"{type(exc).__name__}: {exc}"[:ERROR_TEXT_LEN_MAX],
            )
        else:
            attempt = Attempt(
                number=number,
                at_s=at_s,
                elapsed_ms=_elapsed_ms(started),
                status_code=response.status_code,
                answer=response.content[:ANSWER_TEXT_LEN_MAX].decode("utf-8", "replace"),
                accepted=delivered_when(response.status_code, response.content),
            )
        result = "accepted" if attempt.accepted else ("error" if attempt.error else "rejected")
        self._metrics.notification_attempts.labels(delivery.channel, result).inc()
        log.info(
            "notification attempt",
            extra={
                "channel": delivery.channel,
                "out_trade_no": delivery.out_trade_no,
                "delivery_id": delivery.delivery_id,
                "attempt": number,
                "status_code": attempt.status_code,
                "result": result,
            },
        )
        return attempt


def _elapsed_ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
