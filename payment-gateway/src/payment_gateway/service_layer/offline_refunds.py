"""The offline refunds queue: money owed back that no channel returns, paid out by people.

Every refund that becomes ``manual`` (an overpayment or cancellation refund on a cash or wire
payment, a refund naming no gateway payment, or one the channel cannot send) is queued in
the same transaction with an owner: the store's cashiers for a cash payout at the till, the
finance queue otherwise. Finance completes a bank transfer with the bank's reference (the
cashier, or finance, a cash payout with the till voucher); above
``OFFLINE_REFUND_APPROVAL_THRESHOLD_FEN`` the completion waits for a finance-approver other
than who recorded it. Completion makes the refund ``succeeded`` and emits the usual refund
PaymentCallback (``refunded``, with the refund id and ``payout_via`` ``bank_transfer`` or
``till``), so billing, the ledger (Cr bank:<account> or cash:<store>, never a clearing
account) and recon follow, exactly once: the reference is unique and every move is a
guarded UPDATE.

POS refunds go back through the acquirer's refund call (adapters/channels/unionpay/client.py,
allinpay/client.py), as online ones do; only one the acquirer refuses is queued. Finance may
ask the channel first (``check_with_channel``); an item the channel refunded itself (its
notification or that query) is closed as settled by the channel and refused to people.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from otd_shared.auth import Role
from otd_shared.channels import ChannelCode
from otd_shared.errors import Conflict, DomainError, InvalidInput, NotFound
from otd_shared.events import PaymentCallback
from payment_gateway.adapters.offline_refund_repo import (
    CHANNEL_COMPLETER,
    OfflineRefundSearch,
    ReferenceTaken,
)
from payment_gateway.domain import offline_refund as rules
from payment_gateway.domain.offline_refund import OfflineRefund, OfflineRefundStatus, PayoutMethod
from payment_gateway.domain.outcomes import RefundOutcome
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.domain.refund import Refund, RefundStatus
from payment_gateway.errors import (
    ChannelCallError,
    ChannelUnavailable,
    IllegalTransition,
    NotRefundable,
    OperationNotOffered,
)
from payment_gateway.service_layer.cash import DayClosed
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.refund_orders import refund_order
from payment_gateway.service_layer.settle import refund_callback, settle_refund
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork
from payment_gateway.service_layer.wires import SameApprover

_S = OfflineRefundStatus
BANK_PAYOUT_ROLES = frozenset({Role.FINANCE})
CASH_PAYOUT_ROLES = frozenset({Role.CASHIER, Role.FINANCE})


class PayoutReferenceTaken(Conflict):
    """The bank reference or till voucher already pays another refund."""

    code = "reference_taken"


class WrongPayoutMethod(InvalidInput):
    """A cash payment is paid back at its store's till, everything else by bank transfer."""

    code = "wrong_payout_method"


class SettledByChannel(Conflict):
    """The channel refunded this refund itself: nobody pays it out, assigns or approves it."""

    code = "settled_by_channel"


class NoChannelToAsk(Conflict):
    """The queued refund has no channel that could have refunded it, or none to query."""

    code = "no_channel_query"


class PayoutNotAllowed(DomainError):
    """The caller's role may not record this kind of payout (a bank transfer is finance's)."""

    http_status = 403
    code = "payout_role"


@dataclass(frozen=True)
class CompletePayout:
    """Someone paid the money back: how, with which reference, and who they are."""

    item_id: uuid.UUID
    method: PayoutMethod
    reference: str
    actor: str
    role: Role


# --- queueing (inside the caller's transaction) -----------------------------------------


