"""The discount at the cashier, and what a payment's verified outcome does to its draw.

``POST /v1/payments`` on an eligible billing draws one card (inside the payment's own
transaction, so a retry with the same Idempotency-Key replays the same payment and draw): the
channel payment is created for the requested amount minus the card, and a ``discount`` payment
of the card's amount stands next to it (``paying`` while the draw is reserved).

The gateway consumes its own PaymentCallback events (consumer ``gateway-discounts``), so the
channel settle paths stay untouched:

* the channel payment succeeded → the draw is confirmed and the discount payment succeeds
  (its PaymentCallback, channel ``discount``, tells billing and the ledger);
* failed or closed (also on expiry) → the draw is returned and its card goes back to the pool;
* fully refunded → the discount is reversed (a refunded PaymentCallback of the discount
  payment), and its card goes back to the pool only when the activity says so.

A verified success that arrives after the draw was returned takes its card back if nobody drew
it meanwhile, else a free card of the same pool and amount (dealt in advance like any other, so
the caps and the budget hold). When none is left the draw ends in ``shortfall``: the billing
stays due by the discount and the customer pays the rest (never a cap or the budget exceeded);
the activity report counts it per day and the gateway logs it as an error.
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.consumer import BatchEventHandler, EventHandler
from otd_shared.events import EventEnvelope, PaymentCallback
from otd_shared.observability import set_correlation_id
from otd_shared.outbox import OutboxWriter
from payment_gateway.adapters.discount_pool import ActivityRepository, DiscountPool, TakenCard
from payment_gateway.adapters.payable_billings import PayableBilling
from payment_gateway.adapters.repository import PaymentRepository, RefundRepository
from payment_gateway.domain.discounts import (
    DISCOUNT_CHANNEL,
    DISCOUNT_METHOD,
    Activity,
    Draw,
    DrawStatus,
)
from payment_gateway.domain.payment import Payment, PaymentStatus
from payment_gateway.domain.refund import RefundStatus
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.refunds import new_refund
from payment_gateway.service_layer.settle import payment_callback, refund_callback
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
DISCOUNT_OUT_TRADE_NO_PREFIX: Final = "D"
REVERSAL_REASON: Final = "instant discount reversed: its payment was refunded in full"


@dataclass(frozen=True)
class HeldCard:
    """A card taken for a payment that is being opened."""

    activity: Activity
    draw_id: uuid.UUID
    card: TakenCard


@dataclass(frozen=True)
class PaymentDiscount:
    """The discount standing next to a channel payment (for API answers)."""

    draw: Draw
    activity_name: str


async def take_card(
    uow: GatewayUnitOfWork,
    billing: PayableBilling,
    *,
    channel: str,
    method: str,
    store_id: str | None,
    amount_fen: int,
    now: datetime,
) -> HeldCard | None:
    """Take a card of the first running activity the payment is eligible for, or None."""
    for activity in await uow.activities.running(now):
        eligible = activity.applies(
            stage=billing.stage,
            channel=channel,
            method=method,
            store_id=store_id,
            amount_fen=amount_fen,
            now=now,
        )
        if not eligible:
            continue
        if activity.cap_per_customer is not None:
            await uow.discount_pool.lock_customer(activity.activity_id, billing.customer_id)
            held = await uow.discount_pool.customer_holds(activity.activity_id, billing.customer_id)
            if held >= activity.cap_per_customer:
                continue
        draw_id = uuid.uuid4()
        pool_key = activity.pool_key(now, store_id)
        card = await uow.discount_pool.take(activity.activity_id, pool_key, draw_id, now)
        if card is not None:
            return HeldCard(activity, draw_id, card)
    return None


async def reserve(
    uow: GatewayUnitOfWork,
    held: HeldCard,
    payment: Payment,
    *,
    customer_id: str,
    store_id: str | None,
) -> None:
    """Record the draw and its ``discount`` payment (``paying`` while the channel one is)."""
    now = payment.created_at
    discount = dataclasses.replace(
        payment,
        payment_id=uuid.uuid4(),
        out_trade_no=DISCOUNT_OUT_TRADE_NO_PREFIX + payment.out_trade_no[1:],
        channel=DISCOUNT_CHANNEL,
        method=DISCOUNT_METHOD,
        amount_fen=held.card.amount_fen,
        status=PaymentStatus.PAYING,
        next_query_at=None,
        pay_params={"activity_id": str(held.activity.activity_id)},
    )
    await uow.payments.add(discount, now=now)
    draw = Draw(
        draw_id=held.draw_id,
        activity_id=held.activity.activity_id,
        card_id=held.card.card_id,
        payment_id=payment.payment_id,
        discount_payment_id=discount.payment_id,
        order_id=payment.order_id,
        billing_id=payment.billing_id,
        customer_id=customer_id,
        store_id=store_id,
        amount_fen=held.card.amount_fen,
        status=DrawStatus.RESERVED,
        drawn_at=now,
    )
    await uow.discount_pool.add_draw(draw, now=now)


async def release_unopened(uow: GatewayUnitOfWork, payment: Payment, *, now: datetime) -> None:
    """The channel refused to open the order: the draw goes back at once (no event follows)."""
    await _return(uow.discount_pool, PaymentRepository(uow.session), payment.payment_id, now=now)


async def discount_of(uow: GatewayUnitOfWork, payment_id: uuid.UUID) -> PaymentDiscount | None:
    """The discount next to a channel payment, if it drew one."""
    found = await discounts_of(uow, [payment_id])
    return found.get(payment_id)


async def discounts_of(
    uow: GatewayUnitOfWork, payment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PaymentDiscount]:
    """The discounts next to several channel payments, by payment id."""
    draws = await uow.discount_pool.draws_of_payments(payment_ids)
    names: dict[uuid.UUID, str] = {}
    for draw in draws.values():
        if draw.activity_id not in names:
            activity = await uow.activities.get(draw.activity_id)
            names[draw.activity_id] = activity.name if activity else ""
    return {pid: PaymentDiscount(d, names[d.activity_id]) for pid, d in draws.items()}


async def find_discounts(
    gw: Gateway, payment_ids: list[uuid.UUID]
) -> dict[uuid.UUID, PaymentDiscount]:
    """The discounts next to several channel payments (own transaction, read only)."""
    async with gw.uow() as uow:
        return await discounts_of(uow, payment_ids)


# --- following the channel payment's verified outcome ---------------------------------


def outcome_handler(outbox: OutboxWriter) -> EventHandler:
    """PaymentCallback (our own topic) → confirm, return or reverse the payment's draw."""

    async def on_payment_callback(uow: GatewayUnitOfWork, envelope: EventEnvelope) -> None:
        callback = envelope.payload
        assert isinstance(callback, PaymentCallback)
        if callback.channel == DISCOUNT_CHANNEL:
            return
        await follow_outcome(uow.session, outbox, callback)

    return on_payment_callback


