"""Applying PaymentCallback events (verified outcomes from the gateway) to billings, and
PaymentCorrected (finance accepted the channel's figure: the payment counts it from now; a
refund the channel made larger or completed is applied as the refund it adds, ``refund_of``;
a refund the channel made smaller gives the difference back to the payment, RefundReduced).

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
from collections import Counter
from collections.abc import Sequence
from datetime import datetime

from billing_service.adapters.deferred_repo import (
    APPLIED,
    CONFLICT,
    WAITING,
    DeferredOutcome,
)
from billing_service.adapters.fund_order_repo import AnyFundOrder
from billing_service.domain import (
    ApplyStatus,
    Channel,
    PaymentCorrected,
    PaymentFailed,
    PaymentOutcome,
    PaymentRefunded,
    PaymentSucceeded,
    RefundReduced,
)
from billing_service.domain.errors import (
    BillingNotFound,
    PaymentOutcomeConflict,
    RefundExceedsPayment,
)
from billing_service.service_layer.clock import utc
from billing_service.service_layer.messages import WEBHOOK_EVENT_TYPES, to_payload
from billing_service.service_layer.metrics import BillingMetrics
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.errors import InvalidInput
from otd_shared.events import EventEnvelope, PaymentCallback
from otd_shared.events import PaymentCorrected as PaymentCorrectedEvent
from otd_shared.observability import set_correlation_id

log = logging.getLogger(__name__)
REFUSED = (PaymentOutcomeConflict, RefundExceedsPayment, BillingNotFound, InvalidInput)


class UnusableCallback(Exception):
    """A callback that cannot become an outcome (e.g. a refund without its refund id)."""


Outcome = PaymentCallback | PaymentCorrectedEvent
"""The gateway's events billing applies to a billing's money."""


def outcome_of(callback: Outcome, at: datetime) -> PaymentOutcome:
    """The domain outcome of a callback (exhaustive over ``outcome``) or correction."""
    callback = applied_form(callback)
    if isinstance(callback, PaymentCorrectedEvent):
        if callback.refund_id:  # one that gives money back (applied_form)
            return _refund_reduced(callback, at)
        succeeded = callback.before_status == "succeeded"
        return PaymentCorrected(
            payment_id=callback.payment_id,
            channel=Channel(callback.channel),
            counted_before_fen=callback.before_amount_fen if succeeded else 0,
            amount_fen=callback.after_amount_fen,
            at=at,
        )
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
    """Apply one PaymentCallback (in the consumer's unit of work): a batch of one."""
    await apply_payment_callbacks(uow, [envelope], metrics)


async def apply_payment_callbacks(
    uow: BillingUnitOfWork, envelopes: Sequence[EventEnvelope], metrics: BillingMetrics
) -> None:
    """Apply a run of PaymentCallbacks (one partition's, in offset order) at once.

    The fund orders of the run are loaded under their row locks together, with the
    outcomes waiting on the billings that get a success; the callbacks are applied in
    order to those aggregates (several of one order apply one after the other); then the
    changed aggregates, the outbox rows and the webhook rows are written with one
    statement per kind. A refused outcome of an order that has other callbacks in the
    run raises ``RetryOneByOne``: the consumer then applies the run event by event (an
    aggregate that refused an outcome is never saved)."""
    batch = _Batch(uow, envelopes)
    results = await batch.run()
    for envelope, result in zip(envelopes, results, strict=True):
        metrics.payment_outcomes.labels(_label(_callback(envelope)), result).inc()


class RetryOneByOne(Exception):
    """A refused outcome inside a run where its order has other callbacks."""


class _Batch:
    """One run of callbacks: the loaded aggregates, what changed, what to publish."""

    def __init__(self, uow: BillingUnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
        self._uow = uow
        self._items = [(e, _callback(e)) for e in envelopes]
        self._per_order = Counter(c.order_id for _, c in self._items)
        self._funds: dict[str, AnyFundOrder] = {}
        self._waiting: dict[str, list[DeferredOutcome]] = {}
        self._stale: set[str] = set()
        """Billings that got a waiting outcome in this run (read again from the table)."""
        self._changed: dict[str, tuple[AnyFundOrder, datetime]] = {}
        self._published: list[tuple[EventEnvelope, datetime]] = []

    async def run(self) -> list[str]:
        """Load, apply in order, write; the result of each callback."""
        uow = self._uow
        self._funds = await uow.fund_orders.get_many_by_order([c.order_id for _, c in self._items])
        succeeded = {
            c.billing_id for _, c in self._items if _counts(c) and c.order_id in self._funds
        }
        self._waiting = await uow.deferred.waiting_for_many(sorted(succeeded))
        results = [await self._apply(envelope, callback) for envelope, callback in self._items]
        await self._write()
        return results

    async def _apply(self, envelope: EventEnvelope, callback: Outcome) -> str:
        at, now = utc(_at(callback)), utc(envelope.occurred_at)
        deferred = self._uow.deferred
        fund = self._funds.get(callback.order_id)
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
            if self._per_order[callback.order_id] > 1:
                raise RetryOneByOne(str(exc)) from exc
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
            self._stale.add(callback.billing_id)
            return ApplyStatus.DEFERRED.value
        if result.status is ApplyStatus.DUPLICATE:
            return ApplyStatus.DUPLICATE.value
        if isinstance(outcome, PaymentSucceeded | PaymentCorrected):
            await self._retry_waiting(fund, callback.billing_id, now)
        self._changed[fund.id] = (fund, now)
        self._publish(fund, envelope, now)
        return ApplyStatus.APPLIED.value

    def _publish(self, fund: AnyFundOrder, envelope: EventEnvelope, now: datetime) -> None:
        """Envelopes of what the domain recorded, under the callback's correlation id, as
        the fund order is now (a payload may read it)."""
        outbox = self._uow.outbox
        assert outbox is not None
        set_correlation_id(envelope.correlation_id)
        for event in fund.pull_events():
            self._published.append((outbox.envelope(to_payload(event, fund)), now))

    async def _retry_waiting(self, fund: AnyFundOrder, billing_id: str, now: datetime) -> None:
        """Apply the refunds that were waiting for a success on this billing, oldest first."""
        deferred = self._uow.deferred
        if billing_id in self._stale:
            self._waiting[billing_id] = await deferred.waiting_for(billing_id)
            self._stale.discard(billing_id)
        still_waiting = []
        for waiting in self._waiting.get(billing_id, []):
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
            if result.status is ApplyStatus.DEFERRED:
                still_waiting.append(waiting)
            else:
                await deferred.resolve(waiting.id, status=APPLIED, error=None, at=now)
        self._waiting[billing_id] = still_waiting

    async def _write(self) -> None:
        """The changed aggregates, then their outbox and webhook rows (one statement each)."""
        uow = self._uow
        assert uow.outbox is not None
        await uow.fund_orders.save_many(list(self._changed.values()))
        await uow.outbox.add_envelopes(uow.session, [e for e, _ in self._published])
        await uow.webhooks.enqueue_each(
            [(e, at) for e, at in self._published if e.event_type in WEBHOOK_EVENT_TYPES]
        )


def _callback(envelope: EventEnvelope) -> Outcome:
    callback = envelope.payload
    assert isinstance(callback, PaymentCallback | PaymentCorrectedEvent)
    return applied_form(callback)


def applied_form(callback: Outcome) -> Outcome:
    """What billing applies: a refund correction that adds to a refund (the channel refunded
    more, or completed it) as the refund it adds (``refund_of``); one that gives money back
    (``delta_fen`` > 0) stays a correction (RefundReduced); anything else as it is."""
    if isinstance(callback, PaymentCorrectedEvent) and callback.refund_id:
        return callback if callback.delta_fen > 0 else refund_of(callback)
    return callback


def _refund_reduced(correction: PaymentCorrectedEvent, at: datetime) -> RefundReduced:
    """A refund correction that gives money back (the channel refunded less than we had)."""
    assert correction.refund_id is not None
    if correction.delta_fen <= 0 or correction.before_status != "succeeded":
        raise UnusableCallback(
            f"refund correction {correction.correction_id} gives back {correction.delta_fen}"
            f" fen of a {correction.before_status} refund"
        )
    return RefundReduced(
        payment_id=correction.payment_id,
        refund_id=correction.refund_id,
        correction_id=correction.correction_id,
        amount_fen=correction.delta_fen,
        at=at,
    )


def refund_of(correction: PaymentCorrectedEvent) -> PaymentCallback:
    """A refund correction as the refund it adds: the whole refund when billing never counted
    it (it had not succeeded), else what the channel refunded more, under the correction's id."""
    assert correction.refund_id is not None
    counted = correction.before_amount_fen if correction.before_status == "succeeded" else 0
    return PaymentCallback(
        order_id=correction.order_id,
        billing_id=correction.billing_id,
        payment_id=correction.payment_id,
        channel=correction.channel,
        method=correction.method,
        outcome="refunded",
        out_trade_no=correction.out_trade_no,
        channel_txn_id=correction.channel_txn_id,
        amount_fen=correction.after_amount_fen - counted,
        refund_id=correction.correction_id if counted else correction.refund_id,
        completed_at=correction.corrected_at,
        reason=correction.reason,
    )


def _counts(callback: Outcome) -> bool:
    """Whether the event makes money count on its billing (waiting refunds may follow)."""
    return isinstance(callback, PaymentCorrectedEvent) or callback.outcome == "succeeded"


def _label(callback: Outcome) -> str:
    return "corrected" if isinstance(callback, PaymentCorrectedEvent) else callback.outcome


def _at(callback: Outcome) -> datetime:
    if isinstance(callback, PaymentCorrectedEvent):
        return callback.corrected_at
    return callback.completed_at