async def queue_manual(
    uow: GatewayUnitOfWork, refund: Refund, *, now: datetime, payment_ref: str | None = None
) -> OfflineRefund:
    """The queue item of a manual refund (recorded once: a redelivery finds it queued)."""
    assert refund.status is RefundStatus.MANUAL, "only manual refunds are paid out by hand"
    store_id = None
    if refund.channel == ChannelCode.CASH and refund.payment_id is not None:
        store_id = await uow.offline_refunds.cash_store_of(refund.payment_id)
    method = rules.payout_method_for(refund.channel) if store_id else PayoutMethod.BANK_TRANSFER
    item = OfflineRefund(
        offline_refund_id=uuid.uuid4(),
        refund_id=refund.refund_id,
        refund_request_id=refund.refund_request_id,
        order_id=refund.order_id,
        billing_id=refund.billing_id,
        payment_id=refund.payment_id,
        payment_ref=payment_ref or (str(refund.payment_id) if refund.payment_id else None),
        channel=refund.channel or "unknown",
        amount_fen=refund.amount_fen,
        reason=refund.reason,
        status=_S.OPEN,
        owner=rules.first_owner(method, store_id),
        payout_method=method,
        store_id=store_id,
        created_at=now,
    )
    await uow.offline_refunds.add(item, now=now)
    return item


# --- completing -------------------------------------------------------------------------


async def complete(gw: Gateway, cmd: CompletePayout) -> OfflineRefund:
    """Record the payout; completed at once, or waiting for a second approver above the
    threshold. The same payout again (method and reference) answers the item as it is."""
    now = gw.now()
    async with gw.uow() as uow:
        item = await _workable(uow, cmd.item_id)
        if item.status is not _S.OPEN:
            return _same_payout(item, cmd)
        _check_payout(item, cmd)
        if item.payout_method is PayoutMethod.CASH:
            await _check_till_open(uow, item, now)
        values = _payout_values(item.payout_method, cmd.reference) | {
            "submitted_by": cmd.actor,
            "submitted_at": now,
        }
        threshold_fen = gw.settings.offline_refund_approval_threshold_fen
        if rules.needs_second_approver(item.amount_fen, threshold_fen):
            moved = await _move(uow, item, _S.PENDING_APPROVAL, now=now, values=values)
        else:
            values |= {"completed_by": cmd.actor, "completed_at": now}
            moved = await _move(uow, item, _S.COMPLETED, now=now, values=values)
            await _pay_out(uow, moved, now=now)
        await uow.commit()
    gw.metrics.offline_refunds.labels(moved.status.value).inc()
    return moved


async def approve(gw: Gateway, item_id: uuid.UUID, actor: str) -> OfflineRefund:
    """A finance-approver confirms a payout above the threshold: the refund is completed."""
    now = gw.now()
    async with gw.uow() as uow:
        item = await _workable(uow, item_id)
        _require(item, _S.PENDING_APPROVAL)
        if item.submitted_by == actor:
            raise SameApprover("a payout is approved by someone other than who recorded it")
        if item.payout_method is PayoutMethod.CASH:
            await _check_till_open(uow, item, now)
        values = {"approved_by": actor, "completed_by": item.submitted_by, "completed_at": now}
        moved = await _move(uow, item, _S.COMPLETED, now=now, values=values)
        await _pay_out(uow, moved, now=now)
        await uow.commit()
    gw.metrics.offline_refunds.labels("completed").inc()
    return moved


async def reject(gw: Gateway, item_id: uuid.UUID, actor: str, reason: str) -> OfflineRefund:
    """A finance-approver refuses a recorded payout: the item is open again, its reference
    cleared, the refusal kept."""
    now = gw.now()
    async with gw.uow() as uow:
        item = await _workable(uow, item_id)
        _require(item, _S.PENDING_APPROVAL)
        values = {
            "rejected_by": actor,
            "reject_reason": reason,
            "bank_reference": None,
            "cash_voucher_no": None,
            "submitted_by": None,
            "submitted_at": None,
        }
        moved = await _move(uow, item, _S.OPEN, now=now, values=values)
        await uow.commit()
    gw.metrics.offline_refunds.labels("rejected").inc()
    return moved


