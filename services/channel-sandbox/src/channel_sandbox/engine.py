"""The sandbox as a channel: order state changes and the notifications they trigger.

Used by the channel API routers (what the gateway calls) and the control scenarios (what tests
and humans ask for). Every state change happens synchronously on the event loop; deliveries and
timers run as tasks that `stop()` cancels.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import uuid
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from enum import StrEnum
from typing import Final

import httpx

from channel_sandbox.channels.base import Outcome, SignedNotification
from channel_sandbox.config import DEFAULT_GATEWAY_URL, SandboxSettings
from channel_sandbox.delivery import Notifier
from channel_sandbox.ids import now_s
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.metrics import SandboxMetrics
from channel_sandbox.notifications import NotificationFactory
from channel_sandbox.spec import SandboxChannels
from channel_sandbox.store import Delivery, Order, OrderStore, PayState, Refund

CLUSTER_FILE_SIZE_MAX_BYTES: Final = 64 * 1024
log = logging.getLogger("channel_sandbox.engine")


API_CALL_LOG_LEN_MAX: Final = 1000


class Fault(StrEnum):
    """A failure the sandbox injects into a channel's API answers (control API, tests)."""

    TIMEOUT = "timeout"  # answer only after SANDBOX_FAULT_DELAY_MS (the request is processed)
    ERROR = "error"  # HTTP 500 without processing the request
    BAD_SIGNATURE = "bad_signature"  # a normal answer whose signature does not verify


class SandboxConflict(Exception):
    """The order's state does not allow what was asked (HTTP 409 on the control API)."""


