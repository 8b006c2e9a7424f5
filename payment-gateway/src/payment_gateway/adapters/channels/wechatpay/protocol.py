"""WeChat Pay APIv3 wire protocol, our (the merchant's) side (docs/channel-formats.md §1).

* Signed messages (notifications §1.1–1.2, and API responses, which WeChat signs the same way):
  headers `Wechatpay-Timestamp/-Nonce/-Signature/-Serial/-Signature-Type`, message
  `ts\\nnonce\\nRAW body\\n`, SHA256withRSA PKCS#1 v1.5 with the platform key chosen by serial.
  Unknown serials, `WECHATPAY/SIGNTEST/` probes and timestamps more than 300 s away are rejected.
  `Wechatpay-Signature-Type` is checked when present and tolerated when absent (it names the only
  algorithm there is).
* Notification body (§1.3–1.4): envelope JSON with an AEAD_AES_256_GCM `resource`.
* Our API requests: `Authorization: WECHATPAY2-SHA256-RSA2048 mchid=..,nonce_str=..,signature=..,
  timestamp=..,serial_no=..` over `METHOD\\nURL\\nts\\nnonce\\nbody\\n` (URL = path and query).
* App pay parameters after prepay: sign over `appid\\ntimestamp\\nnonce\\nprepay_id\\n`.
* Answers (§1.6): success 204 without body; failure 4xx/5xx `{"code":"FAIL","message":"失败"}`.

The platform's side (signing notifications and responses, encrypting resources, checking our
signatures) is not here: the channel sandbox plays it (`channel_sandbox.channels.wechatpay`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import (
    CLOCK_SKEW_MAX_S_DEFAULT,
    CallbackAnswer,
)
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wechatpay.aead import (
    ALGORITHM,
    decrypt_resource,
)
from payment_gateway.adapters.channels.wechatpay.models import NotificationEnvelope
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    HeaderView,
    check_body_size,
    check_timestamp_window,
    format_auth_params,
    parse_json_object,
    parse_unix_seconds,
    require_token,
    validate_model,
)
from payment_gateway.errors import (
    Malformed,
    SignatureProbe,
    UnknownSigningKey,
    UnsupportedSignType,
)

SIGNATURE_TYPE: Final = "WECHATPAY2-SHA256-RSA2048"
HEADER_TIMESTAMP: Final = "Wechatpay-Timestamp"
HEADER_NONCE: Final = "Wechatpay-Nonce"
HEADER_SIGNATURE: Final = "Wechatpay-Signature"
HEADER_SERIAL: Final = "Wechatpay-Serial"
HEADER_SIGNATURE_TYPE: Final = "Wechatpay-Signature-Type"
HEADER_REQUEST_ID: Final = "Request-ID"
SIGNTEST_PREFIX: Final = "WECHATPAY/SIGNTEST/"
RESOURCE_TYPE: Final = "encrypt-resource"
NONCE_LEN: Final = 32
NONCE_LEN_MAX: Final = 64
SERIAL_LEN_MAX: Final = 64
APP_PAY_PACKAGE: Final = "Sign=WXPay"
FAILURE_BODY: Final = '{"code":"FAIL","message":"失败"}'.encode()
_NONCE_ALPHABET: Final = string.ascii_letters + string.digits


def new_nonce(length: int = NONCE_LEN) -> str:
    """A random alphanumeric nonce (WeChat uses 32 characters)."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(length))


# ---------------------------------------------------------------- signed messages


@dataclass(frozen=True)
class SignedMessageHeaders:
    """The verified `Wechatpay-*` header values."""

    serial: str
    timestamp_s: int
    nonce: str
    request_id: str | None


def signed_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """`timestamp\\nnonce\\nbody\\n`, the bytes WeChat signs for notifications and responses."""
    return b"".join((timestamp.encode("ascii"), b"\n", nonce.encode("ascii"), b"\n", body, b"\n"))


def verify_signed_headers(
    headers: Mapping[str, str],
    body: bytes,
    *,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    now_s: int,
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
) -> SignedMessageHeaders:
    """Verify `Wechatpay-*` headers over `body` (a notification or an API response)."""
    view = HeaderView(headers)
    signature = view.require(HEADER_SIGNATURE)
    if signature.startswith(SIGNTEST_PREFIX):
        raise SignatureProbe("WeChat signature probe; must fail verification")
    serial = require_token(view.require(HEADER_SERIAL), HEADER_SERIAL, max_len=SERIAL_LEN_MAX)
    timestamp = view.require(HEADER_TIMESTAMP)
    nonce = require_token(view.require(HEADER_NONCE), HEADER_NONCE, max_len=NONCE_LEN_MAX)
    signature_type = view.get(HEADER_SIGNATURE_TYPE)
    if signature_type is not None and signature_type != SIGNATURE_TYPE:
        raise UnsupportedSignType("Wechatpay-Signature-Type is not WECHATPAY2-SHA256-RSA2048")
    key = platform_keys.get(serial)
    if key is None:
        raise UnknownSigningKey("Wechatpay-Serial names no platform key we know")
    timestamp_s = parse_unix_seconds(timestamp, HEADER_TIMESTAMP)
    check_timestamp_window(timestamp_s, now_s, clock_skew_max_s)
    verify_b64(key, signature, signed_message(timestamp, nonce, body))
    return SignedMessageHeaders(serial, timestamp_s, nonce, view.get(HEADER_REQUEST_ID))


