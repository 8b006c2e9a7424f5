"""Handlers of the events recon-service consumes.

PaymentCallback (otd.payments) → recon's projection of internal payments and refunds;
PaymentCorrected (finance accepted the channel's figure) sets the payment's record to the
corrected figures, so a re-run of the day matches it. Each
gets the consumer's ``ReconUnitOfWork`` (the consumer's transaction, with the inbox row; the
consumer commits), so a redelivered event changes nothing; the upsert is also idempotent
on its own (keyed by payment or refund id). Business dates come from the event's
``completed_at`` (Asia/Shanghai), never from the clock.
"""

from __future__ import annotations

from collections.abc import Sequence

from otd_shared.consumer import BatchEventHandler, EventHandler
from otd_shared.events import EventEnvelope, PaymentCallback, PaymentCorrected
from recon_service.adapters.projection_repo import InternalRecord
from recon_service.domain.statement import business_date_of
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

DISCOUNT_CHANNEL = "discount"


def payment_handlers() -> dict[str, EventHandler]:
    """Handlers of the payment-gateway topic, by event type."""
    return {"PaymentCallback": on_payment_callback, "PaymentCorrected": on_payment_corrected}


def payment_batch_handlers() -> dict[str, BatchEventHandler]:
    """Batch handlers of the payment-gateway topic (a run of one type at once)."""
    return {"PaymentCallback": on_payment_callbacks}


async def on_payment_callback(uow: ReconUnitOfWork, envelope: EventEnvelope) -> None:
    """Project one verified payment outcome or refund (instant discounts are paid by the
    marketing budget, on no statement: the channel payment next to one carries the amount
    the channel charged, which is what its statement is compared with)."""
    await on_payment_callbacks(uow, [envelope])


async def on_payment_callbacks(uow: ReconUnitOfWork, envelopes: Sequence[EventEnvelope]) -> None:
    """A run of PaymentCallbacks projected in one statement (the same rows as one by one;
    discount callbacks skipped, see ``on_payment_callback``)."""
    records = []
    for envelope in envelopes:
        event = envelope.payload
        assert isinstance(event, PaymentCallback)
        if event.channel != DISCOUNT_CHANNEL:
            records.append(record_of(event, envelope))
    await uow.projection.upsert_many(records)


async def on_payment_corrected(uow: ReconUnitOfWork, envelope: EventEnvelope) -> None:
    """The corrected payment (or refund) stands at the channel's figure (succeeded, its
    amount)."""
    event = envelope.payload
    assert isinstance(event, PaymentCorrected)
    refund_id = event.refund_id
    await uow.projection.correct(
        _record(
            event,
            envelope,
            kind="refund" if refund_id else "payment",
            ref_id=refund_id or event.payment_id,
            refund_id=refund_id,
            status=event.after_status,
            amount_fen=event.after_amount_fen,
        )
    )


def record_of(event: PaymentCallback, envelope: EventEnvelope) -> InternalRecord:
    """The projection row of a PaymentCallback."""
    # A reversal (cash receipt reversed, wire unclaimed) is money going back: a refund line.
    refund = event.outcome in ("refunded", "reversed")
    if refund and not event.refund_id:
        raise ValueError(f"a {event.outcome} PaymentCallback carries its refund_id")
    return _record(
        event,
        envelope,
        kind="refund" if refund else "payment",
        ref_id=event.refund_id if refund and event.refund_id else event.payment_id,
        refund_id=event.refund_id if refund else None,
        status="failed" if event.outcome == "failed" else "succeeded",
        amount_fen=event.amount_fen,
    )


def _record(
    event: PaymentCallback | PaymentCorrected,
    envelope: EventEnvelope,
    *,
    kind: str,
    ref_id: str,
    refund_id: str | None,
    status: str,
    amount_fen: int,
) -> InternalRecord:
    return InternalRecord(
        kind=kind,
        ref_id=ref_id,
        payment_id=event.payment_id,
        refund_id=refund_id,
        order_id=event.order_id,
        billing_id=event.billing_id,
        channel=event.channel,
        method=event.method,
        status=status,
        out_trade_no=event.out_trade_no,
        channel_txn_id=event.channel_txn_id or None,
        amount_fen=amount_fen,
        fee_fen=event.fee_fen,
        completed_at=event.completed_at,
        business_date=business_date_of(event.completed_at),
        event_id=envelope.event_id,
    )
