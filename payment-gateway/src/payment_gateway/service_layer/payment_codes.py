"""Payment codes (付款码): the terminal scans the order QR and the customer's payment code; we
charge the code at its channel (micropay / 当面付 bar code).

1. The code is routed by prefix and length (adapters/channels/payment_code.py); an unknown
   prefix is 422 ``unknown_payment_code``, a channel without a payment-code call (or not
   enabled) 422 ``payment_code_unsupported``. Alipay charges through 当面付 bar code,
   WeChat through its API v2 micropay, UnionPay through ACP 二维码消费 (被扫, ``qrNo``).
2. The payment is reserved like a terminal fetch (service_layer/pos.py: token, terminal,
   store, billing checks; method ``bar_code``; the online limit applies), expiring after
   ``PAYMENT_CODE_WAIT_S``.
3. The channel is called outside any transaction. A synchronous success is confirmed by a
   query before the payment succeeds; a pending answer ("the customer is paying" — a
   password —, or UnionPay's "accepted") is queried once at once, then left ``paying`` with
   its next query after ``PAYMENT_CODE_POLL_S``: the scheduler then queries with back-off
   until success or failure, and at expiry cancels it at the channel (Alipay
   ``alipay.trade.cancel``, WeChat ``/secapi/pay/reverse``: closed when unpaid, refunded when
   paid meanwhile; UnionPay has no such call: queried until it reports the outcome). A
   refusal fails the payment; no answer leaves it to the queries. UnionPay's back
   notification settles the reservation too (pos_callbacks.py).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from otd_shared.channels import ChannelCode
from otd_shared.errors import InvalidInput
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.channels.client_base import (
    PaymentCodeCharge,
    PaymentCodeClient,
    PaymentQueryResult,
)
from payment_gateway.adapters.channels.payment_code import route_payment_code
from payment_gateway.domain.outcomes import ChannelOutcome
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.errors import ChannelCallError, ChannelRefused, UnknownPaymentCode
from payment_gateway.service_layer import pos
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import settle_payment

log = logging.getLogger(__name__)
DESCRIPTION: Final = "OTD vehicle order"


class UnknownCode(InvalidInput):
    """No channel's prefix rule matches the scanned code."""

    code = "unknown_payment_code"


class CodeUnsupported(InvalidInput):
    """The code's channel charges no payment codes here."""

    code = "payment_code_unsupported"


@dataclass(frozen=True)
class ChargeCode:
    """The terminal's request: the order QR (token or short code), itself and the code."""

    token: str | None
    short_code: str | None
    terminal_id: str
    auth_code: str
    actor: str


async def charge_code(gw: Gateway, cmd: ChargeCode) -> tuple[Payment, bool]:
    """The payment and whether it is new (the same terminal again gets it as it is)."""
    channel, client = _channel_of(gw, cmd.auth_code)
    reserved, new = await pos.charge(
        gw,
        pos.Charge(
            cmd.token,
            cmd.short_code,
            cmd.terminal_id,
            channel,
            pos.PAYMENT_CODE_METHOD,
            cmd.actor,
            expires_in_s=gw.settings.payment_code_wait_s,
        ),
    )
    if not new:
        return reserved, False
    limit_fen = gw.routing.rules.limit_fen(channel)
    if reserved.amount_fen > limit_fen:
        await _settle(gw, reserved, PaymentStatus.FAILED, failure_code="over_online_limit")
        raise InvalidInput(
            f"{fen_to_yuan(reserved.amount_fen)} CNY exceeds the single-payment online limit "
            f"of {fen_to_yuan(limit_fen)} CNY on {channel}",
            field="amount_fen",
        )
    return await _charge(gw, client, reserved, cmd.auth_code), True


def _channel_of(gw: Gateway, auth_code: str) -> tuple[ChannelCode, PaymentCodeClient]:
    try:
        channel = ChannelCode(route_payment_code(auth_code))
    except UnknownPaymentCode as exc:
        raise UnknownCode(str(exc), field="auth_code") from None
    client = gw.clients.get(channel)
    if not isinstance(client, PaymentCodeClient):
        raise CodeUnsupported(f"{channel} payment codes are not accepted", field="auth_code")
    return channel, client


async def _charge(
    gw: Gateway, client: PaymentCodeClient, payment: Payment, auth_code: str
) -> Payment:
    charge = PaymentCodeCharge(
        out_trade_no=payment.out_trade_no,
        amount_fen=payment.amount_fen,
        auth_code=auth_code,
        description=DESCRIPTION,
        notify_url=gw.settings.notify_url(payment.channel),
    )
    try:
        answer = await client.pay_with_code(charge)
    except ChannelRefused as exc:
        return await _settle(gw, payment, PaymentStatus.FAILED, failure_code=exc.code)
    except ChannelCallError as exc:
        log.warning(
            "payment code charge unanswered",
            extra={"payment_id": str(payment.payment_id), "reason": str(exc)[:200]},
        )
        return await _poll_later(gw, payment)
    if answer.outcome in (ChannelOutcome.SUCCEEDED, ChannelOutcome.PENDING):
        confirmed = await _confirm(client, payment)
        if confirmed is not None:
            return await _settle(
                gw, payment, PaymentStatus.SUCCEEDED, channel_txn_id=confirmed.channel_txn_id
            )
    return await _poll_later(gw, payment)


async def _confirm(client: PaymentCodeClient, payment: Payment) -> PaymentQueryResult | None:
    """The query that makes a synchronous success final (None: not confirmed yet)."""
    try:
        result = await client.query_payment(payment.out_trade_no, payment.method)
    except ChannelCallError:
        return None
    if result.outcome is not ChannelOutcome.SUCCEEDED:
        return None
    if result.amount_fen not in (None, payment.amount_fen):
        log.error(
            "payment code query amount differs", extra={"payment_id": str(payment.payment_id)}
        )
        return None
    return result


async def _poll_later(gw: Gateway, payment: Payment) -> Payment:
    now = gw.now()
    first = now + timedelta(seconds=gw.settings.payment_code_poll_s)
    async with gw.uow() as uow:
        await uow.payments.update(payment.payment_id, now=now, values={"next_query_at": first})
        await uow.commit()
    return payment


async def _settle(
    gw: Gateway,
    payment: Payment,
    target: PaymentStatus,
    *,
    channel_txn_id: str | None = None,
    failure_code: str | None = None,
) -> Payment:
    now = gw.now()
    async with gw.uow() as uow:
        if failure_code is not None:
            await uow.payments.update(
                payment.payment_id, now=now, values={"failure_code": failure_code[:64]}
            )
        settled = await settle_payment(uow, payment, target, now=now, channel_txn_id=channel_txn_id)
        await uow.commit()
    return settled or payment


async def current(gw: Gateway, payment_id: uuid.UUID) -> Payment:
    """The payment as it stands now (after the charge)."""
    async with gw.uow() as uow:
        found = await uow.payments.get(payment_id)
    assert found is not None, "a charged payment exists"
    return found
