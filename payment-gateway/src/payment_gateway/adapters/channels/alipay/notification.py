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

import secrets
from collections.abc import Mapping
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.alipay import protocol
from payment_gateway.adapters.channels.alipay.protocol import AlipayNotification
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    NotificationEvent,
    NotificationKind,
    Outcome,
    SignedNotification,
    VerifiedNotification,
    channel_time,
    extra_form_fields,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.money_edge import fen_to_yuan
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    FormPairs,
    HeaderView,
    normalize_charset,
)
from payment_gateway.errors import CallbackRejected

CHANNEL: Final = ChannelCode.ALIPAY
CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
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
    """Alipay notifications, both sides, bound to the alipay key set."""

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

    def sign_notification(self, event: NotificationEvent, *, now_s: int) -> SignedNotification:
        extra = extra_form_fields(event, "Alipay")
        charset = normalize_charset(extra.get("charset", "utf-8"))
        fields = {**self._fields(event, now_s), **extra, "charset": charset}
        body = protocol.sign_notification_form(
            list(fields.items()), private_key=self._keys.channel_signing_key(), charset=charset
        )
        content_type = f"{CONTENT_TYPE}; charset={charset}"
        return SignedNotification(headers={"Content-Type": content_type}, body=body)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)

    def _fields(self, event: NotificationEvent, now_s: int) -> dict[str, str]:
        stamp = channel_time(now_s).strftime(protocol.ALIPAY_TIME_FORMAT)
        amount = fen_to_yuan(event.amount_fen)
        fields = dict(self._base_fields(event, stamp))
        fields |= {
            "total_amount": amount,
            "receipt_amount": amount,
            "invoice_amount": amount,
            "buyer_pay_amount": amount,
            "point_amount": "0.00",
            "fund_bill_list": f'[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]',
        }
        return fields | _status_fields(event, stamp)

    def _base_fields(self, event: NotificationEvent, stamp: str) -> FormPairs:
        return [
            ("notify_time", stamp),
            ("notify_type", "trade_status_sync"),
            ("notify_id", secrets.token_hex(17)),
            ("app_id", self._keys.id("app_id")),
            ("auth_app_id", self._keys.id("app_id")),
            ("version", "1.0"),
            ("trade_no", event.channel_txn_id),
            ("out_trade_no", event.out_trade_no),
            ("buyer_id", "2088102177846880"),
            ("seller_id", self._keys.id("seller_id")),
            ("subject", "OTD"),
            ("gmt_create", stamp),
        ]


def _status_fields(event: NotificationEvent, stamp: str) -> dict[str, str]:
    if event.kind is NotificationKind.REFUND:
        if event.outcome is not Outcome.REFUNDED:
            raise ValueError("Alipay notifies refunds only when they succeed")
        out_refund_no, _, refund_fen = event.require_refund()
        refund = {
            "refund_fee": fen_to_yuan(refund_fen),
            "gmt_refund": stamp,
            "out_biz_no": out_refund_no,
        }
        if refund_fen >= event.amount_fen:
            return refund | {"trade_status": "TRADE_CLOSED", "gmt_close": stamp}
        return refund | {"trade_status": "TRADE_SUCCESS"}
    match event.outcome:
        case Outcome.SUCCEEDED:
            return {"trade_status": "TRADE_SUCCESS", "gmt_payment": stamp}
        case Outcome.FAILED:
            return {"trade_status": "TRADE_CLOSED", "gmt_close": stamp}
        case Outcome.PENDING:
            return {"trade_status": "WAIT_BUYER_PAY"}
        case Outcome.REFUNDED:
            raise ValueError("use kind=refund for refund notifications")
