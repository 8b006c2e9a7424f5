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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from types import MappingProxyType
from typing import ClassVar, Final

from otd_shared.events import PaymentCallback
from payment_gateway.adapters.callback_log import CallbackRecord, Verdict
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    ChannelProtocol,
    NotificationKind,
    Outcome,
    VerifiedNotification,
    check_merchant_ids,
)
from payment_gateway.adapters.channels.errors import (
    BodyTooLarge,
    CallbackRejected,
    Malformed,
    WrongMerchant,
)
from payment_gateway.adapters.channels.wire_format import HeaderView
from payment_gateway.adapters.notification_store import KnownSettlement
from payment_gateway.domain.payment import OPEN_STATUSES as OPEN_PAYMENT_STATUSES
from payment_gateway.domain.payment import Payment, PaymentStatus, callback_outcome, sources_of
from payment_gateway.domain.refund import OPEN_STATUSES as OPEN_REFUNDS
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.domain.routing import POS_CHANNELS
from payment_gateway.service_layer import pos_callbacks
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import payment_callback, settle_refund
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
# Ids that must equal another of our ids when present (we run no ISV / partner mode).
MERCHANT_ID_ALIASES: Final[Mapping[str, Mapping[str, str]]] = MappingProxyType(
    {"alipay": MappingProxyType({"auth_app_id": "app_id"})}
)
# Alipay's refund_fee is the payment's cumulative refunded amount, not this refund's.
CUMULATIVE_REFUND_CHANNELS: Final = frozenset({"alipay"})
# Placeholder of an event field the hot statement replaces with the payment's own value.
_FILLED_BY_SQL: Final = ""


class _Rejection(CallbackRejected):
    reason: ClassVar[str] = "rejected"
    status: ClassVar[int] = 400

    def __init__(self, message: str) -> None:
        super().__init__(self.reason, message)

    @property
    def http_status(self) -> int:  # type: ignore[override]  # per-class constant
        return self.status


class UnknownOrder(_Rejection):
    """No payment (or refund) of ours has this number on this channel."""

    reason = "unknown_order"
    status = 404


class AmountMismatch(_Rejection):
    """The notification's amount is not the payment's (or the refund's)."""

    reason = "amount_mismatch"
    status = 422


class OutcomePending(_Rejection):
    """A notification that settles nothing (in process): the channel will tell us again."""

    reason = "outcome_pending"
    status = 422


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
        check_merchant(verified, protocol.expected_merchant_ids)
        if verified.currency != "CNY":
            raise Malformed("only CNY notifications are accepted")
        async with asyncio.timeout(gw.settings.callback_deadline_s):
            applied = await _apply(gw, verified, record)
    except CallbackRejected as exc:
        await _record_rejection(gw, record, exc)
        gw.metrics.callback(channel, "rejected", exc.reason_code)
        log.info("notification rejected", extra={"channel": channel, "reason": exc.reason_code})
        return protocol.failure_answer(exc)
    gw.metrics.callback(channel, applied.verdict)
    return protocol.success_answer()


