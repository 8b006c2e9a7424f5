"""Payments we record ourselves (cash receipts, wire claims) and their reversals.

Both are final when recorded: the money is in the till or on our bank account. Each emits
PaymentCallback in the caller's transaction, so billing, the ledger and recon treat them like
any channel's payment (``succeeded``), and a reversal (``reversed``) takes the money back out
of the billing and reverses the ledger posting.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from otd_shared.channels import ChannelCode
from otd_shared.errors import InvalidInput
from otd_shared.events import PaymentCallback
from otd_shared.money import fen_to_yuan
from payment_gateway.adapters.payable_billings import PayableBilling
from payment_gateway.domain.payment import Payment, PaymentStatus, new_out_trade_no
from payment_gateway.errors import BillingNotPayable, IllegalTransition, UnknownBilling
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.settle import payment_callback
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

REASON_CHARS_MAX = 500


async def payable_billing(
    gw: Gateway,
    uow: GatewayUnitOfWork,
    billing_id: uuid.UUID,
    *,
    channel: ChannelCode,
    amount_fen: int,
    tolerance_fen: int = 0,
) -> PayableBilling:
    """The due billing, locked, after routing allows ``channel`` and the amount fits what is
    left to pay (plus ``tolerance_fen``)."""
    found = await uow.billings.get_with_time(billing_id, for_update=True)
    if found is None:
        raise UnknownBilling(f"billing {billing_id} is not payable (unknown or not due)")
    billing, updated_at = found
    if billing.status != "due":
        raise BillingNotPayable(f"billing {billing_id} is {billing.status}")
    gw.routing.route_recorded(stage=billing.stage, channel=channel)
    left_fen = billing.outstanding_fen - await uow.payments.succeeded_fen_since(
        billing_id, updated_at
    )
    if amount_fen > left_fen + tolerance_fen:
        raise InvalidInput(
            f"{fen_to_yuan(amount_fen)} CNY exceeds what is left to pay on the billing "
            f"({fen_to_yuan(max(left_fen, 0))} CNY)",
            field="amount_fen",
        )
    return billing


async def record_payment(
    uow: GatewayUnitOfWork,
    billing: PayableBilling,
    *,
    channel: ChannelCode,
    method: str,
    amount_fen: int,
    channel_txn_id: str,
    actor: str,
    now: datetime,
    store_id: str | None = None,
) -> Payment:
    """A succeeded payment of ours and its PaymentCallback."""
    payment = Payment(
        payment_id=uuid.uuid4(),
        out_trade_no=new_out_trade_no(now),
        billing_id=billing.billing_id,
        order_id=billing.order_id,
        stage=billing.stage,
        channel=channel,
        method=method,
        amount_fen=amount_fen,
        status=PaymentStatus.SUCCEEDED,
        created_at=now,
        expires_at=now,
        completed_at=now,
        channel_txn_id=channel_txn_id,
        requested_by=actor,
    )
    await uow.payments.add(payment, now=now)
    event = payment_callback(payment, completed_at=now)
    await uow.emit(event.model_copy(update={"store_id": store_id}))
    return payment


async def reverse_payment(
    uow: GatewayUnitOfWork,
    payment_id: uuid.UUID,
    *,
    reversal_id: uuid.UUID,
    reason: str,
    now: datetime,
    store_id: str | None = None,
) -> Payment:
    """succeeded → reversed and PaymentCallback ``reversed`` (IllegalTransition otherwise)."""
    updated = await uow.payments.transition(
        payment_id, PaymentStatus.REVERSED, now=now, values={"failure_message": reason[:200]}
    )
    if updated is None:
        raise IllegalTransition(f"payment {payment_id} is not a succeeded payment to reverse")
    await uow.emit(
        PaymentCallback(
            order_id=str(updated.order_id),
            billing_id=str(updated.billing_id),
            payment_id=str(updated.payment_id),
            channel=updated.channel,
            method=updated.method,
            outcome="reversed",
            out_trade_no=updated.out_trade_no,
            channel_txn_id=updated.channel_txn_id,
            amount_fen=updated.amount_fen,
            refund_id=str(reversal_id),
            store_id=store_id,
            reason=reason[:REASON_CHARS_MAX],
            completed_at=now,
        )
    )
    return updated
