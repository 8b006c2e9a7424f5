"""HTTP response bodies of billing-service (not rows, not domain objects).

The billing amounts are shown as the customer sees them (DESIGN §1): ``amount_fen`` is
what the customer owes on the billing — for the final billing price − deposits − loan
principal — and ``paid_fen`` what the customer paid on it. The whole billing, loan
included, is ``total_amount_fen`` / ``total_paid_fen``, with ``loan_share_fen`` and
``loan_paid_fen`` beside them; ``status`` is the whole billing's (the final billing is
``paid`` once self-pay and loan together reach it).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from billing_service.adapters.deferred_repo import DeferredOutcome
from billing_service.adapters.fund_order_repo import AnyFundOrder
from billing_service.adapters.query_repo import BillingRecord, PaymentRecord, ReminderRecord
from billing_service.adapters.rows import billing_row
from billing_service.adapters.webhook_repo import Attempt, Delivery
from billing_service.domain import (
    Billing,
    CancellationResult,
    FundOrder,
    LeaseFundOrder,
    ServiceFundOrder,
)
from billing_service.domain.events import RefundRequested


class BillingOut(BaseModel):
    """One billing; money in fen (see the module docstring for the customer view)."""

    billing_id: str
    order_id: str
    stage: str
    amount_fen: int = Field(description="What the customer owes on this billing (loan excluded).")
    paid_fen: int = Field(description="What the customer paid on it (loan excluded).")
    status: str
    due_at: datetime | None
    total_amount_fen: int
    total_paid_fen: int
    loan_share_fen: int
    loan_paid_fen: int
    customer_payable_fen: int = Field(description="What the customer must still pay now.")
    credit_fen: int = Field(description="Paid beyond what the billing keeps: owed back.")
    retained_fen: int = Field(description="Kept under the deposit policy after a cancellation.")
    cancelled_at: datetime | None
    installment_no: int | None = Field(default=None, description="Lease installments: 1, 2, …")
    scheduled_due_at: datetime | None = Field(
        default=None, description="Lease installments: when it falls due by the schedule."
    )
    overdue_at: datetime | None = Field(
        default=None, description="Lease installments: when it became overdue (unpaid)."
    )
    superseded: bool = Field(
        default=False, description="Lease installments replaced by an early payoff."
    )

    @classmethod
    def of_record(cls, r: BillingRecord) -> BillingOut:
        """From a stored billing row."""
        return cls(
            billing_id=r.billing_id,
            order_id=r.order_id,
            stage=r.stage,
            amount_fen=r.amount_fen - r.loan_share_fen,
            paid_fen=r.paid_fen - r.loan_paid_fen,
            status=r.status,
            due_at=r.due_at,
            total_amount_fen=r.amount_fen,
            total_paid_fen=r.paid_fen,
            loan_share_fen=r.loan_share_fen,
            loan_paid_fen=r.loan_paid_fen,
            customer_payable_fen=r.customer_payable_fen,
            credit_fen=r.credit_fen,
            retained_fen=r.retained_fen,
            cancelled_at=r.cancelled_at,
            installment_no=r.installment_no or None,
            scheduled_due_at=r.scheduled_due_at,
            overdue_at=r.overdue_at,
            superseded=r.superseded,
        )

    @classmethod
    def of(cls, billing: Billing) -> BillingOut:
        """From a domain billing."""
        return cls.of_record(
            BillingRecord(
                billing_id=billing.id,
                order_id=billing.order_id,
                customer_id=billing.customer_id,
                **billing_row(billing) | {"stage": billing.stage.value},
            )
        )


class LoanOut(BaseModel):
    """The loan as billing sees it."""

    status: str
    requested_fen: int
    principal_fen: int | None
    share_fen: int
    bank_reference: str | None


class RefundRequestOut(BaseModel):
    """Money asked back from one payment."""

    refund_request_id: str
    billing_id: str
    payment_id: str
    channel: str
    amount_fen: int
    reason: str
    requested_at: datetime

    @classmethod
    def of(cls, r: RefundRequested) -> RefundRequestOut:
        """From the domain's refund request."""
        return cls(
            refund_request_id=r.refund_request_id,
            billing_id=r.billing_id,
            payment_id=r.payment_id,
            channel=r.channel,
            amount_fen=r.amount_fen,
            reason=r.reason,
            requested_at=r.occurred_at,
        )