class Sandbox:
    """Orders, refunds, timers and notifications of every channel in `channels`."""

    def __init__(
        self,
        settings: SandboxSettings,
        key_sets: Mapping[str, SandboxKeySet],
        metrics: SandboxMetrics,
        *,
        channels: SandboxChannels,
        notify_transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.channels = channels
        self.keys = dict(key_sets)
        self.metrics = metrics
        self.store = OrderStore(settings.order_count_max)
        self.factory = NotificationFactory(key_sets, channels)
        self.notifier = Notifier(
            channels=channels,
            retry_scale=settings.retry_scale,
            timeout_s=settings.notify_timeout_s,
            resign=self.factory.resign,
            metrics=metrics,
            transport=notify_transport,
        )
        self._timers: set[asyncio.Task[None]] = set()
        self.faults: dict[str, Fault] = {}
        self.api_calls: deque[tuple[str, str, str]] = deque(maxlen=API_CALL_LOG_LEN_MAX)

    async def start(self) -> None:
        await self.notifier.start()

    async def stop(self) -> None:
        for task in list(self._timers):
            task.cancel()
        await asyncio.gather(*self._timers, return_exceptions=True)
        await self.notifier.stop()

    # ------------------------------------------------------------ URLs

    def gateway_url(self) -> str:
        """SANDBOX_GATEWAY_URL, else the launcher's cluster file, else the default port."""
        if self.settings.gateway_url:
            return self.settings.gateway_url.rstrip("/")
        path = self.settings.cluster_file
        if (
            path is not None
            and path.is_file()
            and path.stat().st_size < CLUSTER_FILE_SIZE_MAX_BYTES
        ):
            try:
                services = json.loads(path.read_text()).get("services", {})
            except (ValueError, AttributeError):
                services = {}
            url = services.get("payment-gateway") if isinstance(services, dict) else None
            if isinstance(url, str) and url:
                return url.rstrip("/")
        return DEFAULT_GATEWAY_URL

    def default_notify_url(self, channel: str) -> str:
        """`<gateway>/callbacks/<channel>`."""
        return f"{self.gateway_url()}/callbacks/{channel}"

    # ------------------------------------------------------------ orders

    def channel_state(self, order: Order) -> str:
        """The order's state in its channel's words."""
        return self.channels.channel(order.channel).state(order)

    def create_order(
        self,
        *,
        channel: str,
        out_trade_no: str,
        amount_fen: int,
        origin: str,
        channel_txn_id: str,
        notify_url: str | None,
        request: Mapping[str, object],
        alias_ids: Sequence[str] = (),
    ) -> Order:
        """Register a new order; a succeed_sync_then_fail armed for it starts now."""
        order = Order(
            channel=channel,
            out_trade_no=out_trade_no,
            amount_fen=amount_fen,
            origin=origin,
            channel_txn_id=channel_txn_id,
            notify_url=notify_url,
            created_s=now_s(),
            request=dict(request),
        )
        self.store.add(order, *alias_ids)
        order.note(f"created ({origin}, {amount_fen} fen)")
        armed_delay_ms = self.store.armed_sync_then_fail.pop((channel, out_trade_no), None)
        if armed_delay_ms is not None:
            self.start_sync_then_fail(order, armed_delay_ms / 1000)
        return order

    def mark_paid(self, order: Order) -> None:
        if order.state is PayState.PAID:
            return
        if order.state is not PayState.PENDING:
            raise SandboxConflict(f"order is {order.state.value}; only pending orders can be paid")
        order.state, order.paid_s = PayState.PAID, now_s()
        order.sync_success = False
        order.note("paid")

    def mark_failed(self, order: Order) -> None:
        if order.state is not PayState.PENDING:
            raise SandboxConflict(f"order is {order.state.value}; only pending orders can fail")
        order.state, order.closed_s = PayState.FAILED, now_s()
        order.sync_success = False
        order.note("failed")

    def close(self, order: Order) -> None:
        if order.state is PayState.PAID:
            raise SandboxConflict("order is paid")
        if order.state is PayState.PENDING:
            order.state, order.closed_s = PayState.CLOSED, now_s()
            order.note("closed")

    def start_sync_then_fail(self, order: Order, delay_s: float) -> None:
        """Synchronous answers say paid for `delay_s`; then the order fails for real."""
        if order.state is not PayState.PENDING:
            raise SandboxConflict(
                f"order is {order.state.value}; succeed_sync_then_fail needs a pending order"
            )
        order.sync_success = True
        order.note(f"succeeds synchronously; fails in {delay_s:.3f} s")

        def fail() -> None:
            if order.state is PayState.PENDING:
                self.mark_failed(order)
                if self.factory.notifies_failures(order.channel):
                    self.notify_payment(order, Outcome.FAILED)

        self.later(delay_s, fail)

    # ------------------------------------------------------------ refunds

    def add_refund(
        self,
        order: Order,
        *,
        out_refund_no: str,
        refund_id: str,
        amount_fen: int,
        notify_url: str | None,
        reason: str = "",
    ) -> Refund:
        """Accept a refund request (not yet succeeded); SandboxConflict when impossible."""
        if order.state is not PayState.PAID:
            raise SandboxConflict(f"order is {order.state.value}; only paid orders refund")
        if order.refuses_refunds:
            raise SandboxConflict("the channel refuses refunds of this order (refuse_refunds)")
        if amount_fen <= 0 or amount_fen > order.amount_fen - order.requested_refund_fen:
            raise SandboxConflict("refund amount exceeds what is left to refund")
        refund = Refund(out_refund_no, refund_id, amount_fen, now_s(), notify_url, reason)
        if (order.channel, out_refund_no) in self.store.armed_refund_failures:
            self.store.armed_refund_failures.discard((order.channel, out_refund_no))
            refund.abnormal = True
            order.note(f"refund {out_refund_no} is abnormal (armed)")
        order.refunds[out_refund_no] = refund
        self.store.index_refund(order, out_refund_no)
        order.note(f"refund {out_refund_no} requested ({amount_fen} fen)")
        return refund

    def cancel_order(self, order: Order, *, refund_id: str, suffix: str) -> str:
        """撤销 (Alipay cancel, WeChat reverse): a pending order is closed, a paid one refunded
        in full at once without a notification (refund ``<out_trade_no>-<suffix>``); returns
        ``close`` or ``refund``."""
        if order.state is PayState.PAID and not order.fully_refunded:
            refund = self.add_refund(
                order,
                out_refund_no=f"{order.out_trade_no}-{suffix}",
                refund_id=refund_id,
                amount_fen=order.amount_fen - order.requested_refund_fen,
                notify_url=None,
                reason=suffix,
            )
            self.succeed_refund(order, refund, notify=False)
            return "refund"
        if order.state is PayState.PENDING:
            self.close(order)
        return "close"

    def succeed_refund(
        self, order: Order, refund: Refund, *, notify: bool = True
    ) -> Delivery | None:
        """The refund succeeds now; its notification goes out unless `notify` is False."""
        if refund.succeeded or refund.abnormal:
            return None
        refund.succeeded_s = now_s()
        order.note(f"refund {refund.out_refund_no} succeeded")
        return self.notify_refund(order, refund) if notify else None

    # ------------------------------------------------------------ notifications

    def notify_payment(
        self,
        order: Order,
        outcome: Outcome,
        *,
        copies: int = 1,
        after: Sequence[asyncio.Event] = (),
        delay_s: float = 0.0,
    ) -> list[Delivery]:
        """Send the payment notification; `copies` > 1 sends the same bytes concurrently."""
        signed = self.factory.payment(order, outcome)
        return self._deliver(
            order,
            signed,
            "payment",
            outcome.value,
            order.notify_url,
            copies=copies,
            after=after,
            delay_s=delay_s,
        )

    def notify_refund(
        self,
        order: Order,
        refund: Refund,
        *,
        after: Sequence[asyncio.Event] = (),
        delay_s: float = 0.0,
    ) -> Delivery:
        signed = self.factory.refund(order, refund)
        url = refund.notify_url or order.notify_url
        subject = f"refund {refund.out_refund_no}"
        return self._deliver(
            order, signed, subject, Outcome.REFUNDED.value, url, after=after, delay_s=delay_s
        )[0]

    def repeat(
        self,
        order: Order,
        original: Delivery,
        *,
        after: Sequence[asyncio.Event],
        delay_s: float = 0.0,
    ) -> Delivery:
        """Deliver the exact bytes of `original` again, as a separate delivery."""
        delivery = self._new_delivery(
            order,
            original.signed,
            original.subject,
            original.label,
            original.url,
            copy_of=original.delivery_id,
        )
        self.notifier.send(delivery, after=after, delay_s=delay_s)
        return delivery

    def _deliver(
        self,
        order: Order,
        signed: SignedNotification,
        subject: str,
        label: str,
        url: str | None,
        *,
        copies: int = 1,
        after: Sequence[asyncio.Event] = (),
        delay_s: float = 0.0,
    ) -> list[Delivery]:
        assert copies >= 1
        target = url or self.default_notify_url(order.channel)
        first = self._new_delivery(order, signed, subject, label, target)
        deliveries = [first] + [
            self._new_delivery(order, signed, subject, label, target, copy_of=first.delivery_id)
            for _ in range(copies - 1)
        ]
        for delivery in deliveries:
            self.notifier.send(delivery, after=after, delay_s=delay_s)
        return deliveries

    def _new_delivery(
        self,
        order: Order,
        signed: SignedNotification,
        subject: str,
        label: str,
        url: str,
        copy_of: str | None = None,
    ) -> Delivery:
        delivery = Delivery(
            delivery_id=uuid.uuid4().hex,
            channel=order.channel,
            out_trade_no=order.out_trade_no,
            subject=subject,
            label=label,
            url=url,
            signed=signed,
            signed_at_s=time.time(),
            copy_of=copy_of,
        )
        self.store.record_delivery(order, delivery)
        return delivery

    # ------------------------------------------------------------ timers

    def later(self, delay_s: float, action: Callable[[], object]) -> None:
        """Run `action` on the loop after `delay_s` (cancelled on shutdown)."""

        async def run() -> None:
            await asyncio.sleep(delay_s)
            try:
                action()
            except SandboxConflict as exc:  # the order moved on meanwhile: nothing to do
                log.info("timer skipped", extra={"reason": str(exc)})

        task = asyncio.create_task(run())
        self._timers.add(task)
        task.add_done_callback(self._timers.discard)
