"""WeChat Pay APIv3 notifications as a `ChannelProtocol` (docs/channel-formats.md §1.3–1.8).

Verification order: body size → signed headers (serial, probe, clock, signature over the raw
body) → envelope → AEAD decrypt → typed resource. `event_type` must agree with
`resource.original_type` (TRANSACTION.* ↔ transaction, REFUND.* ↔ refund).

Status mapping (exhaustive; an unknown but well-formed status maps to pending so the gateway
queries it, per docs/service-guide.md):
* trade_state SUCCESS → succeeded; REFUND (转入退款: it was paid) → succeeded;
  NOTPAY / USERPAYING / ACCEPT → pending; CLOSED / REVOKED / PAYERROR → failed.
* refund_status SUCCESS → refunded; CLOSED / ABNORMAL → failed (the refund, not the payment).
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
from payment_gateway.adapters.channels.wechatpay import protocol
from payment_gateway.adapters.channels.wechatpay.models import Refund, Transaction
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    parse_json_object,
    validate_model,
)
from payment_gateway.errors import (
    CallbackRejected,
    UnsupportedCurrency,
    UnsupportedStatus,
)

CHANNEL: Final = ChannelCode.WECHATPAY

TRADE_STATE_OUTCOMES: Final[Mapping[str, Outcome]] = MappingProxyType(
    {
        "SUCCESS": Outcome.SUCCEEDED,
        "REFUND": Outcome.SUCCEEDED,
        "NOTPAY": Outcome.PENDING,
        "USERPAYING": Outcome.PENDING,
        "ACCEPT": Outcome.PENDING,
        "CLOSED": Outcome.FAILED,
        "REVOKED": Outcome.FAILED,
        "PAYERROR": Outcome.FAILED,
    }
)
REFUND_STATUS_OUTCOMES: Final[Mapping[str, Outcome]] = MappingProxyType(
    {"SUCCESS": Outcome.REFUNDED, "CLOSED": Outcome.FAILED, "ABNORMAL": Outcome.FAILED}
)


def transaction_outcome(trade_state: str) -> Outcome:
    """Map `trade_state`; unknown states are pending (queried later)."""
    return TRADE_STATE_OUTCOMES.get(trade_state, Outcome.PENDING)


def refund_outcome(refund_status: str) -> Outcome:
    """Map `refund_status`; unknown states are pending (queried later)."""
    return REFUND_STATUS_OUTCOMES.get(refund_status, Outcome.PENDING)


def parse_transaction(plaintext: bytes) -> Transaction:
    """Parse a decrypted `transaction` resource."""
    return validate_model(Transaction, parse_json_object(plaintext, "resource"), "transaction")


def parse_refund(plaintext: bytes) -> Refund:
    """Parse a decrypted `refund` resource."""
    return validate_model(Refund, parse_json_object(plaintext, "resource"), "refund")


class WechatPayChannel:
    """WeChat Pay notifications (our side), bound to the wechatpay key set."""

    def __init__(
        self,
        keys: ChannelKeySet,
        *,
        max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
        clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
    ) -> None:
        self._keys = keys
        self._apiv3_key = keys.require_apiv3_key()
        self._serial = keys.id("serial")
        self._platform_keys = MappingProxyType({self._serial: keys.channel_public_key})
        self._max_body_bytes = max_body_bytes
        self._clock_skew_max_s = clock_skew_max_s

    @property
    def channel(self) -> ChannelCode:
        return CHANNEL

    @property
    def expected_merchant_ids(self) -> Mapping[str, str]:
        return {"mchid": self._keys.id("mchid"), "appid": self._keys.id("appid")}

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        protocol.verify_notification_signature(
            headers,
            raw_body,
            platform_keys=self._platform_keys,
            now_s=now_s,
            clock_skew_max_s=self._clock_skew_max_s,
            max_body_bytes=self._max_body_bytes,
        )
        envelope = protocol.parse_envelope(raw_body)
        original_type = envelope.resource.original_type
        prefix = envelope.event_type.partition(".")[0]
        if (prefix, original_type) not in {("TRANSACTION", "transaction"), ("REFUND", "refund")}:
            raise UnsupportedStatus("event_type and resource original_type do not agree")
        plaintext = protocol.decrypt_envelope(envelope, self._apiv3_key)
        if original_type == "transaction":
            return _from_transaction(parse_transaction(plaintext), envelope.id)
        return _from_refund(parse_refund(plaintext), envelope.id)

    def success_answer(self) -> CallbackAnswer:
        return protocol.success_answer()

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        return protocol.failure_answer(error.http_status if error is not None else 500)


def _from_transaction(tx: Transaction, notification_id: str) -> VerifiedNotification:
    if tx.amount.currency != "CNY":
        raise UnsupportedCurrency(f"{tx.amount.currency} transactions are not accepted (CNY only)")
    return VerifiedNotification(
        channel=CHANNEL,
        kind=NotificationKind.PAYMENT,
        outcome=transaction_outcome(tx.trade_state),
        channel_status=tx.trade_state,
        out_trade_no=tx.out_trade_no,
        channel_txn_id=tx.transaction_id,
        amount_fen=tx.amount.total,
        currency=tx.amount.currency,
        merchant_ids={"mchid": tx.mchid, "appid": tx.appid},
        notification_id=notification_id,
        raw_fields=tx.model_dump(),
    )


def _from_refund(refund: Refund, notification_id: str) -> VerifiedNotification:
    return VerifiedNotification(
        channel=CHANNEL,
        kind=NotificationKind.REFUND,
        outcome=refund_outcome(refund.refund_status),
        channel_status=refund.refund_status,
        out_trade_no=refund.out_trade_no,
        channel_txn_id=refund.transaction_id,
        amount_fen=refund.amount.total,
        merchant_ids={"mchid": refund.mchid},
        notification_id=notification_id,
        out_refund_no=refund.out_refund_no,
        channel_refund_id=refund.refund_id,
        refund_amount_fen=refund.amount.refund,
        raw_fields=refund.model_dump(),
    )
