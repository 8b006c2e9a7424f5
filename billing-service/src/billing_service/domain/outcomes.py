"""Verified payment outcomes as billing applies them, and the result of applying one.

The service layer builds them from PaymentCallback events (and from LoanDisbursed). Each
is idempotent by its id: a success or failure by ``payment_id``, a refund by ``refund_id``
(a payment may be refunded in several parts, so ``payment_id`` alone cannot identify one).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from billing_service.domain.events import BillingEvent
from otd_shared.channels import ChannelCode

# The cluster's one list of channel codes (otd_shared.channels); billing keeps its old name.
Channel = ChannelCode


@dataclass(frozen=True, kw_only=True)
class PaymentSucceeded:
    """Money arrived for a billing."""

    payment_id: str
    channel: Channel
    amount_fen: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class PaymentFailed:
    """A payment attempt definitely failed; no money moved."""

    payment_id: str
    channel: Channel
    at: datetime


@dataclass(frozen=True, kw_only=True)
class PaymentRefunded:
    """Money of an earlier successful payment went back to the customer."""

    payment_id: str
    refund_id: str
    amount_fen: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class PaymentCorrected:
    """Finance accepted the channel's figure for a payment (the gateway corrected it): it
    now counts ``amount_fen``, where it counted ``counted_before_fen`` (0: it had not
    succeeded). Idempotent by state: a payment already at ``amount_fen`` is a duplicate."""

    payment_id: str
    channel: Channel
    counted_before_fen: int
    amount_fen: int
    at: datetime


@dataclass(frozen=True, kw_only=True)
class RefundReduced:
    """Finance accepted the channel's figure for a refund billing applied: the channel refunded
    ``amount_fen`` less than it (the gateway shrank refund ``refund_id``), so that much of the
    payment is ours again. Recorded once, under ``correction_id``."""

    payment_id: str
    refund_id: str
    correction_id: str
    amount_fen: int
    at: datetime


PaymentOutcome = (
    PaymentSucceeded | PaymentFailed | PaymentRefunded | PaymentCorrected | RefundReduced
)


class ApplyStatus(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # seen before with the same facts: nothing changed
    DEFERRED = "deferred"  # a refund before its payment's success: park it, retry later


@dataclass(frozen=True)
class ApplyResult:
    """What applying one outcome did, and the events it recorded."""

    status: ApplyStatus
    events: tuple[BillingEvent, ...] = ()
