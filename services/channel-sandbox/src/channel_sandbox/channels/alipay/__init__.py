"""Alipay openapi 2.0 as Alipay speaks it (docs/channel-formats.md §3).

* Async notification (§3.1–3.3): form POST in the declared charset; `sign` is RSA2
  (SHA256withRSA) with the Alipay key over every parameter except `sign` and `sign_type`,
  empty values kept, keys sorted, `k=v` joined by `&`, encoded in the charset. Amounts are yuan
  strings with two decimals. Refund-triggered notifications carry the cumulative `refund_fee`,
  `gmt_refund` and `out_biz_no`; TRADE_CLOSED once fully refunded.
* Merchant requests to `gateway.do` and the app's order string: `sign` over every NON-EMPTY
  parameter except `sign` (`sign_type` included, unlike notifications), sorted, verified with
  the merchant key. Parameters may come in the query string and the form body.
* Responses: `{"<method>_response":{...},"sign":"<b64>"}` with `sign` over the exact bytes of
  the `*_response` JSON text as it appears in the body.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Final

from channel_sandbox.channels.base import (
    Kind,
    NotificationEvent,
    Outcome,
    ReadNotification,
    RequestRejected,
    SignedNotification,
)
from channel_sandbox.keys import SandboxKeySet
from otd_shared.channel_wire import (
    Charset,
    HashName,
    WireFormatError,
    canonical_query,
    channel_time,
    decode_form,
    encode_form,
    normalize_charset,
    rsa_sign_b64,
    rsa_verify_b64,
)
from otd_shared.money import fen_to_yuan, wire_yuan_to_fen

CODE: Final = "alipay"
FORM_CONTENT_TYPE: Final = "application/x-www-form-urlencoded"
SIGN_TYPE_HASHES: Final[Mapping[str, HashName]] = {"RSA2": "sha256", "RSA": "sha1"}
APP_PAY_METHOD: Final = "alipay.trade.app.pay"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
BUYER_ID: Final = "2088102177846880"


def alipay_time(now_s: int) -> str:
    """`yyyy-MM-dd HH:mm:ss` in UTC+8."""
    return channel_time(now_s).strftime(TIME_FORMAT)


# ---------------------------------------------------------------- notifications


def notification_sign_content(pairs: Iterable[tuple[str, str]]) -> str:
    """§3.3: all parameters but `sign` and `sign_type`, empties kept, sorted, `k=v&...`."""
    return canonical_query((k, v) for k, v in pairs if k not in ("sign", "sign_type"))


def notification_fields(
    keys: SandboxKeySet, event: NotificationEvent, now_s: int, *, notify_id: str | None = None
) -> dict[str, str]:
    """The notification's parameters (without sign/sign_type)."""
    stamp = alipay_time(now_s)
    amount = fen_to_yuan(event.amount_fen)
    fields = {
        "notify_time": stamp,
        "notify_type": "trade_status_sync",
        "notify_id": notify_id or secrets.token_hex(17),
        "app_id": keys.id("app_id"),
        "auth_app_id": keys.id("app_id"),
        "charset": "utf-8",
        "version": "1.0",
        "trade_no": event.channel_txn_id,
        "out_trade_no": event.out_trade_no,
        "buyer_id": BUYER_ID,
        "seller_id": keys.id("seller_id"),
        "subject": "OTD",
        "gmt_create": stamp,
        "total_amount": amount,
        "receipt_amount": amount,
        "invoice_amount": amount,
        "buyer_pay_amount": amount,
        "point_amount": "0.00",
        "fund_bill_list": f'[{{"amount":"{amount}","fundChannel":"ALIPAYACCOUNT"}}]',
    }
    return fields | _status_fields(event, stamp) | event.text_extras("Alipay")


