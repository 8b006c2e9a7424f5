"""Domain events of billing-service → shared Kafka payloads, and the webhook pushes.

One mapper per domain event class in ``_MAPPERS`` (an unmapped class is a bug and raises).
``publish`` writes the payloads to the outbox and, in the same transaction, a webhook
delivery for each event the app backend must hear about (``WEBHOOK_EVENT_TYPES``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any, cast

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.webhook_repo import WebhookRepository
from billing_service.domain import events as d
from billing_service.domain.fund_base import FundOrderBase
from otd_shared import events as wire
from otd_shared.events import EventEnvelope, EventPayload
from otd_shared.events.payloads import BillingStage, ChannelCode
from otd_shared.outbox import OutboxWriter

WEBHOOK_EVENT_TYPES = frozenset(
    {
        "BillingDue",
        "BillingPaid",
        "BillingReminderDue",
        "BillingAmountChanged",
        "InstallmentOverdue",
    }
)
"""What the app backend is pushed: a billing fell due, a billing is paid (whatever paid it:
online, POS, cash, wire, loan), a reminder, a changed amount (a repricing or a loan decision
changed what the customer pays), an overdue lease installment."""


def to_payload(event: d.BillingEvent, fund: FundOrderBase | None = None) -> EventPayload:
    """The wire payload of one domain event (``fund`` adds what the event lacks)."""
    mapper = _MAPPERS.get(type(event))
    if mapper is None:
        raise TypeError(f"no payload mapping for {type(event).__name__}")
    return mapper(event, fund)


async def publish(
    session: AsyncSession,
    outbox: OutboxWriter,
    events: Sequence[d.BillingEvent],
    *,
    fund: FundOrderBase | None,
    at: datetime,
) -> list[EventEnvelope]:
    """Outbox rows for every event and webhook deliveries for the pushed ones."""
    envelopes = await outbox.add(session, *(to_payload(e, fund) for e in events))
    pushed = [e for e in envelopes if e.event_type in WEBHOOK_EVENT_TYPES]
    await WebhookRepository(session).enqueue(pushed, at=at)
    return envelopes


def _stage(stage: str) -> BillingStage:
    return cast(BillingStage, stage)


def _due(e: d.BillingDue, fund: FundOrderBase | None) -> EventPayload:
    loan_share_fen = fund.billing(e.billing_id).loan_share_fen if fund else 0
    return wire.BillingDue(
        order_id=e.order_id,
        billing_id=e.billing_id,
        customer_id=e.customer_id,
        stage=_stage(e.stage),
        amount_fen=e.amount_fen,
        outstanding_fen=e.outstanding_fen,
        due_at=e.due_at,
        customer_payable_fen=e.customer_payable_fen,
        loan_share_fen=loan_share_fen,
    )


def _overpaid(e: d.BillingOverpaid, _: object) -> EventPayload:
    return wire.BillingOverpaid(
        order_id=e.order_id,
        billing_id=e.billing_id,
        stage=_stage(e.stage),
        overpaid_fen=e.overpaid_fen,
        payment_id=e.payment_id,
        amount_fen=e.amount_fen,
        paid_fen=e.paid_fen,
    )


def _refund(e: d.RefundRequested, _: object) -> EventPayload:
    return wire.RefundRequested(
        order_id=e.order_id,
        billing_id=e.billing_id,
        refund_request_id=e.refund_request_id,
        amount_fen=e.amount_fen,
        reason=e.reason,
        payment_id=e.payment_id,
        channel=cast(ChannelCode, e.channel),
        stage=_stage(e.stage),
    )


def _amount_changed(e: d.BillingAmountChanged, _: object) -> EventPayload:
    return wire.BillingAmountChanged(
        order_id=e.order_id,
        billing_id=e.billing_id,
        stage=_stage(e.stage),
        amount_fen=e.amount_fen,
        previous_amount_fen=e.previous_amount_fen,
        self_pay_fen=e.self_pay_fen,
        previous_self_pay_fen=e.previous_self_pay_fen,
        reason=e.reason,
    )


def _cancelled(e: d.BillingCancelled, _: object) -> EventPayload:
    return wire.BillingCancelled(
        order_id=e.order_id,
        billing_id=e.billing_id,
        stage=_stage(e.stage),
        paid_fen=e.paid_fen,
        retained_fen=e.retained_fen,
        refund_fen=e.refund_fen,
        reason=e.reason,
    )


def _reminder(e: d.BillingReminderDue, _: object) -> EventPayload:
    return wire.BillingReminderDue(
        order_id=e.order_id,
        billing_id=e.billing_id,
        customer_id=e.customer_id,
        stage=_stage(e.stage),
        schedule=e.schedule,
        step=e.step,
        due_at=e.due_at,
        remind_at=e.remind_at,
        customer_payable_fen=e.customer_payable_fen,
    )


def _paid(e: d.BillingPaid, fund: FundOrderBase | None) -> EventPayload:
    return wire.BillingPaid(
        order_id=e.order_id,
        billing_id=e.billing_id,
        stage=_stage(e.stage),
        amount_fen=e.amount_fen,
        paid_fen=e.paid_fen,
        fund_order_paid=fund is not None and fund.status == "paid",
    )


def _reopened(e: d.BillingReopened, _: object) -> EventPayload:
    return wire.BillingReopened(
        order_id=e.order_id,
        billing_id=e.billing_id,
        stage=_stage(e.stage),
        amount_fen=e.amount_fen,
        paid_fen=e.paid_fen,
    )


def _scheduled(e: d.BillingScheduled, _: object) -> EventPayload:
    return wire.BillingScheduled(
        order_id=e.order_id,
        billing_id=e.billing_id,
        customer_id=e.customer_id,
        stage=_stage(e.stage),
        installment_no=e.installment_no,
        amount_fen=e.amount_fen,
        due_at=e.due_at,
        payable_from=e.payable_from,
    )


def _overdue(e: d.InstallmentOverdue, _: object) -> EventPayload:
    return wire.InstallmentOverdue(
        order_id=e.order_id,
        billing_id=e.billing_id,
        customer_id=e.customer_id,
        installment_no=e.installment_no,
        due_at=e.due_at,
        overdue_at=e.overdue_at,
        outstanding_fen=e.outstanding_fen,
    )


_MAPPERS: dict[type[d.BillingEvent], Callable[[Any, Any], EventPayload]] = {
    d.FundOrderOpened: lambda e, _: wire.FundOrderOpened(
        order_id=e.order_id,
        fund_order_id=e.fund_order_id,
        customer_id=e.customer_id,
        price_fen=e.price_fen,
    ),
    d.BillingDue: _due,
    d.BillingPaid: _paid,
    d.BillingReopened: _reopened,
    d.BillingScheduled: _scheduled,
    d.InstallmentOverdue: _overdue,
    d.BillingOverpaid: _overpaid,
    d.RefundRequested: _refund,
    d.BillingAmountChanged: _amount_changed,
    d.BillingCancelled: _cancelled,
    d.BillingReminderDue: _reminder,
}