def verify_notification_signature(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    platform_keys: Mapping[str, rsa.RSAPublicKey],
    now_s: int,
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
) -> SignedMessageHeaders:
    """Our side: check size, then verify a notification's signature over the raw body."""
    check_body_size(raw_body, max_body_bytes)
    return verify_signed_headers(
        headers,
        raw_body,
        platform_keys=platform_keys,
        now_s=now_s,
        clock_skew_max_s=clock_skew_max_s,
    )


# ---------------------------------------------------------------- notification body


def parse_envelope(raw_body: bytes) -> NotificationEnvelope:
    """Parse the (already verified) notification body into its envelope."""
    envelope = validate_model(
        NotificationEnvelope, parse_json_object(raw_body, "notification body"), "notification"
    )
    if envelope.resource_type != RESOURCE_TYPE:
        raise Malformed("resource_type is not encrypt-resource")
    if envelope.resource.algorithm != ALGORITHM:
        raise Malformed("resource algorithm is not AEAD_AES_256_GCM")
    return envelope


def decrypt_envelope(envelope: NotificationEnvelope, apiv3_key: bytes) -> bytes:
    """Decrypt the envelope's resource with the APIv3 key."""
    resource = envelope.resource
    return decrypt_resource(
        apiv3_key,
        nonce=resource.nonce,
        associated_data=resource.associated_data,
        ciphertext_b64=resource.ciphertext,
    )


# ---------------------------------------------------------------- our API requests


@dataclass(frozen=True)
class AuthorizationParams:
    """The parameters of a `WECHATPAY2-SHA256-RSA2048` Authorization header."""

    mchid: str
    nonce_str: str
    signature: str
    timestamp: str
    serial_no: str


def request_message(method: str, url: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """`METHOD\\nURL\\ntimestamp\\nnonce\\nbody\\n`; `url` is the path with its query string."""
    head = f"{method.upper()}\n{url}\n{timestamp}\n{nonce}\n".encode()
    return head + body + b"\n"


def build_authorization(
    method: str,
    url: str,
    body: bytes,
    *,
    mchid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    timestamp_s: int,
    nonce: str | None = None,
) -> str:
    """Our side: the Authorization header value for an APIv3 request."""
    timestamp, nonce = str(timestamp_s), nonce or new_nonce()
    signature = sign_b64(private_key, request_message(method, url, timestamp, nonce, body))
    params = AuthorizationParams(mchid, nonce, signature, timestamp, serial_no)
    return f"{SIGNATURE_TYPE} {format_auth_params(asdict(params).items())}"


# ---------------------------------------------------------------- app pay


@dataclass(frozen=True)
class AppPayParams:
    """What the app passes to the WeChat SDK after prepay (APP 调起支付)."""

    appid: str
    partnerid: str
    prepayid: str
    package: str
    noncestr: str
    timestamp: str
    sign: str

    def as_dict(self) -> dict[str, str]:
        """The parameters under the names the app SDK expects."""
        return asdict(self)


def app_pay_message(appid: str, timestamp: str, nonce: str, prepay_id: str) -> bytes:
    """`appid\\ntimestamp\\nnonce\\nprepay_id\\n`."""
    return f"{appid}\n{timestamp}\n{nonce}\n{prepay_id}\n".encode()


def build_app_pay_params(
    *,
    appid: str,
    mchid: str,
    prepay_id: str,
    private_key: rsa.RSAPrivateKey,
    timestamp_s: int,
    nonce: str | None = None,
) -> AppPayParams:
    """Our side: sign the app pay parameters with the merchant key."""
    timestamp, nonce = str(timestamp_s), nonce or new_nonce()
    sign = sign_b64(private_key, app_pay_message(appid, timestamp, nonce, prepay_id))
    return AppPayParams(appid, mchid, prepay_id, APP_PAY_PACKAGE, nonce, timestamp, sign)


# ---------------------------------------------------------------- answers


def success_answer() -> CallbackAnswer:
    """HTTP 204 without body: WeChat stops retrying."""
    return CallbackAnswer(status_code=204, body=b"", media_type=None)


def failure_answer(status_code: int = 400) -> CallbackAnswer:
    """HTTP 4xx/5xx with `{"code":"FAIL","message":"失败"}`: WeChat retries."""
    if not 400 <= status_code <= 599:
        raise ValueError("WeChat failure answers need a 4xx or 5xx status")
    return CallbackAnswer(status_code=status_code, body=FAILURE_BODY, media_type="application/json")
