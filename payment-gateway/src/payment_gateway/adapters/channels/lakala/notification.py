"""Lakala notifications as a `ChannelProtocol` (docs/channel-formats.md §6.2).

Status mapping (exhaustive; unknown → pending, queried later):
* 收银台 `order_status`: 0 待支付 / 1 支付中 → pending; 2 成功 → succeeded; 3 失败 / 4 过期 /
  5 取消 / 7 关闭 → failed; 6 退款 → refund refunded.
* 聚合扫码 `trade_state`: SUCCESS → succeeded; INIT / CREATE / DEAL / UNKNOWN → pending;
  FAIL / CLOSE / REVOKED → failed; PART_REFUND / REFUND → refund refunded.

`reference_ids` carries `log_no` (the statement key) and `acc_trade_no` / `trade_no` where sent.
Both body shapes are read by the one verifier; Lakala's side (building and signing them) is the
channel sandbox's.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.contract import (
    CLOCK_SKEW_MAX_S_DEFAULT,
    CallbackAnswer,
    NotificationKind,
    Outcome,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.key_files import ChannelKeySet
from payment_gateway.adapters.channels.lakala import protocol
from payment_gateway.adapters.channels.lakala.models import CashierNotification, LabsNotification
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
)
from payment_gateway.errors import CallbackRejected

CHANNEL: Final = ChannelCode.LAKALA

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
    """Lakala notifications (our side), bound to the lakala key set."""

    def __init__(
        self,
        keys: ChannelKeySet,
        *,
        max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
        clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
    ) -> None:
        self._keys = keys
        self._max_body_bytes = max_body_bytes
        self._clock_skew_max_s = clock_skew_max_s

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

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)