def _status_fields(event: NotificationEvent, stamp: str) -> dict[str, str]:
    if event.refund is not None:
        if event.outcome is not Outcome.REFUNDED:
            raise ValueError("Alipay notifies refunds only when they succeed")
        refund = {
            "refund_fee": fen_to_yuan(event.refund.amount_fen),
            "gmt_refund": stamp,
            "out_biz_no": event.refund.out_refund_no,
        }
        if event.refund.amount_fen >= event.amount_fen:
            return refund | {"trade_status": "TRADE_CLOSED", "gmt_close": stamp}
        return refund | {"trade_status": "TRADE_SUCCESS"}
    match event.outcome:
        case Outcome.SUCCEEDED:
            return {"trade_status": "TRADE_SUCCESS", "gmt_payment": stamp}
        case Outcome.FAILED:
            return {"trade_status": "TRADE_CLOSED", "gmt_close": stamp}
        case _:
            return {"trade_status": "WAIT_BUYER_PAY"}


def signed_form(
    keys: SandboxKeySet,
    fields: Mapping[str, str] | Sequence[tuple[str, str]],
    *,
    sign_type: str = "RSA2",
    charset: Charset | None = None,
) -> SignedNotification:
    """Sign `fields` as a notification and encode the body in `charset` (default: declared)."""
    pairs = list(fields.items()) if isinstance(fields, Mapping) else list(fields)
    charset = charset or normalize_charset(dict(pairs).get("charset", "utf-8"))
    content = notification_sign_content(pairs).encode(charset)
    sign = rsa_sign_b64(keys.channel_private_key, content, SIGN_TYPE_HASHES[sign_type])
    body = encode_form([*pairs, ("sign_type", sign_type), ("sign", sign)], charset)
    headers = {"Content-Type": f"{FORM_CONTENT_TYPE}; charset={charset}"}
    return SignedNotification(headers=headers, body=body)


def notification(
    keys: SandboxKeySet, event: NotificationEvent, *, now_s: int, notify_id: str | None = None
) -> SignedNotification:
    """A signed `trade_status_sync` notification."""
    return signed_form(keys, notification_fields(keys, event, now_s, notify_id=notify_id))


# ---------------------------------------------------------------- merchant requests


def request_sign_content(pairs: Iterable[tuple[str, str]]) -> str:
    """Request content: non-empty parameters except `sign` (sign_type included), sorted."""
    return canonical_query((k, v) for k, v in pairs if k != "sign" and v)


@dataclass(frozen=True)
class AlipayRequest:
    """A decoded `gateway.do` request (signature not yet checked)."""

    params: dict[str, str]
    charset: Charset

    @property
    def method(self) -> str:
        return self.params.get("method", "")


def _declared_charset(raw: bytes) -> str | None:
    for segment in raw.split(b"&"):
        name, _, value = segment.partition(b"=")
        if name == b"charset":
            return value.decode("ascii", "replace")
    return None


def _content_type_charset(content_type: str | None) -> str | None:
    for parameter in (content_type or "").split(";")[1:]:
        name, _, value = parameter.partition("=")
        if name.strip().lower() == "charset":
            return value
    return None


def parse_request(query: bytes, body: bytes, content_type: str | None) -> AlipayRequest:
    """Merge query and form parameters, decoded in the declared charset (default UTF-8)."""
    try:
        label = (
            _declared_charset(query)
            or _declared_charset(body)
            or _content_type_charset(content_type)
        )
        charset = normalize_charset(label) if label else "utf-8"
        pairs = (decode_form(query, charset) if query else []) + (
            decode_form(body, charset) if body.strip() else []
        )
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    params: dict[str, str] = {}
    for key, value in pairs:
        if key in params:
            raise RequestRejected(f"parameter {key!r} is given twice")
        params[key] = value
    return AlipayRequest(params, charset)


def verify_request(keys: SandboxKeySet, request: AlipayRequest) -> None:
    """Check `sign` with the merchant key; RequestRejected("missing-signature"/...) otherwise."""
    hash_name = SIGN_TYPE_HASHES.get(request.params.get("sign_type", ""))
    if hash_name is None:
        raise RequestRejected("invalid-signature-type")
    sign = request.params.get("sign", "")
    if not sign:
        raise RequestRejected("missing-signature")
    content = request_sign_content(request.params.items()).encode(request.charset)
    if not rsa_verify_b64(keys.merchant_public_key, sign, content, hash_name):
        raise RequestRejected("invalid-signature")


