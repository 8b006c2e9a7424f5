"""Alipay openapi 2.0 wire protocol, our (the merchant's) side (docs/channel-formats.md §3).

* Notification (§3.1–3.2): form-urlencoded in the declared charset (`charset` parameter and/or
  Content-Type `charset=`; utf-8 or gbk; both absent → MissingField, disagreeing → BadCharset).
* String to sign (§3.3, `AlipaySignature.getSignCheckContentV1`): every parameter except `sign`
  and `sign_type`, empty values kept, keys sorted, `k=v` joined by `&`, encoded in the declared
  charset; RSA2 = SHA256withRSA, RSA = SHA1withRSA, anything else UnsupportedSignType.
* Amounts are yuan strings with two decimals, converted to fen exactly (money_edge).
* Refund-triggered notifications (§3.2) carry `refund_fee` (cumulative), `gmt_refund`,
  `out_biz_no`; partial keeps TRADE_SUCCESS, full turns TRADE_CLOSED.
* Our app pay order string (`alipay.trade.app.pay`): request signing content = all non-empty
  parameters except `sign` (sign_type included), sorted, RSA2.
* Answers (§3.4): exactly `success`; anything else (we send `failure`) makes Alipay retry.

Alipay's side (signing notifications, checking order strings) is the channel sandbox's
(`channel_sandbox.channels.alipay`); python-alipay-sdk checks both sides in the tests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final, Literal

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import CallbackAnswer, channel_time
from payment_gateway.adapters.channels.money_edge import fen_to_yuan, yuan_to_fen
from payment_gateway.adapters.channels.rsa_signing import HashName, sign_b64, verify_b64
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    Charset,
    FormPairs,
    check_body_size,
    content_type_charset,
    decode_form_values,
    dump_json_compact,
    encode_form,
    form_field,
    join_sorted,
    normalize_charset,
    split_form,
)
from payment_gateway.errors import (
    BadCharset,
    Malformed,
    MissingField,
    MoneyFormatError,
    UnsupportedSignType,
    WrongMerchant,
)

SignType = Literal["RSA2", "RSA"]
SIGN_TYPE_HASHES: Final[Mapping[str, HashName]] = {"RSA2": "sha256", "RSA": "sha1"}
NOTIFY_UNSIGNED_FIELDS: Final = frozenset({"sign", "sign_type"})
REQUIRED_NOTIFY_FIELDS: Final = (
    "notify_id",
    "app_id",
    "trade_no",
    "out_trade_no",
    "trade_status",
    "total_amount",
)
SUCCESS_BODY: Final = b"success"
FAILURE_BODY: Final = b"failure"
APP_PAY_METHOD: Final = "alipay.trade.app.pay"
APP_PAY_PRODUCT_CODE: Final = "QUICK_MSECURITY_PAY"
ALIPAY_TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


# ---------------------------------------------------------------- notification: decoding


def resolve_charset(form: Sequence[tuple[str, bytes]], content_type: str | None) -> Charset:
    """The declared charset from the `charset` parameter and/or the Content-Type header."""
    declared = dict(form).get("charset")
    from_param = None
    if declared is not None:
        try:
            from_param = normalize_charset(declared.decode("ascii"))
        except UnicodeDecodeError:
            raise BadCharset("charset parameter is not ASCII") from None
    from_header = content_type_charset(content_type)
    if from_param and from_header and from_param != from_header:
        raise BadCharset("charset parameter and Content-Type disagree")
    charset = from_param or from_header
    if charset is None:
        raise MissingField("charset")
    return charset


def decode_notification_form(
    raw_body: bytes,
    *,
    content_type: str | None,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
) -> tuple[dict[str, str], Charset]:
    """Split, percent-decode and charset-decode a notification body (duplicates rejected)."""
    check_body_size(raw_body, max_body_bytes)
    form = split_form(raw_body)
    charset = resolve_charset(form, content_type)
    return dict(decode_form_values(form, charset)), charset


# ---------------------------------------------------------------- notification: signature


def notification_sign_content(fields: Iterable[tuple[str, str]]) -> str:
    """The V1 check content: all but `sign`/`sign_type`, sorted, `k=v&...`, empties kept."""
    return join_sorted((k, v) for k, v in fields if k not in NOTIFY_UNSIGNED_FIELDS)


def _hash_for(sign_type: str) -> HashName:
    hash_name = SIGN_TYPE_HASHES.get(sign_type)
    if hash_name is None:
        raise UnsupportedSignType("sign_type must be RSA2 or RSA")
    return hash_name


def verify_notification_signature(
    fields: Mapping[str, str], charset: Charset, alipay_public_key: rsa.RSAPublicKey
) -> None:
    """Verify `sign` over the check content encoded in the declared charset."""
    sign = form_field(fields, "sign")
    hash_name = _hash_for(form_field(fields, "sign_type"))
    content = notification_sign_content(fields.items()).encode(charset)
    verify_b64(alipay_public_key, sign, content, hash_name)


# ---------------------------------------------------------------- notification: parsed


@dataclass(frozen=True, kw_only=True)
class AlipayNotification:
    """A verified `trade_status_sync` notification with amounts in fen."""

    notify_id: str
    app_id: str
    trade_no: str
    out_trade_no: str
    trade_status: str
    total_amount_fen: int
    seller_id: str | None = None
    auth_app_id: str | None = None
    out_biz_no: str | None = None
    refund_fee_fen: int | None = None
    receipt_amount_fen: int | None = None
    buyer_pay_amount_fen: int | None = None
    gmt_refund: str | None = None
    fields: Mapping[str, str] = field(default_factory=dict)

    @property
    def is_refund(self) -> bool:
        """Refund-triggered (partial: TRADE_SUCCESS, full: TRADE_CLOSED) with a refund_fee."""
        return self.refund_fee_fen is not None and self.refund_fee_fen > 0


def _optional_fen(fields: Mapping[str, str], name: str) -> int | None:
    text = fields.get(name)
    if not text:
        return None
    try:
        return yuan_to_fen(text)
    except MoneyFormatError:
        raise Malformed(f"{name} is not an exact yuan amount") from None


def _required_fen(fields: Mapping[str, str], name: str) -> int:
    fen = _optional_fen(fields, name)
    if fen is None:
        raise MissingField(name)
    return fen


def parse_notification(fields: Mapping[str, str]) -> AlipayNotification:
    """Type a verified notification; MissingField / Malformed name the field."""
    for name in REQUIRED_NOTIFY_FIELDS:
        form_field(fields, name)
    return AlipayNotification(
        notify_id=fields["notify_id"],
        app_id=fields["app_id"],
        trade_no=fields["trade_no"],
        out_trade_no=fields["out_trade_no"],
        trade_status=fields["trade_status"],
        total_amount_fen=_required_fen(fields, "total_amount"),
        seller_id=fields.get("seller_id") or None,
        auth_app_id=fields.get("auth_app_id") or None,
        out_biz_no=fields.get("out_biz_no") or None,
        refund_fee_fen=_optional_fen(fields, "refund_fee"),
        receipt_amount_fen=_optional_fen(fields, "receipt_amount"),
        buyer_pay_amount_fen=_optional_fen(fields, "buyer_pay_amount"),
        gmt_refund=fields.get("gmt_refund") or None,
        fields=dict(fields),
    )


def verify_notification(
    raw_body: bytes,
    *,
    content_type: str | None,
    alipay_public_key: rsa.RSAPublicKey,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
) -> AlipayNotification:
    """Our side: decode, verify and type a notification body."""
    fields, charset = decode_notification_form(
        raw_body, content_type=content_type, max_body_bytes=max_body_bytes
    )
    verify_notification_signature(fields, charset, alipay_public_key)
    return parse_notification(fields)


def check_app_id(notification: AlipayNotification, app_id: str) -> None:
    """WrongMerchant unless the notification's app_id is ours."""
    if notification.app_id != app_id:
        raise WrongMerchant("app_id is not ours")


