"""Applying a VERIFIED outcome (notification or active query) to a payment or refund.

Each is one guarded UPDATE; only the call that changes the row emits PaymentCallback (through
the outbox, in the same transaction), so a notification delivered ten times, or a late
notification after a query settled the payment, changes the state and emits the event once.
"""

from __future__ import annotations

import logging
from datetime import datetime

from otd_shared.events import PaymentCallback
from payment_gateway.domain.offline_refund import OfflineRefundStatus
from payment_gateway.domain.payment import Payment, PaymentStatus, callback_outcome
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)


def payment_callback(payment: Payment, *, completed_at: datetime) -> PaymentCallback:
    """The event for a payment that reached a final status."""
    return PaymentCallback(
        order_id=str(payment.order_id),
        billing_id=str(payment.billing_id),
        payment_id=str(payment.payment_id),
        channel=payment.channel,
        method=payment.method,
        outcome=callback_outcome(payment.status),
        out_trade_no=payment.out_trade_no,
        channel_txn_id=payment.channel_txn_id,
        amount_fen=payment.amount_fen,
        fee_fen=payment.fee_fen,
        completed_at=completed_at,
    )


def refund_callback(payment: Payment, refund: Refund, *, completed_at: datetime) -> PaymentCallback:
    """The event for a refund that succeeded (refund_id always set)."""
    return PaymentCallback(
        order_id=str(refund.order_id),
        billing_id=str(refund.billing_id),
        payment_id=str(payment.payment_id),
        channel=payment.channel,
        method=payment.method,
        outcome="refunded",
        out_trade_no=payment.out_trade_no,
        channel_txn_id=payment.channel_txn_id,
        amount_fen=refund.amount_fen,
        refund_id=str(refund.refund_id),
        completed_at=completed_at,
    )


async def settle_payment(
    uow: GatewayUnitOfWork,
    payment: Payment,
    target: PaymentStatus,
    *,
    now: datetime,
    channel_txn_id: str | None = None,
    fee_fen: int | None = None,
) -> Payment | None:
    """Move an open payment to a final status and emit PaymentCallback; None if already there."""
    values: dict[str, object] = {"completed_at": now, "next_query_at": None}
    if channel_txn_id:
        values["channel_txn_id"] = channel_txn_id
    if fee_fen is not None:
        values["fee_fen"] = fee_fen
    updated = await uow.payments.transition(payment.payment_id, target, now=now, values=values)
    if updated is None:
        return None
    if payment.status not in (PaymentStatus.CREATED, PaymentStatus.PAYING, PaymentStatus.UNKNOWN):
        log.warning(
            "late verified success after the payment was %s",
            payment.status.value,
            extra={"payment_id": str(payment.payment_id)},
        )
    await uow.emit(payment_callback(updated, completed_at=now))
    return updated


async def settle_refund(
    uow: GatewayUnitOfWork,
    payment: Payment,
    refund: Refund,
    target: RefundStatus,
    *,
    now: datetime,
    channel_refund_id: str | None = None,
    failure_reason: str | None = None,
    told_by: str = "notification",
) -> Refund | None:
    """Move a refund to succeeded (counted on the payment, event emitted) or failed.
    ``told_by`` (``notification`` or ``query``) is kept on a queued refund's closed item."""
    assert target in (RefundStatus.SUCCEEDED, RefundStatus.FAILED)
    values: dict[str, object] = {"completed_at": now, "next_query_at": None}
    if channel_refund_id:
        values["channel_refund_id"] = channel_refund_id
    if failure_reason and target is RefundStatus.FAILED:
        values["failure_reason"] = failure_reason[:200]
    updated = await uow.refunds.transition(refund.refund_id, target, now=now, values=values)
    if updated is None or target is RefundStatus.FAILED:
        return updated
    if refund.status is RefundStatus.MANUAL:
        reason = f"{payment.channel} refunded it ({told_by}; refund id {channel_refund_id or '-'})"
        await _close_queued(uow, refund, now=now, reason=reason)
    if not await uow.payments.add_refunded(payment.payment_id, refund.amount_fen, now=now):
        raise AssertionError(f"refund {refund.refund_id} would exceed payment {payment.payment_id}")
    await uow.emit(refund_callback(payment, updated, completed_at=now))
    return updated


async def _close_queued(
    uow: GatewayUnitOfWork, refund: Refund, *, now: datetime, reason: str
) -> None:
    """A queued (manual) refund the channel refunded itself: close its queue item (who:
    ``channel``, when, why). A payout already recorded for it (waiting for approval) means
    the money may go back twice."""
    before = await uow.offline_refunds.close_by_channel(refund.refund_id, now=now, reason=reason)
    if before is not None and before.status is OfflineRefundStatus.PENDING_APPROVAL:
        log.error(
            "the channel refunded a refund whose payout was recorded by hand: recover it",
            extra={"refund_id": str(refund.refund_id), "item": str(before.offline_refund_id)},
        )
