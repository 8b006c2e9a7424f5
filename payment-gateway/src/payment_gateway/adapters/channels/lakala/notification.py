"""Lakala notifications as a `ChannelProtocol` (docs/channel-formats.md §6.2).

Status mapping (exhaustive; unknown → pending, queried later):
* 收银台 `order_status`: 0 待支付 / 1 支付中 → pending; 2 成功 → succeeded; 3 失败 / 4 过期 /
  5 取消 / 7 关闭 → failed; 6 退款 → refund refunded.
* 聚合扫码 `trade_state`: SUCCESS → succeeded; INIT / CREATE / DEAL / UNKNOWN → pending;
  FAIL / CLOSE / REVOKED → failed; PART_REFUND / REFUND → refund refunded.

`reference_ids` carries `log_no` (the statement key) and `acc_trade_no` / `trade_no` where sent.
The channel side builds either body shape (`notify_format`), 收银台 by default.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final, Literal

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.contract import (
    CLOCK_SKEW_MAX_S_DEFAULT,
    CallbackAnswer,
    NotificationEvent,
    NotificationKind,
    Outcome,
    SignedNotification,
    VerifiedNotification,
    channel_time,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.lakala import protocol
from payment_gateway.adapters.channels.lakala.models import CashierNotification, LabsNotification
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    dump_json_compact,
)
from payment_gateway.errors import CallbackRejected

CHANNEL: Final = ChannelCode.LAKALA
LOG_NO_LEN: Final = 14
LAKALA_TIME_FORMAT: Final = "%Y%m%d%H%M%S"
NotifyFormat = Literal["cashier", "labs"]

_PAYMENT = NotificationKind.PAYMENT
_REFUND = NotificationKind.REFUND
ORDER_STATUS_OUTCOMES: Final[Mapping[str, tuple[NotificationKind, Outcome]]] = MappingProxyType(
    {
        "0": (_PAYMENT, Outcome.PENDING),
        "1": (_PAYMENT, Outcome.PENDING),
        "2": (_PAYMENT, Outcome.SUCCEEDED),
        "3": (_PAYMENT, Outcome.FAILED),
        "4": (_PAYMENT, Outcome.FAILED),
        "5": (_PAYMENT, Outcome.FAILED),
        "6": (_REFUND, Outcome.REFUNDED),
        "7": (_PAYMENT, Outcome.FAILED),
    }
)
TRADE_STATE_OUTCOMES: Final[Mapping[str, tuple[NotificationKind, Outcome]]] = MappingProxyType(
    {
        "SUCCESS": (_PAYMENT, Outcome.SUCCEEDED),
        "INIT": (_PAYMENT, Outcome.PENDING),
        "CREATE": (_PAYMENT, Outcome.PENDING),
        "DEAL": (_PAYMENT, Outcome.PENDING),
        "UNKNOWN": (_PAYMENT, Outcome.PENDING),
        "FAIL": (_PAYMENT, Outcome.FAILED),
        "CLOSE": (_PAYMENT, Outcome.FAILED),
        "REVOKED": (_PAYMENT, Outcome.FAILED),
        "PART_REFUND": (_REFUND, Outcome.REFUNDED),
        "REFUND": (_REFUND, Outcome.REFUNDED),
    }
)
_PENDING: Final = (_PAYMENT, Outcome.PENDING)
_ORDER_STATUS_FOR: Final[Mapping[Outcome, str]] = {
    Outcome.SUCCEEDED: "2",
    Outcome.PENDING: "1",
    Outcome.FAILED: "3",
    Outcome.REFUNDED: "6",
}
_TRADE_STATE_FOR: Final[Mapping[Outcome, str]] = {
    Outcome.SUCCEEDED: "SUCCESS",
    Outcome.PENDING: "DEAL",
    Outcome.FAILED: "FAIL",
    Outcome.REFUNDED: "REFUND",
}


def cashier_to_verified(body: CashierNotification) -> VerifiedNotification:
    """The channel-neutral view of a 收银台 notification."""
    kind, outcome = ORDER_STATUS_OUTCOMES.get(body.order_status, _PENDING)
    info = body.order_trade_info
    references = {"log_no": info.log_no, "trade_no": info.trade_no} if info else {}
    refund_fen = info.trade_amount if info and kind is _REFUND else None
    return VerifiedNotification(
        channel=CHANNEL,
        kind=kind,
        outcome=outcome,
        channel_status=body.order_status,
        out_trade_no=body.out_order_no,
        channel_txn_id=body.pay_order_no,
        amount_fen=body.total_amount,
        merchant_ids={"merchant_no": body.merchant_no},
        refund_amount_fen=refund_fen,
        reference_ids={name: value for name, value in references.items() if value},
        raw_fields=body.model_dump(),
    )


def labs_to_verified(body: LabsNotification) -> VerifiedNotification:
    """The channel-neutral view of a 聚合扫码 notification."""
    kind, outcome = TRADE_STATE_OUTCOMES.get(body.trade_state, _PENDING)
    references = {"log_no": body.log_no, "acc_trade_no": body.acc_trade_no}
    return VerifiedNotification(
        channel=CHANNEL,
        kind=kind,
        outcome=outcome,
        channel_status=body.trade_state,
        out_trade_no=body.out_trade_no,
        channel_txn_id=body.trade_no,
        amount_fen=body.total_amount,
        merchant_ids={"merchant_no": body.merchant_no},
        reference_ids={name: value for name, value in references.items() if value},
        raw_fields=body.model_dump(),
    )


class LakalaChannel:
    """Lakala notifications, both sides, bound to the lakala key set."""

    def __init__(
        self,
        keys: ChannelKeySet,
        *,
        max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
        clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
        notify_format: NotifyFormat = "cashier",
    ) -> None:
        self._keys = keys
        self._max_body_bytes = max_body_bytes
        self._clock_skew_max_s = clock_skew_max_s
        self._notify_format = notify_format

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    @property
    def expected_merchant_ids(self) -> Mapping[str, str]:
        return {"merchant_no": self._keys.id("merchant_no")}

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        protocol.verify_notification_signature(
            headers,
            raw_body,
            lakala_public_key=self._keys.channel_public_key,
            now_s=now_s,
            clock_skew_max_s=self._clock_skew_max_s,
            max_body_bytes=self._max_body_bytes,
        )
        body = protocol.parse_notification_body(raw_body)
        if isinstance(body, CashierNotification):
            return cashier_to_verified(body)
        return labs_to_verified(body)

    def sign_notification(self, event: NotificationEvent, *, now_s: int) -> SignedNotification:
        if event.kind is _REFUND and event.outcome is not Outcome.REFUNDED:
            raise ValueError("Lakala notifications announce refunds only once refunded")
        if self._notify_format == "cashier":
            fields = self._cashier_fields(event, now_s)
        else:
            fields = self._labs_fields(event, now_s)
        body = dump_json_compact({**fields, **event.extra_fields})
        authorization = protocol.build_notification_authorization(
            body, private_key=self._keys.channel_signing_key(), now_s=now_s
        )
        headers = {"Authorization": authorization, "Content-Type": "application/json"}
        return SignedNotification(headers=headers, body=body)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)

    def _cashier_fields(self, event: NotificationEvent, now_s: int) -> dict[str, object]:
        stamp = channel_time(now_s).strftime(LAKALA_TIME_FORMAT)
        trade_no = event.channel_refund_id or event.channel_txn_id
        trade_amount = event.refund_amount_fen if event.kind is _REFUND else event.amount_fen
        return {
            "pay_order_no": event.channel_txn_id,
            "out_order_no": event.out_trade_no,
            "channel_id": "95",
            "merchant_no": self._keys.id("merchant_no"),
            "term_no": "A0000001",
            "order_status": _ORDER_STATUS_FOR[event.outcome],
            "total_amount": event.amount_fen,
            "order_create_time": stamp,
            "order_trade_info": {
                "trade_no": trade_no,
                "log_no": trade_no[-LOG_NO_LEN:],
                "trade_ref_no": "",
                "trade_type": "REFUND" if event.kind is _REFUND else "PAY",
                "trade_amount": trade_amount,
                "trade_time": stamp,
            },
        }

    def _labs_fields(self, event: NotificationEvent, now_s: int) -> dict[str, object]:
        amount = str(event.amount_fen)
        return {
            "merchant_no": self._keys.id("merchant_no"),
            "out_trade_no": event.out_trade_no,
            "trade_no": event.channel_txn_id,
            "log_no": event.channel_txn_id[-LOG_NO_LEN:],
            "acc_trade_no": "4200001234" + event.channel_txn_id[-LOG_NO_LEN:],
            "account_type": "WECHAT",
            "trade_state": _TRADE_STATE_FOR[event.outcome],
            "total_amount": amount,
            "payer_amount": amount,
            "acc_settle_amount": amount,
            "trade_time": channel_time(now_s).strftime(LAKALA_TIME_FORMAT),
            "user_id1": "oSandbox",
            "user_id2": "",
        }