def check_seller_id(notification: AlipayNotification, seller_id: str) -> None:
    """WrongMerchant unless seller_id is present and ours."""
    if notification.seller_id != seller_id:
        raise WrongMerchant("seller_id is missing or not ours")


# ---------------------------------------------------------------- our app pay order string


def request_sign_content(params: Iterable[tuple[str, str]]) -> str:
    """Request signing content: non-empty parameters except `sign`, sorted, `k=v&...`."""
    return join_sorted((k, v) for k, v in params if k != "sign" and v)


def app_pay_biz_content(out_trade_no: str, amount_fen: int, subject: str) -> dict[str, str]:
    """`biz_content` of `alipay.trade.app.pay` with the amount in yuan."""
    return {
        "out_trade_no": out_trade_no,
        "total_amount": fen_to_yuan(amount_fen),
        "subject": subject,
        "product_code": APP_PAY_PRODUCT_CODE,
    }


def build_app_pay_order_string(
    *,
    app_id: str,
    biz_content: Mapping[str, object],
    notify_url: str,
    private_key: rsa.RSAPrivateKey,
    now_s: int,
    charset: Charset = "utf-8",
) -> str:
    """Our side: the signed order string the app hands to the Alipay SDK."""
    params: FormPairs = [
        ("app_id", app_id),
        ("biz_content", dump_json_compact(dict(biz_content)).decode("utf-8")),
        ("charset", charset),
        ("format", "JSON"),
        ("method", APP_PAY_METHOD),
        ("notify_url", notify_url),
        ("sign_type", "RSA2"),
        ("timestamp", channel_time(now_s).strftime(ALIPAY_TIME_FORMAT)),
        ("version", "1.0"),
    ]
    sign = sign_b64(private_key, request_sign_content(params).encode(charset))
    return encode_form([*params, ("sign", sign)], charset).decode("ascii")


# ---------------------------------------------------------------- answers


def success_answer() -> CallbackAnswer:
    """HTTP 200 with exactly `success`."""
    return CallbackAnswer(status_code=200, body=SUCCESS_BODY, media_type="text/plain")


def failure_answer(status_code: int = 400) -> CallbackAnswer:
    """`failure`: anything but `success` makes Alipay retry (8 times within 25 h)."""
    return CallbackAnswer(status_code=status_code, body=FAILURE_BODY, media_type="text/plain")
