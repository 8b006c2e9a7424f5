"""Genuine channel notifications for sandbox orders, built by the sandbox's channel modules.

Each channel module (`channel_sandbox.channels.<channel>`) renders the channel's real wire format
and signs it with the channel's dev private key; this module only maps a sandbox order or
refund to a `NotificationEvent` and picks the Lakala body shape by the order's origin (收银台
orders get 收银台 notifications, 聚合扫码 orders the flat labs body).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from channel_sandbox.channels import alipay, allinpay, lakala, unionpay, wechatpay
from channel_sandbox.channels.base import (
    NotificationEvent,
    Outcome,
    RefundFacts,
    SignedNotification,
)
from channel_sandbox.ids import now_s
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.store import Order, Origin, Refund

# WeChat Pay notifies payments only when they succeed (§1.5); the others notify failures too.
CHANNELS_NOTIFYING_FAILURES: Final = frozenset({"alipay", "lakala", "unionpay", "allinpay"})


class NotificationFactory:
    """Builds signed notifications for orders."""

    def __init__(self, key_sets: Mapping[str, SandboxKeySet]) -> None:
        self._keys = dict(key_sets)

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
        return self._sign(order, event)

    def refund(self, order: Order, refund: Refund) -> SignedNotification:
        """The notification of a refund that succeeded."""
        assert refund.succeeded
        # Alipay reports the cumulative refund_fee up to this refund (§3.2).
        amount_fen = (
            _cumulative_fen(order, refund) if order.channel == "alipay" else refund.amount_fen
        )
        event = NotificationEvent(
            out_trade_no=order.out_trade_no,
            channel_txn_id=order.channel_txn_id,
            amount_fen=order.amount_fen,
            outcome=Outcome.REFUNDED,
            refund=RefundFacts(
                out_refund_no=refund.out_refund_no,
                refund_id=refund.refund_id,
                amount_fen=amount_fen,
            ),
            extra_fields=_refund_extras(order, refund),
        )
        return self._sign(order, event)

    def resign(self, channel: str, signed: SignedNotification) -> SignedNotification:
        """The same body with a fresh timestamped signature (WeChat, Lakala); others unchanged."""
        keys = self._keys[channel]
        if channel == "wechatpay":
            return wechatpay.resign(keys, signed, now_s=now_s())
        if channel == "lakala":
            return lakala.resign(keys, signed, now_s=now_s())
        return signed

    def _sign(self, order: Order, event: NotificationEvent) -> SignedNotification:
        keys, at_s = self._keys[order.channel], now_s()
        match order.channel:
            case "wechatpay":
                return wechatpay.notification(keys, event, now_s=at_s)
            case "alipay":
                return alipay.notification(keys, event, now_s=at_s)
            case "lakala":
                shape: lakala.BodyShape = (
                    "labs" if order.origin is Origin.LAKALA_LABS else "cashier"
                )
                return lakala.notification(keys, event, now_s=at_s, shape=shape)
            case "unionpay":
                return unionpay.notification(keys, event, now_s=at_s)
            case "allinpay":
                return allinpay.notification(keys, event, now_s=at_s)
        raise ValueError(f"unknown channel {order.channel!r}")


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
        # [I] The labs refund notification body is undocumented (docs/channel-formats.md);
        # the sandbox names the refund in extra fields next to the documented trade_state.
        extras |= {
            "trade_state": "PART_REFUND" if partial else "REFUND",
            "refund_amount": str(refund.amount_fen),
            "out_refund_no": refund.out_refund_no,
        }
    return extras
