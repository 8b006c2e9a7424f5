"""WeChat Pay APIv3 as the platform speaks it (docs/channel-formats.md §1).

* Everything the platform sends (notifications and API answers, errors and bodiless 204s
  included) carries `Wechatpay-Timestamp/-Nonce/-Signature/-Serial/-Signature-Type`; the
  signature is SHA256withRSA with the platform key over `timestamp\\nnonce\\nbody\\n`.
* Merchant requests carry `Authorization: WECHATPAY2-SHA256-RSA2048 mchid="..",nonce_str="..",
  signature="..",timestamp="..",serial_no=".."`, signed with the merchant key over
  `METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n` (URL = path and query as sent).
* Notification body: `{id, create_time, resource_type:"encrypt-resource", event_type, summary,
  resource{original_type, algorithm:"AEAD_AES_256_GCM", ciphertext, associated_data, nonce}}`;
  `ciphertext` is Base64(AES-256-GCM(APIv3 key, 12-byte nonce, plaintext) || 16-byte tag).
* Payments are notified only when they succeed (TRANSACTION.SUCCESS); refunds as
  REFUND.SUCCESS / REFUND.ABNORMAL.
"""

from __future__ import annotations

import base64
import uuid
from collections.abc import Mapping
from typing import Final

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

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
    WireFormatError,
    channel_time,
    dump_json_compact,
    format_auth_params,
    new_nonce,
    parse_auth_params,
    parse_json_object,
    rsa_sign_b64,
    rsa_verify_b64,
    split_scheme,
)

CODE: Final = "wechatpay"
SIGNATURE_TYPE: Final = "WECHATPAY2-SHA256-RSA2048"
HEADER_TIMESTAMP: Final = "Wechatpay-Timestamp"
HEADER_NONCE: Final = "Wechatpay-Nonce"
HEADER_SIGNATURE: Final = "Wechatpay-Signature"
HEADER_SERIAL: Final = "Wechatpay-Serial"
HEADER_SIGNATURE_TYPE: Final = "Wechatpay-Signature-Type"
HEADER_REQUEST_ID: Final = "Request-ID"
RESOURCE_TYPE: Final = "encrypt-resource"
ALGORITHM: Final = "AEAD_AES_256_GCM"
RESOURCE_NONCE_LEN: Final = 12
CLOCK_SKEW_MAX_S: Final = 300
PAYER_OPENID: Final = "oSandbox0000000000000000000"
_AUTH_FIELDS: Final = ("mchid", "nonce_str", "signature", "timestamp", "serial_no")
_REFUND_STATUS: Final[Mapping[Outcome, tuple[str, str]]] = {
    Outcome.REFUNDED: ("SUCCESS", "退款成功"),
    Outcome.FAILED: ("ABNORMAL", "退款异常"),
}


# ---------------------------------------------------------------- what the platform signs


def platform_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """`timestamp\\nnonce\\nbody\\n`: what the platform key signs."""
    return timestamp.encode("ascii") + b"\n" + nonce.encode("ascii") + b"\n" + body + b"\n"


def platform_headers(
    keys: SandboxKeySet, body: bytes, *, now_s: int, nonce: str | None = None
) -> dict[str, str]:
    """The `Wechatpay-*` headers of a body the platform sends."""
    timestamp, nonce = str(now_s), nonce or new_nonce()
    signature = rsa_sign_b64(keys.channel_private_key, platform_message(timestamp, nonce, body))
    return {
        HEADER_TIMESTAMP: timestamp,
        HEADER_NONCE: nonce,
        HEADER_SIGNATURE: signature,
        HEADER_SERIAL: keys.id("serial"),
        HEADER_SIGNATURE_TYPE: SIGNATURE_TYPE,
    }


# ---------------------------------------------------------------- merchant requests


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """`METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`: what the merchant key signs."""
    return f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n".encode() + body + b"\n"


