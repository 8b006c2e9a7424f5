"""The payment state machine (one attempt to move money for a billing on one channel).

    created ──► paying ──► succeeded
       │          │  └───► failed / closed ──► succeeded   (a late VERIFIED success wins:
       │          │                                         money arrived, it is never lost)
       └──► unknown ──► paying / succeeded / failed / closed
       └──► failed (the channel refused to create the order: no money can move)
    succeeded ──► reversed   (offline payments we recorded ourselves only: a cash receipt
                              reversed by finance, a wire claim undone; never a channel's)

``unknown``: the channel did not answer when we created the order; the active query settles it.
A synchronous channel answer never makes a payment succeeded: only a verified notification or
an active query does. Refunds are their own records (refund.py); a refunded payment stays
succeeded with ``refunded_fen`` growing.
"""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from types import MappingProxyType
from typing import Final, Literal

from otd_shared.channels import ChannelCode
from payment_gateway.errors import IllegalTransition

OUT_TRADE_NO_PREFIX: Final = "P"
OUT_TRADE_NO_RANDOM_HEX: Final = 20  # 1 + 6 + 20 = 27 chars: within WeChat's 6–32, Lakala's 32
CHANNEL_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


class PaymentStatus(StrEnum):
    """Where a payment is."""

    CREATED = "created"
    PAYING = "paying"
    UNKNOWN = "unknown"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"
    REVERSED = "reversed"


OPEN_STATUSES: Final = frozenset(
    {PaymentStatus.CREATED, PaymentStatus.PAYING, PaymentStatus.UNKNOWN}
)
FINAL_STATUSES: Final = frozenset(
    {PaymentStatus.SUCCEEDED, PaymentStatus.FAILED, PaymentStatus.CLOSED, PaymentStatus.REVERSED}
)
QUERYABLE_STATUSES: Final = frozenset({PaymentStatus.PAYING, PaymentStatus.UNKNOWN})

_S = PaymentStatus
TRANSITIONS: Final[Mapping[PaymentStatus, frozenset[PaymentStatus]]] = MappingProxyType(
    {
        _S.CREATED: frozenset({_S.PAYING, _S.UNKNOWN, _S.FAILED}),
        _S.PAYING: frozenset({_S.SUCCEEDED, _S.FAILED, _S.CLOSED}),
        _S.UNKNOWN: frozenset({_S.PAYING, _S.SUCCEEDED, _S.FAILED, _S.CLOSED}),
        _S.FAILED: frozenset({_S.SUCCEEDED}),
        _S.CLOSED: frozenset({_S.SUCCEEDED}),
        _S.SUCCEEDED: frozenset({_S.REVERSED}),
        _S.REVERSED: frozenset(),
    }
)


def sources_of(target: PaymentStatus) -> frozenset[PaymentStatus]:
    """Every status from which ``target`` may be reached (the guard of an UPDATE)."""
    return frozenset(s for s, targets in TRANSITIONS.items() if target in targets)


def check_transition(current: PaymentStatus, target: PaymentStatus) -> None:
    """Raise IllegalTransition unless ``current → target`` is allowed."""
    if target not in TRANSITIONS[current]:
        raise IllegalTransition(f"payment cannot go from {current} to {target}")


def callback_outcome(status: PaymentStatus) -> Literal["succeeded", "failed"]:
    """The PaymentCallback outcome of a final status (closed unpaid counts as failed)."""
    match status:
        case PaymentStatus.SUCCEEDED:
            return "succeeded"
        case PaymentStatus.FAILED | PaymentStatus.CLOSED:
            return "failed"
        case _:
            raise ValueError(f"{status} is not a final status")


def new_out_trade_no(now: datetime) -> str:
    """Our merchant order number: ``P`` + yymmdd (Asia/Shanghai) + 20 random hex, 27 chars."""
    day = now.astimezone(CHANNEL_TZ).strftime("%y%m%d")
    return f"{OUT_TRADE_NO_PREFIX}{day}{secrets.token_hex(OUT_TRADE_NO_RANDOM_HEX // 2).upper()}"


@dataclass(frozen=True, kw_only=True)
class Payment:
    """One payment as stored."""

    payment_id: uuid.UUID
    out_trade_no: str
    billing_id: uuid.UUID
    order_id: uuid.UUID
    stage: str
    channel: ChannelCode
    method: str
    amount_fen: int
    status: PaymentStatus
    created_at: datetime
    expires_at: datetime
    currency: str = "CNY"
    channel_txn_id: str | None = None
    fee_fen: int | None = None
    refunded_fen: int = 0
    pay_params: Mapping[str, str] = field(default_factory=dict)
    failure_code: str | None = None
    failure_message: str | None = None
    completed_at: datetime | None = None
    next_query_at: datetime | None = None
    query_attempts: int = 0
    requested_by: str = ""

    def __post_init__(self) -> None:
        assert self.amount_fen > 0, "a payment moves a positive amount"
        assert 0 <= self.refunded_fen <= self.amount_fen, "refunds never exceed the payment"
