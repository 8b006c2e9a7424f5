"""``POST /callbacks/{channel}``: verify, check, store, apply once, then answer.

Order of checks (docs/payment-gateway.md "Callbacks"): body size → signature and format (the
channel's protocol) → merchant/app ids → currency → our order (payment, or refund) → amount →
outcome.
Every request is stored raw with its verdict. An accepted notification is applied with a
guarded UPDATE in the same transaction as its raw record and its PaymentCallback outbox row;
the answer (channel format) is built only after that commit. A rejected one changes nothing
but its raw record and gets the channel's failure answer (the channel retries).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Final

from payment_gateway.adapters.callback_log import CallbackRecord, Verdict
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    ChannelProtocol,
    NotificationKind,
    Outcome,
    VerifiedNotification,
    check_merchant_ids,
)
from payment_gateway.adapters.channels.spec import ChannelSpec, RefundMatch
from payment_gateway.adapters.channels.wire_format import HeaderView
from payment_gateway.adapters.notification_store import Settlement
from payment_gateway.domain.payment import OPEN_STATUSES as OPEN_PAYMENT_STATUSES
from payment_gateway.domain.payment import Payment, PaymentStatus, sources_of
from payment_gateway.domain.refund import OPEN_STATUSES as OPEN_REFUNDS
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.domain.routing import POS_CHANNELS
from payment_gateway.errors import (
    AmountMismatch,
    BodyTooLarge,
    CallbackRejected,
    OutcomePending,
    UnknownOrder,
    UnsupportedCurrency,
)
from payment_gateway.service_layer import pos_callbacks
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import payment_callback, settle_refund
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
CURRENCY: Final = "CNY"


@dataclass(frozen=True)
class Applied:
    """What applying a verified notification did."""

    verdict: Verdict
    reason: str | None
    payment: Payment | None = None  # None when settled in one statement (not read back)
    refund: Refund | None = None


async def handle_callback(
    gw: Gateway,
    protocol: ChannelProtocol,
    headers: Sequence[tuple[str, str]],
    body: bytes,
    *,
    body_bytes: int,
) -> CallbackAnswer:
    """Verify and apply one notification; the channel's answer, built after the commit."""
    channel = protocol.channel
    now = gw.now()
    record = CallbackRecord(
        channel=channel,
        received_at=now,
        headers=dict(headers),
        body=body,
        body_bytes=body_bytes,
        verdict="rejected",
    )
    try:
        if body_bytes > len(body):
            raise BodyTooLarge(f"body exceeds {gw.settings.callback_max_body_bytes} bytes")
        HeaderView(headers)  # a repeated header is refused (DuplicateField) before anything else
        verified = protocol.verify_notification(dict(headers), body, now_s=int(now.timestamp()))
        spec = gw.registry.spec(channel)
        check_merchant_ids(
            verified,
            protocol.expected_merchant_ids,
            required=spec.required_merchant_ids,
            aliases=spec.merchant_id_aliases,
        )
        if verified.currency != CURRENCY:
            raise UnsupportedCurrency(f"{verified.currency} notifications are not accepted")
        async with asyncio.timeout(gw.settings.callback_deadline_s):
            applied = await _apply(gw, verified, record)
    except CallbackRejected as exc:
        await _record_rejection(gw, record, exc)
        gw.metrics.callback(channel, "rejected", exc.reason_code)
        log.info("notification rejected", extra={"channel": channel, "reason": exc.reason_code})
        return protocol.failure_answer(exc)
    gw.metrics.callback(channel, applied.verdict)
    return protocol.success_answer()


async def _record_rejection(gw: Gateway, record: CallbackRecord, exc: CallbackRejected) -> None:
    rejected = replace(record, verdict="rejected", reason=exc.reason_code)
    async with gw.uow() as uow:
        await uow.callbacks.add(rejected)
        await uow.commit()


async def _apply(gw: Gateway, vn: VerifiedNotification, record: CallbackRecord) -> Applied:
    if vn.kind is NotificationKind.PAYMENT and vn.channel in POS_CHANNELS:
        return Applied(await pos_callbacks.apply(gw, vn, record), None)  # parks the unmatched
    if vn.kind is NotificationKind.PAYMENT:
        return await _apply_payment(gw, vn, record)
    async with gw.uow() as uow:
        applied = await _apply_refund(uow, gw.registry.spec(vn.channel), vn, now=record.received_at)
        await uow.callbacks.add(
            replace(
                record,
                verdict=applied.verdict,
                reason=applied.reason,
                notification_id=vn.notification_id,
                out_trade_no=vn.out_trade_no,
                payment_id=applied.payment.payment_id if applied.payment else None,
                refund_id=applied.refund.refund_id if applied.refund else None,
            )
        )
        await uow.commit()
    return applied


async def _apply_payment(gw: Gateway, vn: VerifiedNotification, record: CallbackRecord) -> Applied:
    """Read the payment, decide in Python, build the event from the payload model, then one
    guarded statement (grouped under load) writes the change, the event and the raw request
    (adapters/notification_store.py)."""
    now = record.received_at
    record = replace(record, notification_id=vn.notification_id, out_trade_no=vn.out_trade_no)
    payment = await gw.store.payment(vn.out_trade_no)
    if payment is None or payment.channel != vn.channel:
        raise UnknownOrder("no payment of ours has this out_trade_no on this channel")
    if vn.amount_fen != payment.amount_fen or vn.currency != payment.currency:
        raise AmountMismatch("notified amount is not the payment's amount")
    target = _payment_target(vn)
    settled = replace(
        payment,
        status=target,
        channel_txn_id=vn.channel_txn_id or payment.channel_txn_id,
        fee_fen=vn.fee_fen if vn.fee_fen is not None else payment.fee_fen,
        completed_at=now,
    )
    envelope = gw.outbox.envelope(payment_callback(settled, completed_at=now))
    verdict = await gw.store.settle(
        Settlement(
            payment_id=payment.payment_id,
            target=target,
            sources=tuple(sources_of(target)),
            channel_txn_id=vn.channel_txn_id,
            fee_fen=vn.fee_fen,
            now=now,
            event_row=gw.outbox.row(envelope),
            record=record,
            duplicate_reason=_duplicate_reason(payment, vn, target),
        )
    )
    if verdict == "accepted" and payment.status not in OPEN_PAYMENT_STATUSES:
        log.warning(
            "late verified success after %s",
            payment.status.value,
            extra={"payment_id": str(payment.payment_id)},
        )
    return Applied(verdict, None, settled if verdict == "accepted" else payment)


