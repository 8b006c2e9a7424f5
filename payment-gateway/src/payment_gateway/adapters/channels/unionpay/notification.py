"""UnionPay ACP back notifications as a `ChannelProtocol` (docs/channel-formats.md §5.1).

Mapping:
* `txnType` 01 (消费) → payment; 04 (退货) and 31 (消费撤销) → refund; any other type raises
  UnsupportedStatus (we do not know what it moves).
* `respCode` 00 and A6 (partial success, treated as paid by the official demo) → succeeded /
  refunded; 03, 04, 05 (timeout / in process: query later) → pending; anything else → failed
  (back-end transactions notify failures too).

A refund notification names the refund request, not the payment: `orderId` is our refund
order number (reported as both `out_trade_no` and `out_refund_no`), `queryId` the refund's
channel id and `origQryId` the payment's; `txnAmt` is the refunded amount.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    NotificationKind,
    Outcome,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.unionpay import certs, protocol
from payment_gateway.adapters.channels.unionpay.protocol import UnionPayNotification
from payment_gateway.adapters.channels.wire_format import BODY_SIZE_MAX_BYTES_DEFAULT
from payment_gateway.errors import CallbackRejected, UnsupportedStatus

CHANNEL: Final = ChannelCode.UNIONPAY
TXN_TYPE_KINDS: Final[Mapping[str, NotificationKind]] = MappingProxyType(
    {"01": NotificationKind.PAYMENT, "04": NotificationKind.REFUND, "31": NotificationKind.REFUND}
)
SUCCESS_RESP_CODES: Final = frozenset({"00", "A6"})
PENDING_RESP_CODES: Final = frozenset({"03", "04", "05"})
_REFERENCE_FIELDS: Final = ("traceNo", "traceTime", "settleDate", "settleAmt", "accNo")


def notification_outcome(notification: UnionPayNotification) -> tuple[NotificationKind, Outcome]:
    """Map txnType and respCode to kind and outcome."""
    kind = TXN_TYPE_KINDS.get(notification.txn_type)
    if kind is None:
        raise UnsupportedStatus("txnType is not a consumption, refund or cancellation")
    if notification.resp_code in SUCCESS_RESP_CODES:
        success = Outcome.REFUNDED if kind is NotificationKind.REFUND else Outcome.SUCCEEDED
        return kind, success
    if notification.resp_code in PENDING_RESP_CODES:
        return kind, Outcome.PENDING
    return kind, Outcome.FAILED


def to_verified(notification: UnionPayNotification) -> VerifiedNotification:
    """The channel-neutral view of a verified UnionPay notification."""
    kind, outcome = notification_outcome(notification)
    fields = notification.fields
    is_refund = kind is NotificationKind.REFUND
    return VerifiedNotification(
        channel=CHANNEL,
        kind=kind,
        outcome=outcome,
        channel_status=notification.resp_code,
        out_trade_no=notification.order_id,
        channel_txn_id=(notification.orig_qry_id or "") if is_refund else notification.query_id,
        amount_fen=notification.txn_amt_fen,
        merchant_ids={"merId": notification.mer_id},
        out_refund_no=notification.order_id if is_refund else None,
        channel_refund_id=notification.query_id if is_refund else None,
        refund_amount_fen=notification.txn_amt_fen if is_refund else None,
        reference_ids={name: fields[name] for name in _REFERENCE_FIELDS if fields.get(name)},
        raw_fields=dict(fields),
    )


class UnionPayChannel:
    """UnionPay back notifications (our side), bound to the unionpay key set."""

    def __init__(
        self, keys: ChannelKeySet, *, max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT
    ) -> None:
        self._keys = keys
        self._max_body_bytes = max_body_bytes
        self._chain = certs.TrustChain.of_pems(keys.certificates)

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    @property
    def expected_merchant_ids(self) -> Mapping[str, str]:
        return {"merId": self._keys.id("merId")}

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        del headers  # the form carries everything; ACP signs no timestamp we can bound
        notification = protocol.verify_notification(
            raw_body,
            unionpay_public_key=self._keys.channel_public_key,
            expected_cert_id=self._keys.id("certId"),
            max_body_bytes=self._max_body_bytes,
            chain=self._chain,
            now=datetime.fromtimestamp(now_s, UTC),  # certificate validity
        )
        return to_verified(notification)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)
