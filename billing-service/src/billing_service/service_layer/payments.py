"""Applying PaymentCallback events (verified outcomes from the gateway) to billings.

Under the fund order row lock (two payments completing one billing at the same moment
are applied one after the other: PAID once, with the exact sum):

- APPLIED: saved; a success also retries the outcomes waiting on that billing.
- DUPLICATE (the same payment or refund id with the same facts): nothing changes.
- DEFERRED (a refund before its payment's success): kept in ``deferred_outcomes`` as
  ``waiting`` and applied after the next success on that billing — never applied wrongly.
- A contradiction (same id with other facts, a failure after a success, a refund larger
  than its payment, an unknown order or billing, an invalid amount): kept as ``conflict``
  for finance and recon, and the consumer moves on (the order's later events still flow).
"""

from __future__ import annotations

import logging
from datetime import datetime

from billing_service.adapters.deferred_repo import (
    APPLIED,
    CONFLICT,
    WAITING,
    DeferredOutcomeRepository,
)
from billing_service.adapters.fund_order_repo import AnyFundOrder
from billing_service.domain import (
    ApplyStatus,
    Channel,
    PaymentFailed,
    PaymentOutcome,
    PaymentRefunded,
    PaymentSucceeded,
)
from billing_service.domain.errors import (
    BillingNotFound,
    PaymentOutcomeConflict,
    RefundExceedsPayment,
)
from billing_service.service_layer.clock import utc
from billing_service.service_layer.metrics import BillingMetrics
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.errors import InvalidInput
from otd_shared.events import EventEnvelope, PaymentCallback

log = logging.getLogger(__name__)
REFUSED = (PaymentOutcomeConflict, RefundExceedsPayment, BillingNotFound, InvalidInput)


class UnusableCallback(Exception):
    """A callback that cannot become an outcome (e.g. a refund without its refund id)."""


def outcome_of(callback: PaymentCallback, at: datetime) -> PaymentOutcome:
    """The domain outcome of a callback (exhaustive over ``outcome``)."""
    match callback.outcome:
        case "succeeded":
            return PaymentSucceeded(
                payment_id=callback.payment_id,
                channel=Channel(callback.channel),
                amount_fen=callback.amount_fen,
                at=at,
            )
        case "failed":
            return PaymentFailed(
                payment_id=callback.payment_id, channel=Channel(callback.channel), at=at
            )
        case "refunded" | "reversed":
            # A reversal (cash receipt reversed, wire unclaimed) takes the money back like a
            # refund: its id is the reversal's.
            if not callback.refund_id:
                raise UnusableCallback(f"a {callback.outcome} outcome needs its refund_id")
            return PaymentRefunded(
                payment_id=callback.payment_id,
                refund_id=callback.refund_id,
                amount_fen=callback.amount_fen,
                at=at,
            )


async def apply_payment_callback(
    uow: BillingUnitOfWork, envelope: EventEnvelope, metrics: BillingMetrics
) -> None:
    """Apply one PaymentCallback (in the consumer's unit of work)."""
    callback = envelope.payload
    assert isinstance(callback, PaymentCallback)
    result = await _apply(uow, envelope, callback)
    metrics.payment_outcomes.labels(callback.outcome, result).inc()


async def _apply(uow: BillingUnitOfWork, envelope: EventEnvelope, callback: PaymentCallback) -> str:
    at, now = utc(callback.completed_at), utc(envelope.occurred_at)
    deferred = uow.deferred
    fund = await uow.fund_orders.get_by_order(callback.order_id, for_update=True)
    if fund is None:
        error = f"no fund order for order {callback.order_id}"
        await deferred.add(
            envelope.event_id, callback, occurred_at=at, status=CONFLICT, error=error, at=now
        )
        return CONFLICT
    try:
        outcome = outcome_of(callback, at)
        result = fund.apply_payment_outcome(callback.billing_id, outcome)
    except (*REFUSED, UnusableCallback) as exc:
        log.warning(
            "payment outcome refused", extra={"order_id": callback.order_id, "err": str(exc)}
        )
        await deferred.add(
            envelope.event_id, callback, occurred_at=at, status=CONFLICT, error=str(exc), at=now
        )
        return CONFLICT
    if result.status is ApplyStatus.DEFERRED:
        error = "refund before its payment's success"
        await deferred.add(
            envelope.event_id, callback, occurred_at=at, status=WAITING, error=error, at=now
        )
        return ApplyStatus.DEFERRED.value
    if result.status is ApplyStatus.DUPLICATE:
        return ApplyStatus.DUPLICATE.value
    if isinstance(outcome, PaymentSucceeded):
        await _retry_waiting(fund, callback.billing_id, deferred, now)
    await uow.fund_orders.save(fund, at=now)
    await uow.publish(fund.pull_events(), fund=fund, at=now)
    return ApplyStatus.APPLIED.value


async def _retry_waiting(
    fund: AnyFundOrder, billing_id: str, deferred: DeferredOutcomeRepository, now: datetime
) -> None:
    """Apply the refunds that were waiting for a success on this billing, oldest first."""
    for waiting in await deferred.waiting_for(billing_id):
        refund = PaymentRefunded(
            payment_id=waiting.payment_id,
            refund_id=waiting.refund_id or "",
            amount_fen=waiting.amount_fen,
            at=waiting.occurred_at,
        )
        try:
            result = fund.apply_payment_outcome(billing_id, refund)
        except REFUSED as exc:
            await deferred.resolve(waiting.id, status=CONFLICT, error=str(exc), at=now)
            continue
        if result.status is not ApplyStatus.DEFERRED:
            await deferred.resolve(waiting.id, status=APPLIED, error=None, at=now)