def verify_request(
    keys: SandboxKeySet,
    authorization: str | None,
    *,
    method: str,
    url: str,
    body: bytes,
    now_s: int,
) -> None:
    """Check a merchant request's Authorization; RequestRejected names what is wrong."""
    if not authorization:
        raise RequestRejected("Authorization header is missing")
    try:
        params = parse_auth_params(split_scheme(authorization, SIGNATURE_TYPE))
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    missing = [name for name in _AUTH_FIELDS if not params.get(name)]
    if missing:
        raise RequestRejected(f"authorization lacks {', '.join(missing)}")
    if params["mchid"] != keys.id("mchid") or params["serial_no"] != keys.id("merchant_serial"):
        raise RequestRejected("authorization names another merchant or certificate")
    timestamp = params["timestamp"]
    if not (timestamp.isascii() and timestamp.isdigit() and len(timestamp) <= 12):
        raise RequestRejected("authorization timestamp is not Unix seconds")
    if abs(now_s - int(timestamp)) > CLOCK_SKEW_MAX_S:
        raise RequestRejected("authorization timestamp is outside the clock window")
    message = request_message(method, url, timestamp, params["nonce_str"], body)
    if not rsa_verify_b64(keys.merchant_public_key, params["signature"], message):
        raise RequestRejected("authorization signature does not verify")


def merchant_authorization(
    keys: SandboxKeySet, method: str, url: str, body: bytes, *, now_s: int
) -> str:
    """The merchant's Authorization value (test kit: the sandbox's tests play the merchant)."""
    timestamp, nonce = str(now_s), new_nonce()
    message = request_message(method, url, timestamp, nonce, body)
    signature = rsa_sign_b64(keys.require_merchant_private_key(), message)
    params = zip(
        _AUTH_FIELDS,
        (keys.id("mchid"), nonce, signature, timestamp, keys.id("merchant_serial")),
        strict=True,
    )
    return f"{SIGNATURE_TYPE} {format_auth_params(params)}"


# ---------------------------------------------------------------- notifications


def encrypt_resource(apiv3_key: bytes, plaintext: bytes, *, nonce: str, associated: str) -> str:
    """Base64(ciphertext || tag) of AES-256-GCM with the APIv3 key."""
    sealed = AESGCM(apiv3_key).encrypt(nonce.encode("ascii"), plaintext, associated.encode())
    return base64.b64encode(sealed).decode("ascii")


def transaction_resource(
    keys: SandboxKeySet, event: NotificationEvent, now_s: int
) -> dict[str, object]:
    """The decrypted `transaction` of a successful payment (§1.5)."""
    return {
        "mchid": keys.id("mchid"),
        "appid": keys.id("appid"),
        "out_trade_no": event.out_trade_no,
        "transaction_id": event.channel_txn_id,
        "trade_type": "APP",
        "trade_state": "SUCCESS",
        "trade_state_desc": "支付成功",
        "bank_type": "OTHERS",
        "attach": "",
        "success_time": channel_time(now_s).isoformat(),
        "payer": {"openid": PAYER_OPENID},
        "amount": {
            "total": event.amount_fen,
            "payer_total": event.amount_fen,
            "currency": "CNY",
            "payer_currency": "CNY",
        },
    }


def refund_resource(keys: SandboxKeySet, event: NotificationEvent, now_s: int) -> dict[str, object]:
    """The decrypted `refund` of a refund notification (§1.8)."""
    assert event.refund is not None
    status = _REFUND_STATUS[event.outcome][0]
    resource: dict[str, object] = {
        "mchid": keys.id("mchid"),
        "out_trade_no": event.out_trade_no,
        "transaction_id": event.channel_txn_id,
        "out_refund_no": event.refund.out_refund_no,
        "refund_id": event.refund.refund_id,
        "refund_status": status,
        "user_received_account": "支付用户零钱",
        "amount": {
            "total": event.amount_fen,
            "refund": event.refund.amount_fen,
            "payer_total": event.amount_fen,
            "payer_refund": event.refund.amount_fen,
        },
    }
    if status == "SUCCESS":
        resource["success_time"] = channel_time(now_s).isoformat()
    return resource


def notification(
    keys: SandboxKeySet,
    event: NotificationEvent,
    *,
    now_s: int,
    notification_id: str | None = None,
    resource_nonce: str | None = None,
    header_nonce: str | None = None,
) -> SignedNotification:
    """A signed TRANSACTION.SUCCESS or REFUND.* notification (ids and nonces fixable)."""
    if event.kind is Kind.PAYMENT:
        if event.outcome is not Outcome.SUCCEEDED:
            raise ValueError("WeChat Pay notifies payments only when they succeed")
        resource = transaction_resource(keys, event, now_s)
        original, event_type, summary = "transaction", "TRANSACTION.SUCCESS", "支付成功"
    else:
        resource = refund_resource(keys, event, now_s)
        status, summary = _REFUND_STATUS[event.outcome]
        original, event_type = "refund", f"REFUND.{status}"
    return envelope_notification(
        keys,
        dump_json_compact({**resource, **event.extra_fields}),
        original_type=original,
        event_type=event_type,
        summary=summary,
        now_s=now_s,
        notification_id=notification_id,
        resource_nonce=resource_nonce,
        header_nonce=header_nonce,
    )


