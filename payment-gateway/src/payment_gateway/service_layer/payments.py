"""Cashier commands and queries: start a payment, read payments, close an open one."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from otd_shared.channels import ChannelCode
from otd_shared.errors import InvalidInput, NotFound
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.channels.client_base import StartPayment
from payment_gateway.adapters.payable_billings import PayableBilling
from payment_gateway.domain.payment import Payment, PaymentStatus, new_out_trade_no
from payment_gateway.domain.routing import Route
from payment_gateway.errors import (
    BillingNotPayable,
    ChannelRefused,
    ChannelUnavailable,
    ChannelUnreachable,
    IllegalTransition,
    InstallmentNotDue,
    OperationNotOffered,
    UnknownBilling,
)
from payment_gateway.service_layer import discount_cashier
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import settle_payment
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
DESCRIPTION_CHARS_MAX = 127  # WeChat description is at most 127 characters
DEFAULT_DESCRIPTION = "OTD vehicle order payment"


@dataclass(frozen=True)
class StartPaymentCommand:
    """Pay (part of) a billing with a channel and method."""

    billing_id: uuid.UUID
    channel: ChannelCode
    method: str | None
    amount_fen: int
    description: str | None
    actor: str
    store_id: str | None = None
    apply_discount: bool = True


async def start_payment(gw: Gateway, uow: GatewayUnitOfWork, cmd: StartPaymentCommand) -> Payment:
    """Route, record, open the order at the channel (inside the caller's transaction).

    The channel's answer only ever makes the payment ``paying`` (or ``unknown`` when it did not
    answer, ``failed`` when it refused to open the order): success comes from a verified
    notification or an active query.
    """
    billing, route = await _route(gw, uow, cmd)
    now = gw.now()
    settings = gw.settings
    held = await _take_discount(uow, billing, route, cmd, now)
    payment = Payment(
        payment_id=uuid.uuid4(),
        out_trade_no=new_out_trade_no(now),
        billing_id=cmd.billing_id,
        order_id=billing.order_id,
        stage=billing.stage,
        channel=route.channel,
        method=route.method,
        amount_fen=cmd.amount_fen - (held.card.amount_fen if held else 0),
        status=PaymentStatus.CREATED,
        created_at=now,
        expires_at=now + timedelta(seconds=settings.payment_expiry_s),
        requested_by=cmd.actor,
    )
    await uow.payments.add(payment, now=now)
    if held is not None:
        await discount_cashier.reserve(
            uow, held, payment, customer_id=billing.customer_id, store_id=cmd.store_id
        )
    order = StartPayment(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        method=payment.method,
        description=(cmd.description or DEFAULT_DESCRIPTION)[:DESCRIPTION_CHARS_MAX],
        notify_url=settings.notify_url(route.channel),
        expires_at=payment.expires_at,
    )
    first_query = now + timedelta(seconds=settings.active_query_delay_s)
    queried = gw.routing.channel(route.channel).queried
    try:
        params = await gw.clients[route.channel].start_payment(order)
    except ChannelUnreachable as exc:
        _record_call(gw, route.channel, "start", "unreachable")
        log.warning("channel did not answer the order", extra={"err": str(exc)[:200]})
        values = {"next_query_at": first_query, "failure_message": str(exc)[:200]}
        return await _move(uow, payment, PaymentStatus.UNKNOWN, values)
    except ChannelRefused as exc:
        _record_call(gw, route.channel, "start", "refused")
        values = {"failure_code": exc.code, "failure_message": exc.message, "completed_at": now}
        failed = await _move(uow, payment, PaymentStatus.FAILED, values)
        if held is not None:
            await discount_cashier.release_unopened(uow, failed, now=now)
        return failed
    _record_call(gw, route.channel, "start", "ok")
    values = {"pay_params": params, "next_query_at": first_query if queried else None}
    return await _move(uow, payment, PaymentStatus.PAYING, values)


async def _take_discount(
    uow: GatewayUnitOfWork,
    billing: PayableBilling,
    route: Route,
    cmd: StartPaymentCommand,
    now: datetime,
) -> discount_cashier.HeldCard | None:
    if not cmd.apply_discount:
        return None
    return await discount_cashier.take_card(
        uow,
        billing,
        channel=route.channel,
        method=route.method,
        store_id=cmd.store_id,
        amount_fen=cmd.amount_fen,
        now=now,
    )


async def _route(
    gw: Gateway, uow: GatewayUnitOfWork, cmd: StartPaymentCommand
) -> tuple[PayableBilling, Route]:
    found = await uow.billings.get_with_time(cmd.billing_id)
    if found is None:
        raise UnknownBilling(f"billing {cmd.billing_id} is not payable (unknown or not due)")
    billing, updated_at = found
    _refuse_unless_payable(billing, now=datetime.now(UTC))
    route = gw.routing.route(
        stage=billing.stage, channel=cmd.channel, method=cmd.method, amount_fen=cmd.amount_fen
    )
    remaining_fen = billing.outstanding_fen - await uow.payments.succeeded_fen_since(
        cmd.billing_id, updated_at
    )
    if cmd.amount_fen > remaining_fen:
        raise InvalidInput(
            f"{fen_to_yuan(cmd.amount_fen)} CNY exceeds what is outstanding on the billing "
            f"({fen_to_yuan(max(remaining_fen, 0))} CNY)",
            field="amount_fen",
        )
    if route.channel not in gw.clients:
        raise ChannelUnavailable(f"{route.channel} is not configured in this deployment")
    if not gw.health.allow(route.channel):
        view = gw.health.view(route.channel)
        others = [c for c in gw.routing.stage_channels(billing.stage) if c != route.channel]
        raise ChannelUnavailable(
            f"{route.channel} is out of rotation after repeated failures; retry in "
            f"{view.retry_in_s:.0f} s or use {', '.join(others) or 'another channel later'}"
        )
    return billing, route


async def _move(
    uow: GatewayUnitOfWork, payment: Payment, target: PaymentStatus, values: dict[str, object]
) -> Payment:
    updated = await uow.payments.transition(
        payment.payment_id, target, now=payment.created_at, values=values
    )
    if updated is None:
        raise IllegalTransition(f"payment {payment.payment_id} changed while it was being opened")
    return updated


def _record_call(gw: Gateway, channel: ChannelCode, operation: str, result: str) -> None:
    gw.metrics.channel_calls.labels(channel, operation, result).inc()
    if result == "unreachable":
        gw.health.record_failure(channel)
    else:
        gw.health.record_success(channel)


async def get_payment(gw: Gateway, payment_id: uuid.UUID) -> Payment:
    """One payment, or NotFound."""
    async with gw.uow() as uow:
        payment = await uow.payments.get(payment_id)
    if payment is None:
        raise NotFound(f"payment {payment_id} not found")
    return payment


async def find_by_out_trade_no(gw: Gateway, out_trade_no: str) -> Payment | None:
    """The payment with our merchant order number, if any."""
    async with gw.uow() as uow:
        return await uow.payments.by_out_trade_no(out_trade_no)


async def list_payments(gw: Gateway, billing_id: uuid.UUID) -> list[Payment]:
    """Payments of a billing, oldest first."""
    async with gw.uow() as uow:
        return await uow.payments.list_for_billing(billing_id)


async def close_payment(gw: Gateway, payment_id: uuid.UUID) -> Payment:
    """Close an open payment at the channel (the user gave up); verified by the channel's answer.

    A paid order cannot be closed: the channel refuses and the active query settles it.
    """
    payment = await get_payment(gw, payment_id)
    if payment.status not in (PaymentStatus.PAYING, PaymentStatus.UNKNOWN):
        raise IllegalTransition(f"payment {payment_id} is {payment.status}; only open ones close")
    try:
        await gw.clients[payment.channel].close_payment(payment.out_trade_no, payment.method)
    except ChannelUnreachable as exc:
        _record_call(gw, payment.channel, "close", "unreachable")
        raise ChannelUnavailable(
            f"{payment.channel} did not answer the close; retry later"
        ) from exc
    except ChannelRefused as exc:
        _record_call(gw, payment.channel, "close", "refused")
        raise IllegalTransition(f"{payment.channel} refused to close: {exc.code}") from exc
    except OperationNotOffered as exc:
        raise IllegalTransition(f"{payment.channel} orders cannot be closed: {exc}") from exc
    _record_call(gw, payment.channel, "close", "ok")
    async with gw.uow() as uow:
        await settle_payment(uow, payment, PaymentStatus.CLOSED, now=gw.now())
        await uow.commit()
    return await get_payment(gw, payment_id)


def _refuse_unless_payable(billing: PayableBilling, *, now: datetime) -> None:
    """Due billings are payable; a scheduled lease installment only inside its advance
    window (422 ``installment_not_due`` before it); paid or cancelled ones never (409)."""
    if billing.status == "scheduled" and billing.payable_from is not None:
        if now < billing.payable_from:
            raise InstallmentNotDue(
                f"billing {billing.billing_id} falls due at {billing.due_at.isoformat()};"
                f" it can be paid from {billing.payable_from.isoformat()}"
            )
        return
    if billing.status != "due":
        raise BillingNotPayable(f"billing {billing.billing_id} is {billing.status}")
