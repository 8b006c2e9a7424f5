"""The uniform face of every channel's notification protocol.

`ChannelProtocol` is what the gateway's `POST /callbacks/{channel}` calls: verify, then answer in
the channel's own format. It is our side only: the gateway never builds or signs a channel's
notification (the channel sandbox does that from the published format, and tests get genuine
notifications from it, from the golden vectors or from the channels' SDKs). Each channel package
implements it in `<channel>/notification.py`; the registry builds one from a `ChannelKeySet`.

`VerifiedNotification` is only ever produced after the signature checked out. Merchant ids,
amount and order existence are checked later by the gateway service (docs/payment-gateway.md
"Callbacks"); `check_merchant_ids` is the helper for the first of these.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from enum import StrEnum
from typing import Final, Protocol

from otd_shared.channels import ChannelCode
from payment_gateway.adapters.channels.wire_format import BODY_SIZE_MAX_BYTES_DEFAULT
from payment_gateway.errors import CallbackRejected, WrongMerchant

CLOCK_SKEW_MAX_S_DEFAULT: Final = 300
CHANNEL_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")


class Outcome(StrEnum):
    """What the notification says happened to its subject (see `NotificationKind`)."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    REFUNDED = "refunded"
    PENDING = "pending"


class NotificationKind(StrEnum):
    """The subject of a notification: a payment, or a refund of a payment."""

    PAYMENT = "payment"
    REFUND = "refund"


@dataclass(frozen=True, kw_only=True)
class VerifiedNotification:
    """A channel notification whose signature verified, in channel-neutral terms.

    `amount_fen` is the payment's total; for refunds `refund_amount_fen` is the refunded amount
    (Alipay: cumulative `refund_fee`). UnionPay and Allinpay refund notifications name only the
    refund request: there `out_trade_no` = `out_refund_no` = our refund number, `amount_fen` =
    the refunded amount, and `channel_txn_id` is the original payment's channel id (may be ""
    when the channel omits it, as in WeChat's official refund sample).
    `merchant_ids` holds the channel's merchant/app ids as received (keys as in ids.json) for
    `check_merchant_ids`. `reference_ids` holds further
    channel references (e.g. Lakala `log_no`, UnionPay `traceNo`). `raw_fields` is the parsed
    notification (decrypted for WeChat) for storage and audit.
    """

    channel: ChannelCode
    kind: NotificationKind
    outcome: Outcome
    channel_status: str
    out_trade_no: str
    channel_txn_id: str
    amount_fen: int
    currency: str = "CNY"
    merchant_ids: Mapping[str, str] = field(default_factory=dict)
    notification_id: str | None = None
    out_refund_no: str | None = None
    channel_refund_id: str | None = None
    refund_amount_fen: int | None = None
    reference_ids: Mapping[str, str] = field(default_factory=dict)
    fee_fen: int | None = None
    raw_fields: Mapping[str, object] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.amount_fen < 0 or (self.refund_amount_fen or 0) < 0:
            raise ValueError("notification amounts are never negative")


@dataclass(frozen=True)
class CallbackAnswer:
    """The HTTP answer a channel expects from our callback endpoint."""

    status_code: int
    body: bytes
    media_type: str | None


class ChannelProtocol(Protocol):
    """Our side of one channel's notification protocol, bound to its key set and limits."""

    @property
    def channel(self) -> ChannelCode:
        """The channel code (`wechatpay`, `alipay`, `lakala`, `unionpay`, `allinpay`)."""
        ...

    @property
    def expected_merchant_ids(self) -> Mapping[str, str]:
        """Our merchant ids from ids.json, keyed like `VerifiedNotification.merchant_ids`."""
        ...

    def verify_notification(
        self, headers: Mapping[str, str], raw_body: bytes, *, now_s: int
    ) -> VerifiedNotification:
        """Verify and parse a notification; raise a `CallbackRejected` subclass otherwise.

        `raw_body` must be the exact bytes received; `now_s` is the current Unix time used for
        timestamp windows (ignored by channels that sign no timestamp).
        """
        ...

    def success_answer(self) -> CallbackAnswer:
        """The answer that tells the channel to stop retrying."""
        ...

    def failure_answer(self, error: CallbackRejected | None = None) -> CallbackAnswer:
        """The answer that tells the channel to retry later (no error text leaks into it)."""
        ...


@dataclass(frozen=True)
class NotificationLimits:
    """Named limits applied while verifying notifications."""

    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT


def check_merchant_ids(
    notification: VerifiedNotification,
    expected: Mapping[str, str],
    *,
    required: Collection[str] = (),
    aliases: Mapping[str, str] | None = None,
) -> None:
    """Raise WrongMerchant unless the notification's merchant ids are ours.

    Ids in `required` must be present; other expected ids are compared when the channel sent
    them, and at least one must be, so a notification without any merchant id is rejected.
    `aliases` maps a received id to the expected id it must equal when present (Alipay
    `auth_app_id` → `app_id`).
    """
    received = notification.merchant_ids
    missing = [name for name in required if not received.get(name)]
    if missing:
        raise WrongMerchant(f"{notification.channel} notification carries no {missing[0]}")
    compared = [name for name in expected if name in received]
    if not compared:
        raise WrongMerchant(f"{notification.channel} notification carries no merchant id")
    for name in compared:
        if received[name] != expected[name]:
            raise WrongMerchant(f"{notification.channel} notification {name} is not ours")
    for name, ours in (aliases or {}).items():
        if name in received and received[name] != expected.get(ours):
            raise WrongMerchant(f"{notification.channel} notification {name} is not ours")


def channel_time(now_s: int) -> datetime:
    """`now_s` as an aware datetime in the channels' zone (UTC+8)."""
    return datetime.fromtimestamp(now_s, tz=UTC).astimezone(CHANNEL_TZ)
