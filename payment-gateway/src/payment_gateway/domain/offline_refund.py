"""Offline refunds: money owed back that no channel returns by itself, paid out by people.

A refund becomes ``manual`` (domain/refund.py) when its payment was recorded by us (cash,
wire; POS swipes go back through the acquirer's refund call), when no gateway payment is
named, or when the channel cannot send it. Each manual refund gets one queue item here, with
an owner from the start, and finance (or the store's cashier for cash) pays it out::

    open ──complete──► completed                      (at or below the approval threshold)
      │  └──complete──► pending_approval ──approve──► completed
      │                        └──reject──► open      (the payout reference is cleared)
      └──assign──► open (another owner)

Only ``completed`` moves money: the refund becomes ``succeeded`` and the usual refund
PaymentCallback is emitted, so billing, the ledger and recon follow.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Final

from otd_shared.channels import ChannelCode
from otd_shared.events import PayoutVia

FINANCE_QUEUE: Final = "finance"
STORE_QUEUE_PREFIX: Final = "store:"
OWNER_CHARS_MAX: Final = 64
REFERENCE_CHARS_MAX: Final = 64


class OfflineRefundStatus(StrEnum):
    """Where a queued refund is."""

    OPEN = "open"
    PENDING_APPROVAL = "pending_approval"
    COMPLETED = "completed"


class PayoutMethod(StrEnum):
    """How the money went back: a transfer from our bank account, or cash at the store's till."""

    BANK_TRANSFER = "bank_transfer"
    CASH = "cash"


def payout_method_for(channel: ChannelCode | None) -> PayoutMethod:
    """A cash payment is paid back at the till it was paid into; everything else by transfer
    (the ledger books cash refunds against ``cash:<store>`` and the others against the bank)."""
    return PayoutMethod.CASH if channel == "cash" else PayoutMethod.BANK_TRANSFER


def payout_via(method: PayoutMethod) -> PayoutVia:
    """PaymentCallback's ``payout_via`` for a payout: the money left the bank or the till."""
    return PayoutVia.TILL if method is PayoutMethod.CASH else PayoutVia.BANK_TRANSFER


def first_owner(method: PayoutMethod, store_id: str | None) -> str:
    """Who owns a new item: the store's cashiers for a cash payout, else the finance queue."""
    if method is PayoutMethod.CASH and store_id:
        return f"{STORE_QUEUE_PREFIX}{store_id}"
    return FINANCE_QUEUE


def needs_second_approver(amount_fen: int, threshold_fen: int) -> bool:
    """Payouts above the threshold wait for a finance-approver other than who recorded it."""
    return amount_fen > threshold_fen


@dataclass(frozen=True, kw_only=True)
class OfflineRefund:
    """One queued refund as stored."""

    offline_refund_id: uuid.UUID
    refund_id: uuid.UUID
    refund_request_id: str | None
    order_id: uuid.UUID
    billing_id: uuid.UUID
    payment_id: uuid.UUID | None
    payment_ref: str | None
    channel: str
    amount_fen: int
    reason: str
    status: OfflineRefundStatus
    owner: str
    payout_method: PayoutMethod
    store_id: str | None
    created_at: datetime
    bank_reference: str | None = None
    cash_voucher_no: str | None = None
    submitted_by: str | None = None
    submitted_at: datetime | None = None
    approved_by: str | None = None
    rejected_by: str | None = None
    reject_reason: str | None = None
    completed_by: str | None = None
    completed_at: datetime | None = None
    closed_reason: str | None = None

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a refund returns a positive amount"

    @property
    def reference(self) -> str | None:
        """The payout's reference: the bank's transfer reference or the till's voucher."""
        if self.payout_method is PayoutMethod.CASH:
            return self.cash_voucher_no
        return self.bank_reference