class CancellationOut(BaseModel):
    """What a cancellation refunds and keeps, and why (``reason`` is worded for people)."""

    order_id: str
    cancelled_at: datetime
    refund_fen: int
    retained_fen: int
    reason: str
    refund_requests: list[RefundRequestOut]
    quote: bool = False

    @classmethod
    def of(
        cls, order_id: str, result: CancellationResult, *, quote: bool = False
    ) -> CancellationOut:
        """From the domain's cancellation result."""
        return cls(
            order_id=order_id,
            cancelled_at=result.cancelled_at,
            refund_fen=result.refund_fen,
            retained_fen=result.retained_fen,
            reason=result.reason,
            refund_requests=[RefundRequestOut.of(r) for r in result.refund_requests],
            quote=quote,
        )


class FundOrderOut(BaseModel):
    """The fund order with its billings (three for a vehicle order, one for a service, one
    per installment and a payoff for a lease)."""

    order_id: str
    fund_order_id: str
    kind: str
    customer_id: str
    price_fen: int
    status: str
    parent_order_id: str | None = None
    deposit_policy: str | None = None
    locked_at: datetime | None = None
    loan: LoanOut | None = None
    cancellation: CancellationOut | None = None
    billings: list[BillingOut]

    @classmethod
    def of(cls, fund: AnyFundOrder) -> FundOrderOut:
        """From the domain's fund order."""
        common: dict[str, Any] = {
            "order_id": fund.order_id,
            "fund_order_id": fund.id,
            "customer_id": fund.customer_id,
            "price_fen": fund.price_fen,
            "status": fund.status,
            "billings": [BillingOut.of(b) for b in fund.billings],
            "cancellation": (
                CancellationOut.of(fund.order_id, fund.cancellation) if fund.cancellation else None
            ),
        }
        if isinstance(fund, ServiceFundOrder):
            return cls(kind="service", parent_order_id=fund.parent_order_id, **common)
        if isinstance(fund, LeaseFundOrder):
            return cls(kind="lease", parent_order_id=fund.parent_order_id, **common)
        return cls(kind="vehicle", **_vehicle_fields(fund), **common)


def _vehicle_fields(fund: FundOrder) -> dict[str, Any]:
    loan = fund.loan
    return {
        "deposit_policy": fund.policy.name,
        "locked_at": fund.locked_at,
        "loan": LoanOut(
            status=loan.status,
            requested_fen=loan.requested_fen,
            principal_fen=loan.principal_fen,
            share_fen=loan.share_fen,
            bank_reference=loan.bank_reference,
        ),
    }


class PaymentOut(BaseModel):
    """One payment applied to a billing, and what was refunded or asked back of it."""

    payment_id: str
    channel: str
    amount_fen: int
    refunded_fen: int
    refund_requested_fen: int
    received_at: datetime


class ReminderOut(BaseModel):
    """A reminder step sent for a billing."""

    step: int
    schedule: str
    remind_at: datetime
    sent_at: datetime
    event_id: str

    @classmethod
    def of(cls, r: ReminderRecord) -> ReminderOut:
        """From a stored reminder."""
        return cls(
            step=r.step,
            schedule=r.schedule,
            remind_at=r.remind_at,
            sent_at=r.sent_at,
            event_id=str(r.event_id),
        )


class BillingDetailOut(BillingOut):
    """A billing with its payments, refund requests and reminders."""

    fund_order_id: str
    payments: list[PaymentOut]
    refund_requests: list[RefundRequestOut]
    failed_payment_ids: list[str]
    reminders: list[ReminderOut]

    @classmethod
    def detail(
        cls, fund: AnyFundOrder, billing: Billing, reminders: list[ReminderRecord]
    ) -> BillingDetailOut:
        """From the domain billing and its reminders."""
        return cls(
            **BillingOut.of(billing).model_dump(),
            fund_order_id=fund.id,
            payments=[
                PaymentOut(
                    payment_id=p.payment_id,
                    channel=p.channel,
                    amount_fen=p.amount_fen,
                    refunded_fen=p.refunded_fen,
                    refund_requested_fen=p.refund_requested_fen,
                    received_at=p.received_at,
                )
                for p in billing.book.payments.values()
            ],
            refund_requests=[RefundRequestOut.of(r) for r in billing.refund_requests],
            failed_payment_ids=sorted(billing.book.failed_payment_ids),
            reminders=[ReminderOut.of(r) for r in reminders],
        )


