"""POS acquirer notifications (UnionPay ACP back notification, Allinpay result notification)
for payments reserved by a terminal fetch.

Checked in order, after the signature, merchant and currency checks of ``callbacks``:
* no reservation with this order number on this channel → parked (``unknown_reservation``);
* the reservation was paid by another transaction → parked (``used_reservation``);
* the reservation expired before the money was taken → parked (``expired_reservation``);
* the voucher names another terminal than the one that fetched → parked (``wrong_terminal``);
* another amount → rejected (``amount_mismatch``, the channel retries and finance sees it).
A parked notification is never applied to a guessed order; it is kept (once) with its voucher
for finance (``GET /v1/pos/parked-callbacks``) and answered as received so the acquirer stops
resending. Otherwise the reservation settles with its voucher kept on the payment (traceNo,
queryId or trxid, terminal, card masked to BIN + last 4) as ``voucher_*`` pay parameters.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Mapping
from dataclasses import replace
from typing import Final

from otd_shared.errors import InvalidInput
from payment_gateway.adapters.callback_log import CallbackRecord, Verdict
from payment_gateway.adapters.channels.contract import Outcome, VerifiedNotification
from payment_gateway.adapters.pos_repo import ParkedCallback
from payment_gateway.domain.masking import mask_account
from payment_gateway.domain.payment import OPEN_STATUSES, Payment, PaymentStatus
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import settle_payment
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
# Voucher fields as each acquirer names them.
TERMINAL_FIELD: Final[Mapping[str, str]] = {"unionpay": "termId", "allinpay": "termno"}
CARD_FIELD: Final[Mapping[str, str]] = {"unionpay": "accNo", "allinpay": "acct"}
TRACE_FIELD: Final[Mapping[str, str]] = {"unionpay": "traceNo", "allinpay": "trxid"}
VOUCHER_VALUE_CHARS_MAX: Final = 64


def voucher_of(vn: VerifiedNotification) -> dict[str, str]:
    """What is kept of the acquirer's voucher (card masked)."""
    raw = vn.raw_fields
    voucher = {"channel_txn_id": vn.channel_txn_id}
    for name, source in (
        ("trace_no", TRACE_FIELD.get(vn.channel, "")),
        ("terminal_id", TERMINAL_FIELD.get(vn.channel, "")),
    ):
        value = raw.get(source)
        if isinstance(value, str) and value:
            voucher[name] = value[:VOUCHER_VALUE_CHARS_MAX]
    card = raw.get(CARD_FIELD.get(vn.channel, ""))
    if isinstance(card, str) and card:
        voucher["card"] = _masked_card(card)
    return voucher


def _masked_card(card: str) -> str:
    try:
        return mask_account(card).masked
    except InvalidInput:
        return "****"  # encrypted or unreadable: keep nothing of it


async def apply(gw: Gateway, vn: VerifiedNotification, record: CallbackRecord) -> Verdict:
    """Settle, park or reject one POS payment notification; the callback verdict (a parked
    notification is stored and answered as received)."""
    # callbacks imports this module for its POS branch; its rejections are imported here late.
    from payment_gateway.errors import AmountMismatch, OutcomePending

    now = record.received_at
    record = replace(record, notification_id=vn.notification_id, out_trade_no=vn.out_trade_no)
    async with gw.uow() as uow:
        payment = await uow.payments.by_out_trade_no(vn.out_trade_no, for_update=True)
        voucher = voucher_of(vn)
        reason = _park_reason(
            vn, payment, voucher, now_ok=payment is not None and now <= payment.expires_at
        )
        if reason is not None:
            return await _park(gw, uow, vn, record, voucher, reason, payment)
        assert payment is not None
        if vn.amount_fen != payment.amount_fen:
            raise AmountMismatch("notified amount is not the reservation's amount")
        if vn.outcome not in (Outcome.SUCCEEDED, Outcome.FAILED):
            raise OutcomePending(f"status {vn.channel_status!r} settles nothing")
        target = (
            PaymentStatus.SUCCEEDED if vn.outcome is Outcome.SUCCEEDED else PaymentStatus.FAILED
        )
        verdict: Verdict = "duplicate"
        if payment.status in OPEN_STATUSES:
            await uow.payments.update(
                payment.payment_id,
                now=now,
                values={
                    "pay_params": {
                        **payment.pay_params,
                        **{f"voucher_{k}": v for k, v in voucher.items()},
                    }
                },
            )
            settled = await settle_payment(
                uow, payment, target, now=now, channel_txn_id=vn.channel_txn_id, fee_fen=vn.fee_fen
            )
            verdict = "accepted" if settled is not None else "duplicate"
        await uow.callbacks.add(
            replace(
                record,
                verdict=verdict,
                payment_id=payment.payment_id,
                reason=None if verdict == "accepted" else f"already_{payment.status.value}",
            )
        )
        await uow.commit()
    return verdict


def _park_reason(
    vn: VerifiedNotification, payment: Payment | None, voucher: Mapping[str, str], *, now_ok: bool
) -> str | None:
    if payment is None or payment.channel != vn.channel:
        return "unknown_reservation"
    if vn.outcome is not Outcome.SUCCEEDED:
        return None  # failures and pending answers move no money: nothing to review
    if payment.status is PaymentStatus.SUCCEEDED:
        same = payment.channel_txn_id == vn.channel_txn_id
        return None if same else "used_reservation"
    if payment.status is not PaymentStatus.PAYING or not now_ok:
        return "expired_reservation"
    fetched_by = payment.pay_params.get("terminal_id")
    stated = voucher.get("terminal_id")
    if fetched_by and stated and stated != fetched_by:
        return "wrong_terminal"
    return None


async def _park(
    gw: Gateway,
    uow: GatewayUnitOfWork,
    vn: VerifiedNotification,
    record: CallbackRecord,
    voucher: Mapping[str, str],
    reason: str,
    payment: Payment | None,
) -> Verdict:
    parked = ParkedCallback(
        parked_id=uuid.uuid4(),
        channel=vn.channel,
        out_trade_no=vn.out_trade_no,
        channel_txn_id=vn.channel_txn_id or None,
        amount_fen=vn.amount_fen,
        reason=reason,
        voucher=voucher,
        status="open",
        received_at=record.received_at,
    )
    new = await uow.pos.park(parked)
    await uow.callbacks.add(
        replace(
            record,
            verdict="accepted" if new else "duplicate",
            reason=f"parked_{reason}",
            payment_id=payment.payment_id if payment else None,
        )
    )
    await uow.commit()
    gw.metrics.pos_parked.labels(vn.channel, reason).inc()
    log.warning("POS notification parked", extra={"channel": vn.channel, "reason": reason})
    return "accepted" if new else "duplicate"