def verify_order_string(keys: SandboxKeySet, order_string: str) -> dict[str, str]:
    """Check an app pay order string (what the app hands the Alipay SDK); its parameters."""
    try:
        raw = order_string.encode("ascii")
    except UnicodeEncodeError:
        raise RequestRejected("order string is not URL-encoded ASCII") from None
    request = parse_request(b"", raw, None)
    if request.method != APP_PAY_METHOD:
        raise RequestRejected("method is not alipay.trade.app.pay")
    verify_request(keys, request)
    return request.params


# ---------------------------------------------------------------- responses


def response_key(method: str) -> str:
    """`alipay.trade.query` → `alipay_trade_query_response`."""
    return method.replace(".", "_") + "_response"


def signed_response(
    keys: SandboxKeySet | None,
    key: str,
    payload: Mapping[str, object],
    *,
    charset: Charset = "utf-8",
    extra: Mapping[str, str] | None = None,
    corrupt: bool = False,
) -> bytes:
    """`{"<key>":<payload>,"sign":"..."}` signed over the payload's exact JSON text.

    `keys=None` leaves it unsigned (Alipay sends no `sign` when it rejected the request's own
    signature). `extra` adds members after `sign` (e.g. `sign_type`). `corrupt` signs other
    bytes (the sandbox's `bad_signature` fault).
    """
    text = json.dumps(dict(payload), ensure_ascii=False, separators=(",", ":"))
    members = [f"{json.dumps(key)}:{text}"]
    if keys is not None:
        signed_text = text + " " if corrupt else text
        sign = rsa_sign_b64(keys.channel_private_key, signed_text.encode(charset))
        members.append(f'"sign":{json.dumps(sign)}')
    for name, value in (extra or {}).items():
        members.append(f"{json.dumps(name)}:{json.dumps(value, ensure_ascii=False)}")
    return ("{" + ",".join(members) + "}").encode(charset)


def error_payload(code: str, msg: str, sub_code: str, sub_msg: str) -> dict[str, object]:
    """An openapi error object (`code` 40002 invalid arguments, 40004 business failed)."""
    return {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}


def rejection_sub_code(error: RequestRejected) -> str:
    """`isv.*` sub code for a rejected request."""
    reason = str(error)
    if reason in ("invalid-signature", "invalid-signature-type"):
        return "isv.invalid-signature"
    if reason == "missing-signature":
        return "isv.missing-signature"
    return "isv.invalid-parameter"


# ---------------------------------------------------------------- the merchant's reading (tests)


def read_notification(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    """Verify and read a notification as a merchant would; RequestRejected otherwise."""
    del headers, now_s
    label = _declared_charset(body) or "utf-8"
    try:
        charset = normalize_charset(label)
        fields = dict(decode_form(body, charset))
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    hash_name = SIGN_TYPE_HASHES.get(fields.get("sign_type", ""), "sha256")
    content = notification_sign_content(fields.items()).encode(charset)
    if not rsa_verify_b64(keys.channel_public_key, fields.get("sign", ""), content, hash_name):
        raise RequestRejected("sign does not verify")
    status = fields["trade_status"]
    refund_fee = fields.get("refund_fee")
    is_refund = bool(refund_fee) and wire_yuan_to_fen(refund_fee or "0") > 0
    if is_refund:
        kind, outcome = Kind.REFUND, Outcome.REFUNDED
    elif status in ("TRADE_SUCCESS", "TRADE_FINISHED"):
        kind, outcome = Kind.PAYMENT, Outcome.SUCCEEDED
    elif status == "TRADE_CLOSED":
        kind, outcome = Kind.PAYMENT, Outcome.FAILED
    else:
        kind, outcome = Kind.PAYMENT, Outcome.PENDING
    return ReadNotification(
        channel=CODE,
        kind=kind,
        outcome=outcome,
        channel_status=status,
        out_trade_no=fields["out_trade_no"],
        channel_txn_id=fields["trade_no"],
        amount_fen=wire_yuan_to_fen(fields["total_amount"]),
        notification_id=fields.get("notify_id"),
        out_refund_no=fields.get("out_biz_no") if is_refund else None,
        refund_amount_fen=wire_yuan_to_fen(refund_fee) if is_refund and refund_fee else None,
        fields=fields,
    )
