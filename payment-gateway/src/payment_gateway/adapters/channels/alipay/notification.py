"""Alipay async notifications as a `ChannelProtocol` (docs/channel-formats.md §3.2–3.4).

Status mapping (exhaustive; unknown → pending, queried later):
* TRADE_SUCCESS → payment succeeded, or refund refunded when `refund_fee` > 0 (partial refund);
* TRADE_FINISHED → payment succeeded (or refunded with `refund_fee`);
* TRADE_CLOSED → refund refunded with `refund_fee` (full refund), else payment failed (closed
  unpaid);
* WAIT_BUYER_PAY → payment pending.
Alipay sends no refund id in notifications: `out_refund_no` is `out_biz_no`,
`channel_refund_id` is None, `refund_amount_fen` is the cumulative `refund_fee`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.alipay import protocol
from payment_gateway.adapters.channels.alipay.protocol import AlipayNotification
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    NotificationKind,
    Outcome,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    HeaderView,
)
from payment_gateway.errors import CallbackRejected

CHANNEL: Final = ChannelCode.ALIPAY
_MERCHANT_ID_FIELDS: Final = ("app_id", "seller_id", "auth_app_id")


def notification_outcome(notification: AlipayNotification) -> tuple[NotificationKind, Outcome]:
    """Map trade_status (+ refund fields) to kind and outcome."""
    refund = notification.is_refund
    match notification.trade_status:
        case "TRADE_SUCCESS" | "TRADE_FINISHED" if refund:
            return NotificationKind.REFUND, Outcome.REFUNDED
        case "TRADE_SUCCESS" | "TRADE_FINISHED":
            return NotificationKind.PAYMENT, Outcome.SUCCEEDED
        case "TRADE_CLOSED" if refund:
            return NotificationKind.REFUND, Outcome.REFUNDED
        case "TRADE_CLOSED":
            return NotificationKind.PAYMENT, Outcome.FAILED
        case _:
            return NotificationKind.PAYMENT, Outcome.PENDING


def to_verified(notification: AlipayNotification) -> VerifiedNotification:
    """The channel-neutral view of a verified Alipay notification."""
    kind, outcome = notification_outcome(notification)
    fields = notification.fields
    return VerifiedNotification(
        channel=CHANNEL,
        kind=kind,
        outcome=outcome,
        channel_status=notification.trade_status,
        out_trade_no=notification.out_trade_no,
        channel_txn_id=notification.trade_no,
        amount_fen=notification.total_amount_fen,
        merchant_ids={name: fields[name] for name in _MERCHANT_ID_FIELDS if fields.get(name)},
        notification_id=notification.notify_id,
        out_refund_no=notification.out_biz_no if kind is NotificationKind.REFUND else None,
        refund_amount_fen=notification.refund_fee_fen if kind is NotificationKind.REFUND else None,
        raw_fields=dict(fields),
    )


class AlipayChannel:
    """Alipay notifications (our side), bound to the alipay key set."""

    def __init__(
        self, keys: ChannelKeySet, *, max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT
    ) -> None:
        self._keys = keys
        self._max_body_bytes = max_body_bytes

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    @property
    def expected_merchant_ids(self) -> Mapping[str, str]:
        return {"app_id": self._keys.id("app_id"), "seller_id": self._keys.id("seller_id")}

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        del now_s  # Alipay signs no timestamp; notify_id is the same on every retry
        notification = protocol.verify_notification(
            raw_body,
            content_type=HeaderView(headers).get("Content-Type"),
            alipay_public_key=self._keys.channel_public_key,
            max_body_bytes=self._max_body_bytes,
        )
        return to_verified(notification)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)
