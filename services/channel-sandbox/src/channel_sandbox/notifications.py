"""Genuine channel notifications for sandbox orders, built by the channels' own packages.

Each channel package (`channel_sandbox.channels.<code>`) renders its real wire format and signs
it with the channel's dev private key; this module maps a sandbox order or refund to a
`NotificationEvent` and hands it to the order's channel with what its `SandboxChannel` asks
for (extra fields, options such as Lakala's body shape, cumulative refund amounts).
"""

from __future__ import annotations

from collections.abc import Mapping

from channel_sandbox.channels.base import (
    NotificationEvent,
    Outcome,
    RefundFacts,
    SignedNotification,
)
from channel_sandbox.ids import now_s
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.spec import SandboxChannels
from channel_sandbox.store import Order, Refund


class NotificationFactory:
    """Builds signed notifications for orders."""

    def __init__(self, key_sets: Mapping[str, SandboxKeySet], channels: SandboxChannels) -> None:
        self._keys = dict(key_sets)
        self._channels = channels

    def notifies_failures(self, channel: str) -> bool:
        """Whether the channel sends a notification when a payment fails."""
        return self._channels.channel(channel).notifies_failures

    def payment(self, order: Order, outcome: Outcome) -> SignedNotification:
        """The payment notification announcing `outcome` (succeeded or failed)."""
        assert outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
        event = NotificationEvent(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            outcome=outcome,
            extra_fields=self._channels.channel(order.channel).notification_fields(order, None),
        )
        return self._sign(order, event)

    def refund(self, order: Order, refund: Refund) -> SignedNotification:
        """The notification of a refund that succeeded."""
        assert refund.succeeded
        channel = self._channels.channel(order.channel)
        amount_fen = _cumulative_fen(order, refund) if channel.cumulative_refunds else None
        event = NotificationEvent(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            outcome=Outcome.REFUNDED,
            refund=RefundFacts(
                out_refund_no=refund.out_refund_no,
                refund_id=refund.refund_id,
                amount_fen=refund.amount_fen if amount_fen is None else amount_fen,
            ),
            extra_fields=channel.notification_fields(order, refund),
        )
        return self._sign(order, event)

    def resign(self, channel: str, signed: SignedNotification) -> SignedNotification:
        """The same body with a fresh timestamped signature where the channel signs each retry;
        otherwise the same bytes."""
        resign = self._channels.channel(channel).resign
        return signed if resign is None else resign(self._keys[channel], signed, now_s=now_s())

    def _sign(self, order: Order, event: NotificationEvent) -> SignedNotification:
        channel = self._channels.channel(order.channel)
        options = channel.notification_options(order)
        return channel.notification(self._keys[order.channel], event, now_s=now_s(), **options)


def _cumulative_fen(order: Order, refund: Refund) -> int:
    total = 0
    for other in order.refunds.values():  # insertion order = request order
        total += other.amount_fen if other.succeeded else 0
        if other is refund:
            return total
    raise AssertionError("refund does not belong to the order")
