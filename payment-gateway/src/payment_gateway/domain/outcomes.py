"""What a channel said about a payment or refund, in our words, and what we do about it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from payment_gateway.domain.payment import PaymentStatus


class ChannelOutcome(StrEnum):
    """A channel's answer, channel-neutral. ``unknown``: no usable answer (timeout, 5xx)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"
    PENDING = "pending"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


class RefundOutcome(StrEnum):
    """A channel's answer about a refund."""

    PROCESSING = "processing"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    NOT_FOUND = "not_found"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class QueryDecision:
    """What an active query result means for an open payment."""

    target: PaymentStatus | None
    close_at_channel: bool = False
    query_again: bool = True


def decide_after_query(
    status: PaymentStatus, outcome: ChannelOutcome, *, now: datetime, expires_at: datetime
) -> QueryDecision:
    """Exhaustive: verified outcomes settle the payment; pending/unknown wait (or expire)."""
    expired = now >= expires_at
    match outcome:
        case ChannelOutcome.SUCCEEDED:
            return QueryDecision(PaymentStatus.SUCCEEDED, query_again=False)
        case ChannelOutcome.FAILED:
            return QueryDecision(PaymentStatus.FAILED, query_again=False)
        case ChannelOutcome.CLOSED:
            return QueryDecision(PaymentStatus.CLOSED, query_again=False)
        case ChannelOutcome.PENDING if expired:
            return QueryDecision(None, close_at_channel=True)
        case ChannelOutcome.PENDING:
            target = PaymentStatus.PAYING if status is PaymentStatus.UNKNOWN else None
            return QueryDecision(target)
        case ChannelOutcome.NOT_FOUND if expired or status is PaymentStatus.UNKNOWN:
            # The order never reached the channel (or nobody opened it before it expired):
            # no money can move for it any more.
            return QueryDecision(PaymentStatus.CLOSED, query_again=False)
        case ChannelOutcome.NOT_FOUND | ChannelOutcome.UNKNOWN:
            return QueryDecision(None)


def next_query_delay_s(attempts: int, *, min_s: float, max_s: float) -> float:
    """Back-off between active queries: min, 2×, 4×, ... capped at ``max_s``."""
    assert attempts >= 0
    return float(min(min_s * (2 ** min(attempts, 30)), max_s))


def next_query_at(now: datetime, attempts: int, *, min_s: float, max_s: float) -> datetime:
    """When to query next after ``attempts`` queries."""
    return now + timedelta(seconds=next_query_delay_s(attempts, min_s=min_s, max_s=max_s))