def _payment_target(vn: VerifiedNotification) -> PaymentStatus:
    match vn.outcome:
        case Outcome.SUCCEEDED:
            return PaymentStatus.SUCCEEDED
        case Outcome.FAILED:
            return PaymentStatus.FAILED
        case Outcome.PENDING | Outcome.REFUNDED:
            raise OutcomePending(f"status {vn.channel_status!r} settles nothing")


def _duplicate_reason(payment: Payment, vn: VerifiedNotification, target: PaymentStatus) -> str:
    if payment.status is PaymentStatus.SUCCEEDED and target is PaymentStatus.FAILED:
        log.error(
            "failure notified after success; kept succeeded",
            extra={"out_trade_no": vn.out_trade_no},
        )
        return "failure_after_success_ignored"
    if payment.channel_txn_id and vn.channel_txn_id and payment.channel_txn_id != vn.channel_txn_id:
        log.error("second transaction id for one order", extra={"out_trade_no": vn.out_trade_no})
        return "different_channel_txn_id"
    return f"already_{payment.status.value}"


async def _apply_refund(
    uow: GatewayUnitOfWork, spec: ChannelSpec, vn: VerifiedNotification, *, now: datetime
) -> Applied:
    refund, payment = await _find_refund(uow, spec, vn)
    _check_refund_amounts(spec, vn, payment, refund)
    match vn.outcome:
        case Outcome.REFUNDED:
            target = RefundStatus.SUCCEEDED
        case Outcome.FAILED:
            target = RefundStatus.FAILED
        case Outcome.PENDING | Outcome.SUCCEEDED:
            raise OutcomePending(f"refund status {vn.channel_status!r} settles nothing")
    updated = await settle_refund(
        uow,
        payment,
        refund,
        target,
        now=now,
        channel_refund_id=vn.channel_refund_id,
        failure_reason=f"channel status {vn.channel_status}"
        if target is RefundStatus.FAILED
        else None,
    )
    if updated is not None:
        return Applied("accepted", None, payment, updated)
    return Applied("duplicate", f"already_{refund.status.value}", payment, refund)


async def _find_refund(
    uow: GatewayUnitOfWork, spec: ChannelSpec, vn: VerifiedNotification
) -> tuple[Refund, Payment]:
    """The refund a notification is about, the way its channel names it (``refund_match``)."""
    refund = None
    match spec.refund_match:
        case RefundMatch.REFUND_NO:
            if vn.out_refund_no:
                refund = await uow.refunds.by_out_refund_no(vn.out_refund_no)
        case RefundMatch.REFUND_NO_OR_PAYMENT_AMOUNT:
            number = vn.out_refund_no or vn.out_trade_no
            refund = await uow.refunds.by_out_refund_no(number)
            if refund is None and not vn.out_refund_no:
                refund = await _refund_by_payment(uow, vn)
    if refund is None or refund.channel != vn.channel or refund.payment_id is None:
        raise UnknownOrder("no refund of ours matches this notification")
    payment = await uow.payments.get(refund.payment_id)
    assert payment is not None, "a refund's payment exists (foreign key)"
    return refund, payment


async def _refund_by_payment(uow: GatewayUnitOfWork, vn: VerifiedNotification) -> Refund | None:
    payment = await uow.payments.by_out_trade_no(vn.out_trade_no)
    if payment is None or vn.refund_amount_fen is None:
        return None
    candidates = [
        r
        for r in await uow.refunds.list_for_payment(payment.payment_id)
        if r.amount_fen == vn.refund_amount_fen
    ]
    open_ones = [r for r in candidates if r.status in OPEN_REFUNDS]
    done = [r for r in candidates if r.status is RefundStatus.SUCCEEDED]
    for found in (*open_ones, *done):
        return found
    return None


def _check_refund_amounts(
    spec: ChannelSpec, vn: VerifiedNotification, payment: Payment, refund: Refund
) -> None:
    if vn.out_trade_no == refund.out_refund_no:  # UnionPay, Allinpay: the notice is the refund's
        refunded = vn.refund_amount_fen if vn.refund_amount_fen is not None else vn.amount_fen
        if refunded != refund.amount_fen:
            raise AmountMismatch("notified refund amount is not the refund's amount")
        return
    if vn.out_trade_no != payment.out_trade_no:
        raise UnknownOrder("refund notification names another payment")
    if vn.amount_fen != payment.amount_fen:
        raise AmountMismatch("notified payment total is not the payment's amount")
    if vn.refund_amount_fen is None:
        return
    refunded = vn.refund_amount_fen
    if spec.cumulative_refunds:
        if not refund.amount_fen <= refunded <= payment.amount_fen:
            raise AmountMismatch("cumulative refunded amount does not cover this refund")
    elif refunded != refund.amount_fen:
        raise AmountMismatch("notified refund amount is not the refund's amount")