def outcome_batch_handler(outbox: OutboxWriter) -> BatchEventHandler:
    """A run of PaymentCallbacks: one statement finds which payments drew a discount
    (almost none do); only those are followed, in order, as ``outcome_handler`` does."""

    async def on_payment_callbacks(
        uow: GatewayUnitOfWork, envelopes: Sequence[EventEnvelope]
    ) -> None:
        followed: list[tuple[EventEnvelope, PaymentCallback]] = []
        for envelope in envelopes:
            callback = envelope.payload
            assert isinstance(callback, PaymentCallback)
            if callback.channel != DISCOUNT_CHANNEL:
                followed.append((envelope, callback))
        ids = [uuid.UUID(c.payment_id) for _, c in followed]
        drawn = await DiscountPool(uow.session).draws_of_payments(ids)
        for envelope, callback in followed:
            if uuid.UUID(callback.payment_id) in drawn:
                set_correlation_id(envelope.correlation_id)
                await follow_outcome(uow.session, outbox, callback)

    return on_payment_callbacks


async def follow_outcome(
    session: AsyncSession, outbox: OutboxWriter, callback: PaymentCallback
) -> None:
    """Apply one channel payment's outcome to its draw (deterministic on redelivery)."""
    pool, payments = DiscountPool(session), PaymentRepository(session)
    payment_id = uuid.UUID(callback.payment_id)
    draw = await pool.draw_of_payment(payment_id, for_update=True)
    if draw is None:
        return
    at = callback.completed_at
    match callback.outcome:
        case "succeeded":
            settled = await _confirm(pool, payments, draw, at=at)
            if settled is not None:
                await outbox.add(session, payment_callback(settled, completed_at=at))
        case "failed":
            await _return(pool, payments, payment_id, now=at)
        case "refunded":
            await _reverse_if_refunded(session, outbox, draw, at=at)


