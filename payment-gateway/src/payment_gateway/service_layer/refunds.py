"""Refunds: requested by finance (``POST /v1/payments/{id}/refunds``) or by billing
(RefundRequested), recorded as ``requested`` and sent to the channel by the scheduler.

A payment may be refunded in several parts; the refundable amount is the payment's amount
minus every refund that has not failed. The payment row is locked while a refund is recorded,
so two concurrent refunds cannot both take the last yuan.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from otd_shared.errors import NotFound
from otd_shared.events import RefundRequested
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.channels.registry import REGISTRY
from payment_gateway.adapters.repository import PaymentRepository, RefundRepository
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import (
    REFUND_REASON_LEN_MAX,
    Refund,
    RefundStatus,
    new_out_refund_no,
    refundable_fen,
)
from payment_gateway.errors import NotRefundable
from payment_gateway.service_layer import offline_refunds
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork


@dataclass(frozen=True)
class RequestRefundCommand:
    """Refund (part of) a payment; ``amount_fen`` None refunds what is left."""

    payment_id: uuid.UUID
    amount_fen: int | None
    reason: str
    actor: str


async def request_refund(gw: Gateway, uow: GatewayUnitOfWork, cmd: RequestRefundCommand) -> Refund:
    """Record a refund of a succeeded payment of a channel that refunds through its API
    (online, or a POS acquirer's refund call), inside the caller's transaction."""
    payment = await uow.payments.get(cmd.payment_id, for_update=True)
    if payment is None:
        raise NotFound(f"payment {cmd.payment_id} not found")
    if payment.status is not PaymentStatus.SUCCEEDED:
        raise NotRefundable(f"payment {payment.payment_id} is {payment.status}, not succeeded")
    if not REGISTRY.spec(payment.channel).refunds_through_api:
        raise NotRefundable(
            f"{payment.channel} payments are paid back by people (GET /v1/offline-refunds)"
        )
    left_fen = refundable_fen(
        payment.amount_fen, await uow.refunds.list_for_payment(payment.payment_id)
    )
    amount_fen = cmd.amount_fen if cmd.amount_fen is not None else left_fen
    if not 0 < amount_fen <= left_fen:
        raise NotRefundable(
            f"at most {fen_to_yuan(max(left_fen, 0))} CNY of this payment can still be refunded"
        )
    refund = new_refund(payment, amount_fen, cmd.reason, now=gw.now(), actor=cmd.actor)
    await uow.refunds.add(refund, now=gw.now())
    return refund


def new_refund(
    payment: Payment,
    amount_fen: int,
    reason: str,
    *,
    now: datetime,
    actor: str,
    refund_request_id: str | None = None,
    status: RefundStatus = RefundStatus.REQUESTED,
    failure_reason: str | None = None,
) -> Refund:
    """A refund record of ``payment``; requested ones are due for sending at once."""
    return Refund(
        refund_id=uuid.uuid4(),
        out_refund_no=new_out_refund_no(now),
        payment_id=payment.payment_id,
        billing_id=payment.billing_id,
        order_id=payment.order_id,
        channel=payment.channel,
        amount_fen=amount_fen,
        reason=(reason or "refund")[:REFUND_REASON_LEN_MAX],
        status=status,
        refund_request_id=refund_request_id,
        failure_reason=failure_reason,
        requested_by=actor,
        created_at=now,
        next_query_at=now if status is RefundStatus.REQUESTED else None,
    )


async def record_requested_refund(
    uow: GatewayUnitOfWork, event: RefundRequested, *, now: datetime
) -> Refund:
    """Billing asked for money back: a refund to send, or a manual one queued for people to
    pay out (service_layer/offline_refunds.py).

    Deterministic on redelivery (refund_request_id is unique; a second insert does nothing).
    """
    refund = await _requested_refund(uow.payments, uow.refunds, event, now=now)
    if await uow.refunds.add(refund, now=now) and refund.status is RefundStatus.MANUAL:
        await offline_refunds.queue_manual(uow, refund, now=now, payment_ref=event.payment_id)
    return refund


async def _requested_refund(
    payments: PaymentRepository, refunds: RefundRepository, event: RefundRequested, *, now: datetime
) -> Refund:
    payment = (
        await payments.get(uuid.UUID(event.payment_id), for_update=True)
        if _is_uuid(event.payment_id)
        else None
    )
    actor = "billing-service"
    if payment is None:
        refund = _manual(event, now, "no gateway payment to refund through a channel")
    elif (
        payment.status is not PaymentStatus.SUCCEEDED
        or not REGISTRY.spec(payment.channel).refunds_through_api
    ):
        refund = new_refund(
            payment,
            event.amount_fen,
            event.reason,
            now=now,
            actor=actor,
            refund_request_id=event.refund_request_id,
            status=RefundStatus.MANUAL,
            failure_reason=f"{payment.channel} payment {payment.status}: refund by hand",
        )
    else:
        left_fen = refundable_fen(
            payment.amount_fen, await refunds.list_for_payment(payment.payment_id)
        )
        manual = event.amount_fen > left_fen
        refund = new_refund(
            payment,
            event.amount_fen,
            event.reason,
            now=now,
            actor=actor,
            refund_request_id=event.refund_request_id,
            status=RefundStatus.MANUAL if manual else RefundStatus.REQUESTED,
            failure_reason=f"only {fen_to_yuan(left_fen)} CNY refundable" if manual else None,
        )
    return refund


def _manual(event: RefundRequested, now: datetime, why: str) -> Refund:
    return Refund(
        refund_id=uuid.uuid4(),
        out_refund_no=new_out_refund_no(now),
        payment_id=None,
        billing_id=uuid.UUID(event.billing_id),
        order_id=uuid.UUID(event.order_id),
        channel=event.channel,
        amount_fen=event.amount_fen,
        reason=event.reason[:REFUND_REASON_LEN_MAX],
        status=RefundStatus.MANUAL,
        refund_request_id=event.refund_request_id,
        failure_reason=why,
        requested_by="billing-service",
        created_at=now,
    )


def _is_uuid(value: str | None) -> bool:
    if not value:
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


async def get_refund(gw: Gateway, refund_id: uuid.UUID) -> Refund:
    """One refund, or NotFound."""
    async with gw.uow() as uow:
        refund = await uow.refunds.get(refund_id)
    if refund is None:
        raise NotFound(f"refund {refund_id} not found")
    return refund


async def find_by_out_refund_no(gw: Gateway, out_refund_no: str) -> Refund | None:
    """The refund with our refund number, if any."""
    async with gw.uow() as uow:
        return await uow.refunds.by_out_refund_no(out_refund_no)


async def list_refunds(gw: Gateway, payment_id: uuid.UUID) -> list[Refund]:
    """Refunds of a payment, oldest first."""
    async with gw.uow() as uow:
        return await uow.refunds.list_for_payment(payment_id)