def check_merchant(vn: VerifiedNotification, expected: Mapping[str, str]) -> None:
    """Our merchant/app ids: the protocol's check plus ids that alias one of ours."""
    check_merchant_ids(vn, expected)
    for name, ours in MERCHANT_ID_ALIASES.get(vn.channel, {}).items():
        received = vn.merchant_ids.get(name)
        if received is not None and received != expected.get(ours):
            raise WrongMerchant(f"{vn.channel} notification {name} is not ours")


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
        applied = await _apply_refund(uow, vn, now=record.received_at)
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
    """The hot path (adapters/notification_store.py): one atomic statement settles a known
    payment the notification matches; only when it matches none, a read decides the rejection
    or duplicate, then one atomic statement records it."""
    now = record.received_at
    record = replace(record, notification_id=vn.notification_id, out_trade_no=vn.out_trade_no)
    settled_from = await _settle_known(gw, vn, record)
    if settled_from is not None:
        if settled_from not in OPEN_PAYMENT_STATUSES:
            log.warning(
                "late verified success after %s",
                settled_from.value,
                extra={"out_trade_no": vn.out_trade_no},
            )
        return Applied("accepted", None)
    async with gw.store.connection() as conn:
        payment = await gw.store.payment(conn, vn.out_trade_no)
        if payment is None or payment.channel != vn.channel:
            raise UnknownOrder("no payment of ours has this out_trade_no on this channel")
        if vn.amount_fen != payment.amount_fen:
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
            conn,
            payment_id=payment.payment_id,
            target=target,
            sources=sources_of(target),
            channel_txn_id=vn.channel_txn_id,
            fee_fen=vn.fee_fen,
            now=now,
            event_row=gw.outbox.row(envelope),
            record=record,
            duplicate_reason=_duplicate_reason(payment, vn, target),
        )
    if verdict == "accepted" and payment.status not in OPEN_PAYMENT_STATUSES:
        log.warning(
            "late verified success after %s",
            payment.status.value,
            extra={"payment_id": str(payment.payment_id)},
        )
    return Applied(verdict, None, settled if verdict == "accepted" else payment)


async def _settle_known(
    gw: Gateway, vn: VerifiedNotification, record: CallbackRecord
) -> PaymentStatus | None:
    """The common case in one round trip (grouped with concurrent notifications under load);
    the payment's status before, or None (nothing written) when no payment of this channel,
    amount and currency may reach the outcome, or when another delivery of the same
    notification was tried in the same group."""
    match vn.outcome:
        case Outcome.SUCCEEDED:
            target = PaymentStatus.SUCCEEDED
        case Outcome.FAILED:
            target = PaymentStatus.FAILED
        case _:
            return None  # the slower path tells an unknown order from a pending outcome
    # The event with what the notification says; SQL fills in the payment's own fields
    # (order/billing/payment ids, method, and the stored transaction id and fee when the
    # notification carries none) from the row it settles.
    template = PaymentCallback(
        order_id=_FILLED_BY_SQL,
        billing_id=_FILLED_BY_SQL,
        payment_id=_FILLED_BY_SQL,
        channel=vn.channel,
        method=_FILLED_BY_SQL,
        outcome=callback_outcome(target),
        out_trade_no=vn.out_trade_no,
        channel_txn_id=vn.channel_txn_id or None,
        amount_fen=vn.amount_fen,
        fee_fen=vn.fee_fen,
        completed_at=record.received_at,
    )
    return await gw.store.settle_known_grouped(
        KnownSettlement(
            out_trade_no=vn.out_trade_no,
            channel=vn.channel,
            amount_fen=vn.amount_fen,
            currency=vn.currency,
            target=target,
            sources=tuple(sources_of(target)),
            channel_txn_id=vn.channel_txn_id,
            fee_fen=vn.fee_fen,
            now=record.received_at,
            event_row=gw.outbox.row(gw.outbox.envelope(template)),
            record=record,
        )
    )


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
    uow: GatewayUnitOfWork, vn: VerifiedNotification, *, now: datetime
) -> Applied:
    refund, payment = await _find_refund(uow, vn)
    _check_refund_amounts(vn, payment, refund)
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


async def _find_refund(uow: GatewayUnitOfWork, vn: VerifiedNotification) -> tuple[Refund, Payment]:
    """Match on our refund number; Lakala's cashier notice names only the payment."""
    refund = None
    if vn.out_refund_no:
        refund = await uow.refunds.by_out_refund_no(vn.out_refund_no)
    else:
        refund = await uow.refunds.by_out_refund_no(vn.out_trade_no)
        if refund is None:
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


def _check_refund_amounts(vn: VerifiedNotification, payment: Payment, refund: Refund) -> None:
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
    if vn.channel in CUMULATIVE_REFUND_CHANNELS:
        if not refund.amount_fen <= refunded <= payment.amount_fen:
            raise AmountMismatch("cumulative refunded amount does not cover this refund")
    elif refunded != refund.amount_fen:
        raise AmountMismatch("notified refund amount is not the refund's amount")
