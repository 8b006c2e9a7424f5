"""What a test wants a channel to announce, and the channel sandbox that announces it.

The gateway verifies notifications; it never builds or signs them. Tests describe the
announcement in the gateway's words (`NotificationEvent`: a payment or a refund of one, its
outcome and amounts) and the channel sandbox's own modules (`channel_sandbox.channels.<code>`,
written once from docs/channel-formats.md) render and sign it with the channel key, so a
wrong field order, charset or yuan rounding on our side fails against the other side.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from channel_sandbox.channels import base as sandbox_wire
from channel_sandbox.channels.base import SignedNotification as SignedNotification
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome


@dataclass(frozen=True, kw_only=True)
class NotificationEvent:
    """What a test wants a channel to announce; the sandbox maps it to the channel's fields.

    `extra_fields` are merged last into the channel's top-level fields (the decrypted resource
    for WeChat), so a test can set anything the channel format has.
    """

    out_trade_no: str
    channel_txn_id: str
    amount_fen: int
    kind: NotificationKind = NotificationKind.PAYMENT
    outcome: Outcome = Outcome.SUCCEEDED
    out_refund_no: str | None = None
    channel_refund_id: str | None = None
    refund_amount_fen: int | None = None
    extra_fields: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        is_refund = self.kind is NotificationKind.REFUND
        if is_refund and self.outcome not in (Outcome.REFUNDED, Outcome.FAILED):
            raise ValueError("refund events are either refunded or failed")
        if not is_refund and self.outcome is Outcome.REFUNDED:
            raise ValueError("payment events are never refunded; use kind=refund")
        if self.amount_fen < 0 or (self.refund_amount_fen or 0) < 0:
            raise ValueError("event amounts are never negative")

    def require_refund(self) -> tuple[str, str, int]:
        """(out_refund_no, channel_refund_id, refund_amount_fen) of a refund event."""
        if (
            self.out_refund_no is None
            or self.channel_refund_id is None
            or self.refund_amount_fen is None
        ):
            raise ValueError(
                "refund events need out_refund_no, channel_refund_id, refund_amount_fen"
            )
        return self.out_refund_no, self.channel_refund_id, self.refund_amount_fen


def refunded_event(
    paid: Mapping[str, Any],
    refund: Mapping[str, Any],
    *,
    channel_refund_id: str,
    refund_amount_fen: int,
) -> NotificationEvent:
    """The channel's announcement that ``refund`` (as the refund API answers it) of the
    payment ``paid`` (as ``Harness.paid`` returns it) went through."""
    return NotificationEvent(
        kind=NotificationKind.REFUND,
        outcome=Outcome.REFUNDED,
        out_trade_no=paid["out_trade_no"],
        channel_txn_id=paid["channel_txn_id"],
        amount_fen=paid["amount_fen"],
        out_refund_no=refund["out_refund_no"],
        channel_refund_id=channel_refund_id,
        refund_amount_fen=refund_amount_fen,
    )


def sandbox_event(event: NotificationEvent) -> sandbox_wire.NotificationEvent:
    """The same announcement in the sandbox's vocabulary (no signing code is shared)."""
    refund = None
    if event.kind is NotificationKind.REFUND:
        out_refund_no, refund_id, refund_fen = event.require_refund()
        refund = sandbox_wire.RefundFacts(
            out_refund_no=out_refund_no, refund_id=refund_id, amount_fen=refund_fen
        )
    return sandbox_wire.NotificationEvent(
        out_trade_no=event.out_trade_no,
        channel_txn_id=event.channel_txn_id,
        amount_fen=event.amount_fen,
        outcome=sandbox_wire.Outcome(event.outcome.value),
        refund=refund,
        extra_fields=event.extra_fields,
    )


__all__ = ["NotificationEvent", "SignedNotification", "refunded_event", "sandbox_event"]
