"""Domain events of billing-service: plain frozen dataclasses, named like the Kafka events.

The service layer maps each to its ``otd_shared.events`` payload inside the outbox
transaction. Events without a shared payload yet (BillingReopened, BillingAmountChanged,
BillingCancelled, BillingReminderDue) are recorded all the same; the outbox mapper decides
which ones go to Kafka. ``stage`` is one of ``intent``, ``firm``, ``final``, ``service``,
``installment``, ``payoff``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, kw_only=True)
class BillingEvent:
    """Base of every event: the order it belongs to (the partition key) and when it happened."""

    order_id: str
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        """The event's name on the wire, e.g. ``"BillingPaid"``."""
        return type(self).__name__


@dataclass(frozen=True, kw_only=True)
class FundOrderOpened(BillingEvent):
    """The fund order and its billings exist for a new vehicle or service order."""

    fund_order_id: str
    customer_id: str
    price_fen: int
    billing_ids: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class BillingDue(BillingEvent):
    """A billing fell due and is pushed to the customer.

    ``outstanding_fen`` is what the billing still lacks; ``customer_payable_fen`` is the
    part the customer must pay now (the outstanding amount minus a loan still expected).
    """

    billing_id: str
    customer_id: str
    stage: str
    amount_fen: int
    outstanding_fen: int
    customer_payable_fen: int
    due_at: datetime


@dataclass(frozen=True, kw_only=True)
class BillingPaid(BillingEvent):
    """A due billing's payments reached its amount (again, after a BillingReopened)."""

    billing_id: str
    stage: str
    amount_fen: int
    paid_fen: int


@dataclass(frozen=True, kw_only=True)
class BillingReopened(BillingEvent):
    """A refund or a higher amount took a paid billing below its amount again."""

    billing_id: str
    stage: str
    amount_fen: int
    paid_fen: int


@dataclass(frozen=True, kw_only=True)
class BillingOverpaid(BillingEvent):
    """Payments exceed the billing; ``overpaid_fen`` is the credit owed to the customer."""

    billing_id: str
    stage: str
    amount_fen: int
    paid_fen: int
    overpaid_fen: int
    payment_id: str | None


@dataclass(frozen=True, kw_only=True)
class RefundRequested(BillingEvent):
    """Money must go back to the customer through ``payment_id``'s channel."""

    billing_id: str
    stage: str
    refund_request_id: str
    payment_id: str
    channel: str
    amount_fen: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class BillingAmountChanged(BillingEvent):
    """A billing's amount or its self-pay part changed (repricing, loan decision)."""

    billing_id: str
    stage: str
    amount_fen: int
    previous_amount_fen: int
    self_pay_fen: int
    previous_self_pay_fen: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class BillingCancelled(BillingEvent):
    """The order was cancelled: ``retained_fen`` is kept under the deposit policy, and
    ``refund_fen`` goes back to the customer (see the RefundRequested that follow)."""

    billing_id: str
    stage: str
    paid_fen: int
    retained_fen: int
    refund_fen: int
    reason: str


@dataclass(frozen=True, kw_only=True)
class BillingReminderDue(BillingEvent):
    """An unpaid billing reached step ``step`` (1-based) of its reminder schedule."""

    billing_id: str
    customer_id: str
    stage: str
    schedule: str
    step: int
    due_at: datetime
    remind_at: datetime
    customer_payable_fen: int


@dataclass(frozen=True, kw_only=True)
class BillingScheduled(BillingEvent):
    """An installment of a lease exists: payable from ``payable_from``, due at ``due_at``."""

    billing_id: str
    customer_id: str
    stage: str
    installment_no: int
    amount_fen: int
    due_at: datetime
    payable_from: datetime


@dataclass(frozen=True, kw_only=True)
class InstallmentOverdue(BillingEvent):
    """A due installment is still unpaid after the grace period (pushed to the app backend)."""

    billing_id: str
    customer_id: str
    installment_no: int
    due_at: datetime
    overdue_at: datetime
    outstanding_fen: int
