"""Genuine channel notifications for sandbox orders, built by the gateway's channel protocol layer.

Each channel's `ChannelProtocol.sign_notification` (payment_gateway.adapters.channels) produces
the real wire format signed with the channel's dev private key; this module only maps a sandbox
order or refund to a `NotificationEvent` and picks the Lakala body shape by the order's origin
(收银台 orders get 收银台 notifications, 聚合扫码 orders the flat labs body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from channel_sandbox.ids import now_s
from channel_sandbox.store import Order, Origin, Refund
from payment_gateway.adapters.channels.contract import (
    ChannelProtocol,
    NotificationEvent,
    NotificationKind,
    Outcome,
    SignedNotification,
)
from payment_gateway.adapters.channels.keys import ChannelKeySet
from payment_gateway.adapters.channels.lakala import protocol as lakala_protocol
from payment_gateway.adapters.channels.lakala.notification import LakalaChannel
from payment_gateway.adapters.channels.registry import build_channel_protocol
from payment_gateway.adapters.channels.wechatpay import protocol as wechatpay_protocol

# WeChat Pay notifies payments only when they succeed (§1.5); the others notify failures too.
CHANNELS_NOTIFYING_FAILURES: Final = frozenset({"alipay", "lakala", "unionpay", "allinpay"})


class NotificationFactory:
    """Builds signed notifications for orders; one protocol object per channel and shape."""

    def __init__(self, key_sets: Mapping[str, ChannelKeySet]) -> None:
        self._keys = dict(key_sets)
        self._protocols: dict[str, ChannelProtocol] = {
            channel: build_channel_protocol(channel, keys) for channel, keys in key_sets.items()
        }
        lakala_keys = key_sets["lakala"]
        self._lakala_labs = LakalaChannel(lakala_keys, notify_format="labs")
        self._lakala_cashier = LakalaChannel(lakala_keys, notify_format="cashier")

    @staticmethod
    def notifies_failures(channel: str) -> bool:
        """Whether the channel sends a notification when a payment fails."""
        return channel in CHANNELS_NOTIFYING_FAILURES

    def payment(self, order: Order, outcome: Outcome) -> SignedNotification:
        """The payment notification announcing `outcome` (succeeded or failed)."""
        assert outcome in (Outcome.SUCCEEDED, Outcome.FAILED)
        event = NotificationEvent(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            outcome=outcome,
            extra_fields=_payment_extras(order),
        )
        return self._protocol_for(order).sign_notification(event, now_s=now_s())

    def refund(self, order: Order, refund: Refund) -> SignedNotification:
        """The notification of a refund that succeeded."""
        assert refund.succeeded
        # Alipay reports the cumulative refund_fee up to this refund (§3.2).
        refund_fen = self._cumulative_fen(order, refund) if order.channel == "alipay" else None
        event = NotificationEvent(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            kind=NotificationKind.REFUND,
            outcome=Outcome.REFUNDED,
            out_refund_no=refund.out_refund_no,
            channel_refund_id=refund.refund_id,
            refund_amount_fen=refund_fen if refund_fen is not None else refund.amount_fen,
            extra_fields=_refund_extras(order, refund),
        )
        return self._protocol_for(order).sign_notification(event, now_s=now_s())

    def resign(self, channel: str, signed: SignedNotification) -> SignedNotification:
        """The same body with a fresh timestamped signature (WeChat, Lakala); others unchanged."""
        headers = dict(signed.headers)
        keys = self._keys[channel]
        if channel == "wechatpay":
            fresh = wechatpay_protocol.sign_message_headers(
                signed.body,
                private_key=keys.channel_signing_key(),
                serial=keys.id("serial"),
                now_s=now_s(),
            )
            return SignedNotification(headers={**headers, **fresh}, body=signed.body)
        if channel == "lakala":
            headers["Authorization"] = lakala_protocol.build_notification_authorization(
                signed.body, private_key=keys.channel_signing_key(), now_s=now_s()
            )
            return SignedNotification(headers=headers, body=signed.body)
        return signed

    def _protocol_for(self, order: Order) -> ChannelProtocol:
        if order.origin is Origin.LAKALA_LABS:
            return self._lakala_labs
        if order.origin is Origin.LAKALA_CASHIER:
            return self._lakala_cashier
        return self._protocols[order.channel]

    @staticmethod
    def _cumulative_fen(order: Order, refund: Refund) -> int:
        total = 0
        for other in order.refunds.values():  # insertion order = request order
            total += other.amount_fen if other.succeeded else 0
            if other is refund:
                return total
        raise AssertionError("refund does not belong to the order")


def _payment_extras(order: Order) -> dict[str, object]:
    if order.origin is Origin.LAKALA_LABS:
        return {
            "account_type": str(order.request.get("account_type", "WECHAT")),
            "acc_trade_no": str(order.request.get("acc_trade_no", "")),
        }
    if order.channel == "alipay" and order.request.get("subject"):
        return {"subject": str(order.request["subject"])}
    return {}


def _refund_extras(order: Order, refund: Refund) -> dict[str, object]:
    extras = _payment_extras(order)
    if order.origin is Origin.LAKALA_LABS:
        partial = order.refunded_fen < order.amount_fen
        # [I] The labs refund notification body is undocumented (CHANNEL-FORMATS.md App. C);
        # the sandbox names the refund in extra fields next to the documented trade_state.
        extras |= {
            "trade_state": "PART_REFUND" if partial else "REFUND",
            "refund_amount": str(refund.amount_fen),
            "out_refund_no": refund.out_refund_no,
        }
    return extras
