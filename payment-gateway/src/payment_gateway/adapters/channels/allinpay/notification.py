"""Allinpay 收银宝 notifications as a `ChannelProtocol` (docs/channel-formats.md §6.1).

Status mapping (the code table is not verified in our sources, App. C; these follow the
Allinpay 收银宝 docs): `trxstatus` 0000 → succeeded; 2000 / 2008 (处理中) → pending; any code
starting with 3 (交易失败) → failed; anything else → pending (queried later).

`trxcode` decides the kind [I]: 撤销/退货 codes VSP502, VSP503 (WeChat), VSP512, VSP513 (Alipay),
VSP552, VSP553 (UnionPay QR), VSP002, VSP003 (card) are refunds; every other code is a payment.
`cusorderid` is our order number (`reqsn` of the unified order).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.allinpay import protocol
from payment_gateway.adapters.channels.allinpay.protocol import AllinpayNotification
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    NotificationKind,
    Outcome,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.wire_format import BODY_SIZE_MAX_BYTES_DEFAULT
from payment_gateway.errors import CallbackRejected

CHANNEL: Final = ChannelCode.ALLINPAY
REFUND_TRXCODES: Final = frozenset(
    {"VSP502", "VSP503", "VSP512", "VSP513", "VSP552", "VSP553", "VSP002", "VSP003"}
)
PENDING_TRXSTATUS: Final = frozenset({"2000", "2008"})
_REFERENCE_FIELDS: Final = ("chnltrxid", "trxcode", "trxdate", "paytime", "termno", "srctrxid")


def trxstatus_outcome(trxstatus: str, kind: NotificationKind) -> Outcome:
    """Map `trxstatus` for a payment or refund."""
    if trxstatus == "0000":
        return Outcome.REFUNDED if kind is NotificationKind.REFUND else Outcome.SUCCEEDED
    if trxstatus in PENDING_TRXSTATUS:
        return Outcome.PENDING
    if trxstatus.startswith("3"):
        return Outcome.FAILED
    return Outcome.PENDING


def to_verified(notification: AllinpayNotification) -> VerifiedNotification:
    """The channel-neutral view of a verified Allinpay notification."""
    is_refund = notification.trxcode in REFUND_TRXCODES
    kind = NotificationKind.REFUND if is_refund else NotificationKind.PAYMENT
    fields = notification.fields
    return VerifiedNotification(
        channel=CHANNEL,
        kind=kind,
        outcome=trxstatus_outcome(notification.trxstatus, kind),
        channel_status=notification.trxstatus,
        out_trade_no=notification.cusorderid,
        channel_txn_id=fields.get("srctrxid", "") if is_refund else notification.trxid,
        amount_fen=notification.trxamt_fen,
        merchant_ids=_merchant_ids(notification),
        out_refund_no=notification.cusorderid if is_refund else None,
        channel_refund_id=notification.trxid if is_refund else None,
        refund_amount_fen=notification.trxamt_fen if is_refund else None,
        fee_fen=notification.fee_fen,
        reference_ids={name: fields[name] for name in _REFERENCE_FIELDS if fields.get(name)},
        raw_fields=dict(fields),
    )


def _merchant_ids(notification: AllinpayNotification) -> dict[str, str]:
    ids = {"appid": notification.appid}
    if notification.cusid:
        ids["cusid"] = notification.cusid
    return ids


class AllinpayChannel:
    """Allinpay notifications (our side), bound to the allinpay key set."""

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
        return {"cusid": self._keys.id("cusid"), "appid": self._keys.id("appid")}

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        del headers, now_s  # Allinpay signs no timestamp and sends nothing in headers
        notification = protocol.verify_notification(
            raw_body,
            allinpay_public_key=self._keys.channel_public_key,
            max_body_bytes=self._max_body_bytes,
        )
        return to_verified(notification)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)
