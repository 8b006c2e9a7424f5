"""Refunds: their own records, one per request, several (partial) per payment.

    requested ──► processing ──► succeeded
        │   └───► unknown ──► processing / succeeded / failed
        └───────► failed ──► succeeded          (a late verified success wins)
    manual: no channel can return the money (cash, wire, POS, unknown payment); queued in the
    offline refunds queue (domain/offline_refund.py) and paid out by people, which alone
    makes it succeeded (never a channel notification or query).

``requested`` means recorded and not yet sent to the channel (the scheduler sends it); as with
payments, the channel's synchronous answer never makes a refund succeeded: a verified
notification or an active query does.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.domain.payment import CHANNEL_TZ
from payment_gateway.errors import IllegalTransition

OUT_REFUND_NO_PREFIX: Final = "R"
REFUND_REASON_LEN_MAX: Final = 80  # WeChat `reason` is at most 80 characters


class RefundStatus(StrEnum):
    """Where a refund is."""

    REQUESTED = "requested"
    PROCESSING = "processing"
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    MANUAL = "manual"


_R = RefundStatus
TRANSITIONS: Final[Mapping[RefundStatus, frozenset[RefundStatus]]] = MappingProxyType(
    {
        _R.REQUESTED: frozenset({_R.PROCESSING, _R.UNKNOWN, _R.FAILED, _R.SUCCEEDED, _R.MANUAL}),
        # → manual: an acquirer refused a POS refund; finance pays it back (offline queue)
        _R.PROCESSING: frozenset({_R.SUCCEEDED, _R.FAILED, _R.MANUAL}),
        _R.UNKNOWN: frozenset({_R.PROCESSING, _R.SUCCEEDED, _R.FAILED, _R.MANUAL}),
        _R.FAILED: frozenset({_R.SUCCEEDED}),
        _R.SUCCEEDED: frozenset(),
        # Left by a payout (RefundRepository.pay_out_manual), or by the channel's verified
        # refund notification: it refunded after all (a refund sent, then unknown, with no
        # query to tell), and its queue item closes so nobody pays it out again.
        _R.MANUAL: frozenset({_R.SUCCEEDED}),
    }
)
OPEN_STATUSES: Final = frozenset({_R.REQUESTED, _R.PROCESSING, _R.UNKNOWN})
QUERYABLE_STATUSES: Final = frozenset({_R.PROCESSING, _R.UNKNOWN})


def sources_of(target: RefundStatus) -> frozenset[RefundStatus]:
    """Every status from which ``target`` may be reached (the guard of an UPDATE)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def check_transition(current: RefundStatus, target: RefundStatus) -> None:
    """Raise IllegalTransition unless ``current → target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"refund cannot go from {current} to {target}")


def new_out_refund_no(now: datetime) -> str:
    """Our refund number: ``R`` + yymmdd (Asia/Shanghai) + 20 random hex, 27 chars."""
    day = now.astimezone(CHANNEL_TZ).strftime("%y%m%d")
    return f"{OUT_REFUND_NO_PREFIX}{day}{secrets.token_hex(10).upper()}"


@dataclass(frozen=True, kw_only=True)
class Refund:
    """One refund as stored."""

    refund_id: uuid.UUID
    out_refund_no: str
    payment_id: uuid.UUID | None
    billing_id: uuid.UUID
    order_id: uuid.UUID
    channel: ChannelCode | None  # None: a manual refund of no known payment
    amount_fen: int
    reason: str
    status: RefundStatus
    created_at: datetime
    refund_request_id: str | None = None
    channel_refund_id: str | None = None
    failure_reason: str | None = None
    requested_by: str = ""
    completed_at: datetime | None = None
    next_query_at: datetime | None = None
    query_attempts: int = 0

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a refund returns a positive amount"


def reserved_fen(refunds: Iterable[Refund]) -> int:
    """What earlier refunds of a payment take (all but failed ones)."""
    return sum(r.amount_fen for r in refunds if r.status is not RefundStatus.FAILED)


def refundable_fen(payment_amount_fen: int, refunds: Iterable[Refund]) -> int:
    """What is left to refund of a payment."""
    return payment_amount_fen - reserved_fen(refunds)
