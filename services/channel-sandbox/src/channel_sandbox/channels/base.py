"""The sandbox's channel-neutral notification vocabulary (no channel rule lives here)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum


class Outcome(StrEnum):
    """What a notification announces about its subject."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    PENDING = "pending"


class Kind(StrEnum):
    """The subject of a notification."""

    PAYMENT = "payment"
    REFUND = "refund"


class RequestRejected(Exception):
    """A merchant request whose signature or form the channel refuses (reason is loggable)."""


@dataclass(frozen=True)
class SignedNotification:
    """A notification as the channel POSTs it: headers and the exact body bytes."""

    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, kw_only=True)
class RefundFacts:
    """The refund a refund notification announces."""

    out_refund_no: str
    refund_id: str
    amount_fen: int  # this refund (Alipay: the cumulative refund_fee up to it)


@dataclass(frozen=True, kw_only=True)
class NotificationEvent:
    """What the sandbox wants a channel to announce; each channel renders its own fields.

    `extra_fields` are merged last into the channel's top-level fields (the decrypted resource
    for WeChat), so a scenario can set anything the channel format has.
    """

    out_trade_no: str
    channel_txn_id: str
    amount_fen: int
    outcome: Outcome = Outcome.SUCCEEDED
    refund: RefundFacts | None = None
    extra_fields: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.amount_fen < 0 or (self.refund is not None and self.refund.amount_fen < 0):
            raise ValueError("amounts are never negative")
        if self.refund is not None and self.outcome not in (Outcome.REFUNDED, Outcome.FAILED):
            raise ValueError("refund events are refunded or failed")
        if self.refund is None and self.outcome is Outcome.REFUNDED:
            raise ValueError("a refunded event needs its refund")

    @property
    def kind(self) -> Kind:
        return Kind.REFUND if self.refund is not None else Kind.PAYMENT

    def text_extras(self, channel: str) -> dict[str, str]:
        """`extra_fields` of a form channel (forms carry text only)."""
        fields: dict[str, str] = {}
        for name, value in self.extra_fields.items():
            if not isinstance(value, str):
                raise TypeError(f"{channel} form field {name!r} must be a string")
            fields[name] = value
        return fields


@dataclass(frozen=True, kw_only=True)
class ReadNotification:
    """A notification as the merchant reads it after checking its signature (test kit)."""

    channel: str
    kind: Kind
    outcome: Outcome
    channel_status: str
    out_trade_no: str
    channel_txn_id: str
    amount_fen: int
    notification_id: str | None = None
    out_refund_no: str | None = None
    refund_amount_fen: int | None = None
    fields: Mapping[str, object] = field(default_factory=dict)


def read_terminal_result(
    channel: str,
    fields: Mapping[str, str],
    *,
    is_refund: bool,
    success: bool,
    status: str,
    order_no: str,
    payment_id: str,
    amount_fen: int,
) -> ReadNotification:
    """A UnionPay/Allinpay-style result: a refund names the refund request in `order_no`."""
    if is_refund:
        kind, outcome = Kind.REFUND, Outcome.REFUNDED if success else Outcome.FAILED
    else:
        kind, outcome = Kind.PAYMENT, Outcome.SUCCEEDED if success else Outcome.FAILED
    return ReadNotification(
        channel=channel,
        kind=kind,
        outcome=outcome,
        channel_status=status,
        out_trade_no=order_no,
        channel_txn_id=payment_id,
        amount_fen=amount_fen,
        out_refund_no=order_no if is_refund else None,
        refund_amount_fen=amount_fen if is_refund else None,
        fields=dict(fields),
    )