async def assign(gw: Gateway, item_id: uuid.UUID, owner: str) -> OfflineRefund:
    """Give an item that is not completed to a named owner (a person or a queue)."""
    now = gw.now()
    async with gw.uow() as uow:
        item = await _workable(uow, item_id)
        if not await uow.offline_refunds.assign(item_id, owner, now=now):
            raise IllegalTransition(
                f"offline refund {item_id} is {item.status}; it keeps its owner"
            )
        moved = await uow.offline_refunds.get(item_id)
        await uow.commit()
    assert moved is not None
    return moved


def _same_payout(item: OfflineRefund, cmd: CompletePayout) -> OfflineRefund:
    if item.payout_method is cmd.method and item.reference == cmd.reference:
        return item
    raise IllegalTransition(
        f"offline refund {item.offline_refund_id} is {item.status} with another payout"
    )


def _check_payout(item: OfflineRefund, cmd: CompletePayout) -> None:
    if cmd.method is not item.payout_method:
        raise WrongPayoutMethod(
            f"this refund is paid back by {item.payout_method} (a cash payment at its store's "
            "till, everything else by bank transfer)",
            field="method",
        )
    allowed = CASH_PAYOUT_ROLES if cmd.method is PayoutMethod.CASH else BANK_PAYOUT_ROLES
    if cmd.role not in allowed:
        raise PayoutNotAllowed(f"a {cmd.role} cannot record a {cmd.method} payout")


async def _check_till_open(uow: GatewayUnitOfWork, item: OfflineRefund, now: datetime) -> None:
    assert item.store_id is not None, "a cash payout has its store"
    day = now.astimezone(CHANNEL_TZ).date()
    if await uow.cash.get_close(item.store_id, day) is not None:
        raise DayClosed(f"the cash day {day} of store {item.store_id} is closed")


def _payout_values(method: PayoutMethod, reference: str) -> dict[str, object]:
    if method is PayoutMethod.CASH:
        return {"cash_voucher_no": reference}
    return {"bank_reference": reference}


async def _move(
    uow: GatewayUnitOfWork,
    item: OfflineRefund,
    target: OfflineRefundStatus,
    *,
    now: datetime,
    values: Mapping[str, object],
) -> OfflineRefund:
    try:
        moved = await uow.offline_refunds.move(
            item.offline_refund_id, item.status, target, now=now, values=values
        )
    except ReferenceTaken as exc:
        raise PayoutReferenceTaken(
            "this payout reference already pays another refund", field="reference"
        ) from exc
    assert moved is not None, "the item is locked in this transaction"
    return moved


async def _pay_out(uow: GatewayUnitOfWork, item: OfflineRefund, *, now: datetime) -> None:
    """The money went back: the refund succeeds and PaymentCallback ``refunded`` is emitted."""
    values = {"completed_at": now, "next_query_at": None, "channel_refund_id": item.reference}
    refund = await uow.refunds.pay_out_manual(item.refund_id, now=now, values=values)
    if refund is None:
        raise IllegalTransition(f"refund {item.refund_id} is no longer manual; read it again")
    payment = await uow.payments.get(item.payment_id) if item.payment_id else None
    if payment is None:
        await uow.emit(_callback_without_payment(item, refund, now=now))
        return
    if not await uow.payments.add_refunded(payment.payment_id, refund.amount_fen, now=now):
        raise NotRefundable(f"payment {payment.payment_id} has less than this left to refund")
    event = refund_callback(payment, refund, completed_at=now)
    update = {"store_id": item.store_id, "payout_via": rules.payout_via(item.payout_method)}
    await uow.emit(event.model_copy(update=update))


