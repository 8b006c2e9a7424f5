"""The active-query scheduler: settles unknown outcomes and sends refunds (a BackgroundJob).

* A payment still ``paying`` (or ``unknown``) ``ACTIVE_QUERY_DELAY_S`` after it was opened is
  queried at the channel, then again with back-off (min, 2×, 4×, … capped) until a verified
  outcome, expiry (then closed at the channel) or the attempt limit (then T+1 reconciliation
  settles it). A timeout is unknown, never failed.
* A ``requested`` refund is sent; ``processing``/``unknown`` refunds are queried likewise.
  A refund an acquirer refuses (a POS payment: UnionPay, Allinpay) does not end ``failed``
  with nothing to do: it becomes ``manual`` with an item in the offline refunds queue
  (finance pays it back by bank transfer). Online channels' refusals stay ``failed``.
Rows are claimed with ``FOR UPDATE SKIP LOCKED`` and leased (``next_query_at`` pushed ahead),
so several replicas share the work; the channel is called outside any transaction; results are
applied with the same guarded transitions as notifications (a late notification after a query
changes nothing and emits nothing).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine
from datetime import datetime, timedelta
from typing import Any

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.client_base import (
    PaymentQueryResult,
    RefundAnswer,
)
from payment_gateway.domain.outcomes import (
    ChannelOutcome,
    RefundOutcome,
    decide_after_query,
    next_query_at,
)
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.errors import (
    ChannelCallError,
    ChannelRefused,
    ChannelUnreachable,
    OperationNotOffered,
)
from payment_gateway.service_layer import offline_refunds
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.refund_orders import refund_order
from payment_gateway.service_layer.settle import settle_payment, settle_refund

log = logging.getLogger(__name__)
QUERY_CONCURRENCY_MAX = 8


class QueryScheduler:
    """Claims due payments and refunds and works them."""

    def __init__(self, gw: Gateway) -> None:
        self._gw = gw
        self._limit = asyncio.Semaphore(QUERY_CONCURRENCY_MAX)

    async def run(self, stop: asyncio.Event) -> None:
        """Work until ``stop``; sleep the poll interval when nothing is due."""
        while not stop.is_set():
            worked = await self.run_once()
            if worked == 0:
                try:
                    await asyncio.wait_for(stop.wait(), self._gw.settings.scheduler_poll_interval_s)
                except TimeoutError:
                    continue

    async def run_once(self) -> int:
        """One round: claim what is due, work it; returns how many rows were worked."""
        payments, refunds = await self._claim()
        await asyncio.gather(
            *(self._bounded(self.query_payment(p)) for p in payments),
            *(self._bounded(self.work_refund(r)) for r in refunds),
        )
        return len(payments) + len(refunds)

    async def _bounded(self, work: Coroutine[Any, Any, None]) -> None:
        async with self._limit:
            await work

    async def _claim(self) -> tuple[list[Payment], list[Refund]]:
        gw, s = self._gw, self._gw.settings
        now = gw.now()
        lease_until = now + timedelta(seconds=s.scheduler_lease_s)
        async with gw.uow() as uow:
            payments = await uow.payments.claim_due_queries(
                now=now, lease_until=lease_until, limit=s.scheduler_batch_size
            )
            refunds = await uow.refunds.claim_due(
                now=now, lease_until=lease_until, limit=s.scheduler_batch_size
            )
            await uow.commit()
        return payments, refunds

    # --- payments -------------------------------------------------------------------

    async def query_payment(self, payment: Payment) -> None:
        """Query one open payment and apply what the channel says."""
        gw = self._gw
        result = await self._ask(payment)
        if result is None:  # the channel has no query: reconciliation settles it
            await self._reschedule(payment, at=None)
            return
        outcome = result.outcome
        if outcome is ChannelOutcome.SUCCEEDED and result.amount_fen not in (
            None,
            payment.amount_fen,
        ):
            log.error(
                "query amount differs from the payment",
                extra={"payment_id": str(payment.payment_id)},
            )
            await self._reschedule(payment, at=None, failure_code="query_amount_mismatch")
            return
        decision = decide_after_query(
            payment.status, outcome, now=gw.now(), expires_at=payment.expires_at
        )
        target = decision.target
        if decision.close_at_channel:
            target = await self._close(payment)
        await self._apply(payment, target, result, query_again=decision.query_again)

    async def _ask(self, payment: Payment) -> PaymentQueryResult | None:
        gw = self._gw
        client = gw.clients.get(payment.channel)
        if client is None or not gw.health.allow(payment.channel):
            return PaymentQueryResult(outcome=ChannelOutcome.UNKNOWN, channel_status="SKIPPED")
        try:
            result = await client.query_payment(payment.out_trade_no, payment.method)
        except OperationNotOffered:
            return None
        except ChannelCallError as exc:
            self._count(payment.channel, "query", exc)
            return PaymentQueryResult(outcome=ChannelOutcome.UNKNOWN, channel_status="UNKNOWN")
        self._count(payment.channel, "query", None)
        return result

    async def _close(self, payment: Payment) -> PaymentStatus | None:
        client = self._gw.clients[payment.channel]
        try:
            await client.close_payment(payment.out_trade_no, payment.method)
        except OperationNotOffered:
            return None  # the order expires at the channel; keep querying
        except ChannelCallError as exc:  # refused: perhaps paid meanwhile; the next query tells
            self._count(payment.channel, "close", exc)
            return None
        self._count(payment.channel, "close", None)
        return PaymentStatus.CLOSED

    async def _apply(
        self,
        payment: Payment,
        target: PaymentStatus | None,
        result: PaymentQueryResult,
        *,
        query_again: bool,
    ) -> None:
        gw = self._gw
        now = gw.now()
        async with gw.uow() as uow:
            if target is PaymentStatus.PAYING:
                await uow.payments.transition(payment.payment_id, target, now=now)
            elif target is not None:
                settled = await settle_payment(
                    uow, payment, target, now=now, channel_txn_id=result.channel_txn_id
                )
                if settled is not None or not query_again:
                    await uow.commit()
                    return
            await uow.payments.update(
                payment.payment_id, now=now, values={"next_query_at": self._next(payment, now)}
            )
            await uow.commit()

    def _next(self, payment: Payment, now: datetime) -> datetime | None:
        s = self._gw.settings
        if payment.query_attempts >= s.active_query_attempts_max:
            log.warning(
                "active queries exhausted; left to reconciliation",
                extra={"payment_id": str(payment.payment_id)},
            )
            return None
        return next_query_at(
            now,
            payment.query_attempts - 1,
            min_s=s.active_query_interval_s_min,
            max_s=s.active_query_interval_s_max,
        )

    async def _reschedule(
        self, payment: Payment, *, at: datetime | None, failure_code: str | None = None
    ) -> None:
        values: dict[str, object] = {"next_query_at": at}
        if failure_code:
            values["failure_code"] = failure_code
        async with self._gw.uow() as uow:
            await uow.payments.update(payment.payment_id, now=self._gw.now(), values=values)
            await uow.commit()

    # --- refunds --------------------------------------------------------------------

    async def work_refund(self, refund: Refund) -> None:
        """Send a requested refund, or query one in flight, and apply the answer."""
        gw = self._gw
        async with gw.uow() as uow:
            payment = await uow.payments.get(refund.payment_id) if refund.payment_id else None
        client = None if payment is None else gw.clients.get(payment.channel)
        if payment is None or client is None:
            await self._refund_to(refund, RefundStatus.MANUAL, reason="no channel can send it")
            return
        order = refund_order(gw, payment, refund)
        try:
            if refund.status is RefundStatus.REQUESTED:
                answer = await self._send(client.refund(order), payment.channel)
            else:
                answer = await client.query_refund(order)
                if (
                    answer.outcome is RefundOutcome.NOT_FOUND
                    and refund.status is RefundStatus.UNKNOWN
                ):
                    answer = await self._send(
                        client.refund(order), payment.channel
                    )  # never arrived
        except OperationNotOffered as exc:
            await self._refund_to(refund, RefundStatus.MANUAL, reason=str(exc))
            return
        except ChannelRefused as exc:
            self._count(payment.channel, "refund", exc)
            if self._paid_back_by_people(payment):
                await self._refund_to(refund, RefundStatus.MANUAL, reason=_refused(exc.code))
                return
            await self._refund_to(refund, RefundStatus.FAILED, reason=exc.code, payment=payment)
            return
        except ChannelUnreachable as exc:
            self._count(payment.channel, "refund", exc)
            answer = RefundAnswer(outcome=RefundOutcome.UNKNOWN, channel_status="UNKNOWN")
        if answer.outcome is RefundOutcome.FAILED and self._paid_back_by_people(payment):
            reason = _refused(answer.channel_status)
            await self._refund_to(refund, RefundStatus.MANUAL, reason=reason)
            return
        await self._apply_refund(payment, refund, answer)

    def _paid_back_by_people(self, payment: Payment) -> bool:
        """A refused refund of this payment goes to the offline refunds queue (POS)."""
        return not self._gw.routing.is_online(payment.channel)

    async def _send(
        self, call: Coroutine[Any, Any, RefundAnswer], channel: ChannelCode
    ) -> RefundAnswer:
        answer = await call
        self._count(channel, "refund", None)
        # The answer to a refund request is never final: confirmed by query or notification.
        if answer.outcome is RefundOutcome.SUCCEEDED:
            return RefundAnswer(
                outcome=RefundOutcome.PROCESSING,
                channel_status=answer.channel_status,
                channel_refund_id=answer.channel_refund_id,
            )
        return answer

    async def _apply_refund(self, payment: Payment, refund: Refund, answer: RefundAnswer) -> None:
        gw, s = self._gw, self._gw.settings
        now = gw.now()
        async with gw.uow() as uow:
            match answer.outcome:
                case RefundOutcome.SUCCEEDED | RefundOutcome.FAILED:
                    target = (
                        RefundStatus.SUCCEEDED
                        if answer.outcome is RefundOutcome.SUCCEEDED
                        else RefundStatus.FAILED
                    )
                    await settle_refund(
                        uow,
                        payment,
                        refund,
                        target,
                        now=now,
                        channel_refund_id=answer.channel_refund_id,
                        failure_reason=f"channel status {answer.channel_status}",
                        told_by="query",
                    )
                    await uow.commit()
                    return
                case RefundOutcome.PROCESSING if refund.status is not RefundStatus.PROCESSING:
                    values = (
                        {"channel_refund_id": answer.channel_refund_id}
                        if answer.channel_refund_id
                        else {}
                    )
                    await uow.refunds.transition(
                        refund.refund_id, RefundStatus.PROCESSING, now=now, values=values
                    )
                case RefundOutcome.UNKNOWN if refund.status is RefundStatus.REQUESTED:
                    await uow.refunds.transition(refund.refund_id, RefundStatus.UNKNOWN, now=now)
                case _:
                    pass
            attempts = refund.query_attempts
            delay_first = refund.status is RefundStatus.REQUESTED
            at: datetime | None = (
                now + timedelta(seconds=s.refund_query_delay_s)
                if delay_first
                else next_query_at(
                    now,
                    max(attempts - 1, 0),
                    min_s=s.active_query_interval_s_min,
                    max_s=s.active_query_interval_s_max,
                )
            )
            if attempts >= s.active_query_attempts_max:
                at = None
            await uow.refunds.update(refund.refund_id, now=now, values={"next_query_at": at})
            await uow.commit()

    async def _refund_to(
        self, refund: Refund, target: RefundStatus, *, reason: str, payment: Payment | None = None
    ) -> None:
        gw = self._gw
        now = gw.now()
        async with gw.uow() as uow:
            if target is RefundStatus.FAILED and payment is not None:
                await settle_refund(uow, payment, refund, target, now=now, failure_reason=reason)
            else:
                moved = await uow.refunds.transition(
                    refund.refund_id,
                    target,
                    now=now,
                    values={"failure_reason": reason[:200], "next_query_at": None},
                )
                if moved is not None and moved.status is RefundStatus.MANUAL:
                    await offline_refunds.queue_manual(uow, moved, now=now)
            await uow.commit()

    def _count(self, channel: ChannelCode, operation: str, error: ChannelCallError | None) -> None:
        gw = self._gw
        if isinstance(error, ChannelUnreachable):
            gw.metrics.channel_calls.labels(channel, operation, "unreachable").inc()
            gw.health.record_failure(channel)
            return
        result = "refused" if isinstance(error, ChannelRefused) else "ok"
        gw.metrics.channel_calls.labels(channel, operation, result).inc()
        gw.health.record_success(channel)


def _refused(code: str) -> str:
    return f"the acquirer refused the refund ({code}); to be paid back by finance"