def envelope_notification(
    keys: SandboxKeySet,
    plaintext: bytes,
    *,
    original_type: str,
    event_type: str,
    summary: str,
    now_s: int,
    notification_id: str | None = None,
    resource_nonce: str | None = None,
    header_nonce: str | None = None,
    apiv3_key: bytes | None = None,
) -> SignedNotification:
    """`plaintext` encrypted as the resource of a signed envelope (any resource, any key)."""
    nonce = resource_nonce or new_nonce(RESOURCE_NONCE_LEN)
    envelope = {
        "id": notification_id or str(uuid.uuid4()),
        "create_time": channel_time(now_s).isoformat(),
        "resource_type": RESOURCE_TYPE,
        "event_type": event_type,
        "summary": summary,
        "resource": {
            "original_type": original_type,
            "algorithm": ALGORITHM,
            "ciphertext": encrypt_resource(
                apiv3_key or keys.require_apiv3_key(),
                plaintext,
                nonce=nonce,
                associated=original_type,
            ),
            "associated_data": original_type,
            "nonce": nonce,
        },
    }
    body = dump_json_compact(envelope)
    headers = platform_headers(keys, body, now_s=now_s, nonce=header_nonce)
    headers |= {"Content-Type": "application/json", HEADER_REQUEST_ID: str(uuid.uuid4())}
    return SignedNotification(headers=headers, body=body)


def resign(keys: SandboxKeySet, signed: SignedNotification, *, now_s: int) -> SignedNotification:
    """The same body with a fresh timestamped signature (WeChat signs every retry)."""
    fresh = platform_headers(keys, signed.body, now_s=now_s)
    return SignedNotification(headers={**signed.headers, **fresh}, body=signed.body)


# ---------------------------------------------------------------- the merchant's reading (tests)


def read_notification(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    """Verify and decrypt a notification as a merchant would; RequestRejected otherwise."""
    lower = {name.lower(): value for name, value in headers.items()}
    timestamp = lower.get(HEADER_TIMESTAMP.lower(), "")
    nonce = lower.get(HEADER_NONCE.lower(), "")
    if lower.get(HEADER_SERIAL.lower()) != keys.id("serial"):
        raise RequestRejected("Wechatpay-Serial is not the platform certificate")
    if not timestamp.isdigit() or abs(now_s - int(timestamp)) > CLOCK_SKEW_MAX_S:
        raise RequestRejected("Wechatpay-Timestamp is outside the clock window")
    signature = lower.get(HEADER_SIGNATURE.lower(), "")
    if not rsa_verify_b64(
        keys.channel_public_key, signature, platform_message(timestamp, nonce, body)
    ):
        raise RequestRejected("Wechatpay-Signature does not verify")
    envelope = parse_json_object(body, "notification")
    resource = envelope["resource"]
    assert isinstance(resource, dict)
    try:
        plaintext = AESGCM(keys.require_apiv3_key()).decrypt(
            str(resource["nonce"]).encode(),
            base64.b64decode(str(resource["ciphertext"])),
            str(resource["associated_data"]).encode(),
        )
    except InvalidTag:
        raise RequestRejected("resource does not decrypt") from None
    fields = parse_json_object(plaintext, "resource")
    return _read_resource(str(resource["original_type"]), fields, str(envelope["id"]))


def _read_resource(
    original: str, fields: dict[str, object], notification_id: str
) -> ReadNotification:
    amount = fields["amount"]
    assert isinstance(amount, dict)
    if original == "transaction":
        status = str(fields["trade_state"])
        kind, outcome = Kind.PAYMENT, Outcome.SUCCEEDED if status == "SUCCESS" else Outcome.PENDING
        refund_no, refund_fen = None, None
    else:
        status = str(fields["refund_status"])
        kind, outcome = Kind.REFUND, Outcome.REFUNDED if status == "SUCCESS" else Outcome.FAILED
        refund_no, refund_fen = str(fields["out_refund_no"]), int(amount["refund"])
    return ReadNotification(
        channel=CODE,
        kind=kind,
        outcome=outcome,
        channel_status=status,
        out_trade_no=str(fields["out_trade_no"]),
        channel_txn_id=str(fields.get("transaction_id", "")),
        amount_fen=int(amount["total"]),
        notification_id=notification_id,
        out_refund_no=refund_no,
        refund_amount_fen=refund_fen,
        fields=fields,
    )