async def _confirm(
    pool: DiscountPool, payments: PaymentRepository, draw: Draw, *, at: datetime
) -> Payment | None:
    if draw.status is DrawStatus.RETURNED and not await _card_back(pool, draw, at):
        await _shortfall(pool, draw, at)
        return None
    moved = await pool.move_draw(
        draw.draw_id,
        DrawStatus.CONFIRMED,
        [DrawStatus.RESERVED, DrawStatus.RETURNED],
        now=at,
        values={"confirmed_at": at},
    )
    if moved is None:
        return None
    values = {"completed_at": at, "next_query_at": None}
    return await payments.transition(
        draw.discount_payment_id, PaymentStatus.SUCCEEDED, now=at, values=values
    )


async def _card_back(pool: DiscountPool, draw: Draw, at: datetime) -> bool:
    """A late success: take its own card back, else a free card of the same pool and amount."""
    if await pool.retake(draw.card_id, draw.draw_id, at):
        return True
    replacement = await pool.take_like(draw.card_id, draw.draw_id, at)
    if replacement is not None:
        log.info(
            "late success: its card was drawn again, a same-amount card replaces it",
            extra={"payment_id": str(draw.payment_id), "card_id": replacement},
        )
    return replacement is not None


async def _shortfall(pool: DiscountPool, draw: Draw, at: datetime) -> None:
    """No card left for a late success: the billing stays due by the discount (the customer
    pays the rest at the cashier); the draw records it for the report and finance."""
    moved = await pool.move_draw(
        draw.draw_id,
        DrawStatus.SHORTFALL,
        [DrawStatus.RETURNED],
        now=at,
        values={"shortfall_at": at},
    )
    if moved is None:
        return
    log.error(
        "late success after the discount was returned and drawn again, no card left: "
        "the billing stays due by the discount",
        extra={"payment_id": str(draw.payment_id), "amount_fen": draw.amount_fen},
    )


async def _return(
    pool: DiscountPool, payments: PaymentRepository, payment_id: uuid.UUID, *, now: datetime
) -> None:
    draw = await pool.draw_of_payment(payment_id, for_update=True)
    if draw is None:
        return
    moved = await pool.move_draw(
        draw.draw_id,
        DrawStatus.RETURNED,
        [DrawStatus.RESERVED],
        now=now,
        values={"returned_at": now},
    )
    if moved is None:
        return
    await pool.put_back(draw.card_id, draw.draw_id, now)
    values = {"completed_at": now, "next_query_at": None}
    await payments.transition(
        draw.discount_payment_id, PaymentStatus.CLOSED, now=now, values=values
    )


async def _reverse_if_refunded(
    session: AsyncSession, outbox: OutboxWriter, draw: Draw, *, at: datetime
) -> None:
    """A full refund of the channel payment takes the discount back out of the billing."""
    payments, pool = PaymentRepository(session), DiscountPool(session)
    channel_payment = await payments.get(draw.payment_id)
    if channel_payment is None or channel_payment.refunded_fen < channel_payment.amount_fen:
        return  # partial refunds keep the discount
    activity = await ActivityRepository(session).get(draw.activity_id)
    back = bool(activity and activity.refund_returns_to_budget)
    moved = await pool.move_draw(
        draw.draw_id,
        DrawStatus.REVERSED,
        [DrawStatus.CONFIRMED],
        now=at,
        values={"reversed_at": at, "returned_to_budget": back},
    )
    if moved is None:
        return
    if back:
        await pool.put_back(draw.card_id, draw.draw_id, at)
    discount = await payments.get(draw.discount_payment_id, for_update=True)
    assert discount is not None
    assert discount.status is PaymentStatus.SUCCEEDED
    refund = new_refund(
        discount,
        draw.amount_fen,
        REVERSAL_REASON,
        now=at,
        actor=DISCOUNT_CHANNEL,
        refund_request_id=f"discount-reversal:{draw.draw_id}",
        status=RefundStatus.SUCCEEDED,
    )
    refund = dataclasses.replace(refund, completed_at=at)
    refunds = RefundRepository(session)
    if not await refunds.add(refund, now=at):
        return
    if not await payments.add_refunded(discount.payment_id, draw.amount_fen, now=at):
        raise AssertionError(f"discount {discount.payment_id} refunded twice")
    await outbox.add(session, refund_callback(discount, refund, completed_at=at))