class BillingPageOut(BaseModel):
    """One page of billings."""

    items: list[BillingOut]
    total: int
    limit: int
    offset: int


class CustomerPaymentOut(BaseModel):
    """One payment in a customer's history."""

    payment_id: str
    order_id: str
    billing_id: str
    stage: str
    channel: str
    amount_fen: int
    refunded_fen: int
    received_at: datetime
    refund_ids: list[str]

    @classmethod
    def of(cls, p: PaymentRecord) -> CustomerPaymentOut:
        """From a stored payment."""
        return cls(
            payment_id=p.payment_id,
            order_id=p.order_id,
            billing_id=p.billing_id,
            stage=p.stage,
            channel=p.channel,
            amount_fen=p.amount_fen,
            refunded_fen=p.refunded_fen,
            received_at=p.received_at,
            refund_ids=list(p.refund_ids),
        )


class CustomerPaymentsOut(BaseModel):
    """One page of a customer's payment history."""

    customer_id: str
    items: list[CustomerPaymentOut]
    total: int
    limit: int
    offset: int


class AttemptOut(BaseModel):
    """One HTTP attempt of a webhook delivery."""

    attempted_at: datetime
    url: str | None
    status_code: int | None
    error: str | None
    duration_ms: int

    @classmethod
    def of(cls, a: Attempt) -> AttemptOut:
        """From a stored attempt."""
        return cls(
            attempted_at=a.attempted_at,
            url=a.url,
            status_code=a.status_code,
            error=a.error,
            duration_ms=a.duration_ms,
        )


class DeliveryOut(BaseModel):
    """One webhook delivery to the app backend."""

    delivery_id: int
    event_id: str
    event_type: str
    order_id: str | None
    billing_id: str | None
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    body: dict[str, Any] | None = None
    attempt_log: list[AttemptOut] | None = None

    @classmethod
    def of(
        cls, d: Delivery, attempts: list[Attempt] | None = None, *, with_body: bool = False
    ) -> DeliveryOut:
        """From a stored delivery (with its attempts and body when asked)."""
        return cls(
            delivery_id=d.id,
            event_id=str(d.event_id),
            event_type=d.event_type,
            order_id=d.order_id,
            billing_id=d.billing_id,
            status=d.status,
            attempts=d.attempts,
            next_attempt_at=d.next_attempt_at,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            created_at=d.created_at,
            delivered_at=d.delivered_at,
            body=json.loads(d.body) if with_body else None,
            attempt_log=None if attempts is None else [AttemptOut.of(a) for a in attempts],
        )


class DeliveryPageOut(BaseModel):
    """One page of webhook deliveries."""

    items: list[DeliveryOut]
    total: int
    limit: int
    offset: int


class DeferredOutcomeOut(BaseModel):
    """A payment outcome kept aside (waiting for its payment, or a conflict), and why."""

    event_id: str
    order_id: str
    billing_id: str
    payment_id: str
    refund_id: str | None
    outcome: str
    channel: str
    amount_fen: int
    occurred_at: datetime
    status: str
    error: str | None
    created_at: datetime
    resolved_at: datetime | None

    @classmethod
    def of(cls, d: DeferredOutcome) -> DeferredOutcomeOut:
        """From a stored deferred outcome."""
        return cls(
            event_id=str(d.event_id),
            order_id=d.order_id,
            billing_id=d.billing_id,
            payment_id=d.payment_id,
            refund_id=d.refund_id,
            outcome=d.outcome,
            channel=d.channel,
            amount_fen=d.amount_fen,
            occurred_at=d.occurred_at,
            status=d.status,
            error=d.error,
            created_at=d.created_at,
            resolved_at=d.resolved_at,
        )


class DeferredPageOut(BaseModel):
    """One page of deferred outcomes."""

    items: list[DeferredOutcomeOut]
    total: int
    limit: int
    offset: int