def _callback_without_payment(
    item: OfflineRefund, refund: Refund, *, now: datetime
) -> PaymentCallback:
    """A refund billing asked for against a payment the gateway does not hold (a loan
    disbursement, say): billing knows the payment by ``payment_ref``."""
    ref = item.payment_ref or str(refund.refund_id)
    channel = refund.channel or ChannelCode.WIRE
    return PaymentCallback(
        order_id=str(item.order_id),
        billing_id=str(item.billing_id),
        payment_id=ref,
        channel=channel,
        method=item.payout_method.value,
        outcome="refunded",
        out_trade_no=ref,
        amount_fen=refund.amount_fen,
        refund_id=str(refund.refund_id),
        store_id=item.store_id,
        completed_at=now,
        payout_via=rules.payout_via(item.payout_method),
    )


async def _workable(uow: GatewayUnitOfWork, item_id: uuid.UUID) -> OfflineRefund:
    """The item, locked; one the channel refunded itself is closed to people (409)."""
    item = await uow.offline_refunds.get(item_id, for_update=True)
    if item is None:
        raise NotFound(f"offline refund {item_id} not found")
    if item.completed_by == CHANNEL_COMPLETER:
        raise SettledByChannel(
            f"offline refund {item_id} was refunded by the channel at {item.completed_at}: "
            f"{item.closed_reason}; do not pay it out"
        )
    return item


def _require(item: OfflineRefund, status: OfflineRefundStatus) -> None:
    if item.status is not status:
        raise IllegalTransition(f"offline refund {item.offline_refund_id} is {item.status}")


# --- asking the channel before paying out -----------------------------------------------


@dataclass(frozen=True)
class ChannelCheck:
    """What the channel said about a queued refund, and the item afterwards."""

    item: OfflineRefund
    outcome: RefundOutcome
    channel_status: str


async def check_with_channel(gw: Gateway, item_id: uuid.UUID) -> ChannelCheck:
    """Query the refund at its payment's channel (a refund sent whose fate was unclear, or one
    an acquirer refused, may have been refunded after all). A verified "refunded" settles the
    refund from the query (PaymentCallback ``refunded`` once) and closes the item as settled
    by the channel; any other answer changes nothing: people pay it out."""
    async with gw.uow() as uow:
        item = await _workable(uow, item_id)
        if item.status is _S.COMPLETED:
            raise IllegalTransition(f"offline refund {item_id} is already paid out")
        refund = await uow.refunds.get(item.refund_id)
        payment = await uow.payments.get(item.payment_id) if item.payment_id else None
    client = None if payment is None else gw.clients.get(payment.channel)
    if refund is None or payment is None or client is None:
        raise NoChannelToAsk(f"no channel holds refund {item.refund_id}: people pay it out")
    try:
        answer = await client.query_refund(refund_order(gw, payment, refund))
    except OperationNotOffered as exc:
        raise NoChannelToAsk(f"{payment.channel} offers no refund query: {exc}") from exc
    except ChannelCallError as exc:
        raise ChannelUnavailable(f"{payment.channel} gave no usable answer: {exc}") from exc
    if answer.outcome is RefundOutcome.SUCCEEDED:
        async with gw.uow() as uow:
            await settle_refund(
                uow,
                payment,
                refund,
                RefundStatus.SUCCEEDED,
                now=gw.now(),
                channel_refund_id=answer.channel_refund_id,
                told_by="query",
            )
            await uow.commit()
    return ChannelCheck(await get(gw, item_id), answer.outcome, answer.channel_status)


# --- queries ----------------------------------------------------------------------------


async def search(gw: Gateway, filters: OfflineRefundSearch) -> tuple[list[OfflineRefund], int]:
    """The queue by the filters."""
    async with gw.uow() as uow:
        return await uow.offline_refunds.search(filters)


async def get(gw: Gateway, item_id: uuid.UUID) -> OfflineRefund:
    """One item, or NotFound."""
    async with gw.uow() as uow:
        item = await uow.offline_refunds.get(item_id)
    if item is None:
        raise NotFound(f"offline refund {item_id} not found")
    return item
