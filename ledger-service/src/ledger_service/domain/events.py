"""Inputs of the posting rules: plain dataclasses, one per kind of money movement.

They are not the Kafka payload classes (`otd_shared.events.payloads`); the consumer maps each
payload to one of these, adding what the ledger needs and the event lacks (e.g. the bank account a
channel settles into, from configuration). `event_id` becomes the journal's `source_id`, so use
the envelope's event id: a redelivered event then posts nothing new. `occurred_at` is the business
timestamp of the payload (``completed_at``, ``received_at``, ``delivered_at``…), timezone-aware UTC;
the journal's business date is its Asia/Shanghai date.

Mapping from Kafka (see `rules` for the journals):

    PaymentCallback outcome=succeeded   → PaymentSucceeded
    PaymentCallback outcome=refunded    → RefundSucceeded
    RefundRequested                     → RefundOwed
    LoanDisbursed                       → LoanDisbursed
    ReconCompleted (settled/fee totals) → SettlementReported  (+ bank account from config)
    WireReceived                        → WireReceived
    WireClaimed                         → WireClaimed
    cash statement deposit line         → CashDeposited
    OrderDelivered                      → OrderDelivered       (+ the order's deposit balance)
    ServiceOrderCompleted               → ServiceCompleted     (+ the service order's balance)
    DiscrepancyResolved                 → ReconAdjusted
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from ledger_service.domain.chart import Channel
from ledger_service.domain.money import DEFAULT_CURRENCY
from otd_shared.channels import PayoutVia as PayoutVia  # RefundSucceeded.payout_via


@dataclass(frozen=True, kw_only=True)
class PaymentSucceeded:
    """A verified successful payment of `amount_fen` for an order on a channel.

    `fee_fen` is informational: fees are booked from the settlement statement, which is
    authoritative, so a fee known at callback time is not posted twice.
    """

    event_id: str
    order_id: str
    channel: Channel
    amount_fen: int
    occurred_at: datetime
    fee_fen: int | None = None
    payment_id: str | None = None
    store_id: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class RefundSucceeded:
    """A refund that has left our hands: returned by the channel, or paid out by us.

    Without `payout_via` (or `channel`): online/POS channels refund through the channel; cash
    refunds leave the store's till (`store_id`), wire and loan refunds leave our bank account
    (`bank_account_id`). The offline refunds queue says how it paid: `bank_transfer` leaves
    the bank account, `till` the till of `store_id`, whatever the payment's channel.
    """

    event_id: str
    order_id: str
    channel: Channel
    amount_fen: int
    occurred_at: datetime
    refund_id: str | None = None
    store_id: str | None = None
    bank_account_id: str | None = None
    payout_via: PayoutVia | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class RefundOwed:
    """Billing decided money goes back to the customer (cancellation, overpayment).

    `channel` is the channel the refund will go out on; None when not yet known.
    """

    event_id: str
    order_id: str
    amount_fen: int
    occurred_at: datetime
    channel: Channel | None = None
    refund_request_id: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class LoanDisbursed:
    """The lender's notice that loan principal for an order has been disbursed to us."""

    event_id: str
    order_id: str
    loan_order_id: str
    amount_fen: int
    occurred_at: datetime
    bank_reference: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class SettlementReported:
    """A channel's settlement of one statement day into our bank account.

    `gross_fen` is what the channel collected for us (may be negative when refunds exceed
    payments), `fee_fen` what it kept (may be negative: fee refunds); the bank receives
    ``gross_fen - fee_fen``.
    """

    event_id: str
    channel: Channel
    statement_date: date
    gross_fen: int
    fee_fen: int
    bank_account_id: str
    occurred_at: datetime
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class WireReceived:
    """A bank transfer arrived on our account; `matched_order_id` when identified on arrival."""

    event_id: str
    wire_id: str
    bank_account_id: str
    amount_fen: int
    occurred_at: datetime
    matched_order_id: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class WireClaimed:
    """A cashier confirmed an unidentified wire as a payment for an order."""

    event_id: str
    wire_id: str
    order_id: str
    amount_fen: int
    occurred_at: datetime
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class PaymentReversed:
    """An offline payment we recorded is taken back (cash receipt reversed, wire unclaimed).

    The money did not leave: a reversed cash receipt leaves the store's till, an unclaimed
    wire goes back to suspense until it is claimed again.
    """

    event_id: str
    order_id: str
    channel: Channel
    amount_fen: int
    occurred_at: datetime
    payment_id: str | None = None
    reversal_id: str | None = None
    store_id: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class CashDeposited:
    """A store's cash taken to the bank and credited to our account."""

    event_id: str
    store_id: str
    bank_account_id: str
    amount_fen: int
    occurred_at: datetime
    deposit_id: str | None = None
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class ServiceCompleted:
    """A post-delivery service order was completed; its deposit balance becomes revenue.

    `order_id` is the service order's own id (its deposits account), `service_kind` picks the
    revenue account. The consumer reads the balance in the same transaction, as for delivery.
    """

    event_id: str
    order_id: str
    service_kind: str
    occurred_at: datetime
    deposit_balance_fen: int
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class OrderDelivered:
    """The car was handed over; `deposit_balance_fen` is the order's deposit (credit) balance.

    The consumer reads the balance from the ledger in the same transaction before proposing.
    """

    event_id: str
    order_id: str
    occurred_at: datetime
    deposit_balance_fen: int
    currency: str = DEFAULT_CURRENCY


@dataclass(frozen=True, kw_only=True)
class ReconAdjusted:
    """An approved adjustment (调差) of the money a channel holds for us.

    `adjustment_fen` > 0: the channel holds more than we recorded (长款, channel-only);
    < 0: less (短款, internal-only). Cash needs `store_id`, wire needs `bank_account_id`.
    """

    event_id: str
    discrepancy_id: str
    channel: Channel
    adjustment_fen: int
    occurred_at: datetime
    reason: str
    kind: str = ""
    order_id: str | None = None
    store_id: str | None = None
    bank_account_id: str | None = None
    currency: str = DEFAULT_CURRENCY


LedgerEvent = (
    PaymentSucceeded
    | PaymentReversed
    | RefundSucceeded
    | RefundOwed
    | LoanDisbursed
    | SettlementReported
    | WireReceived
    | WireClaimed
    | CashDeposited
    | OrderDelivered
    | ServiceCompleted
    | ReconAdjusted
)
