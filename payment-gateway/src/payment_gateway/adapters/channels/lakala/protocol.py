"""Lakala open platform v3 wire protocol, our side (docs/channel-formats.md §6.2).

* Our requests: `Authorization: LKLAPI-SHA256withRSA appid="..",serial_no="..",timestamp="..",
  nonce_str="..",signature=".."` over `appid\\nserial_no\\ntimestamp\\nnonce_str\\nbody\\n`.
* Lakala's responses: headers `Lklapi-Appid/-Serial/-Timestamp/-Nonce/-Signature` over
  `appid\\nserial\\ntimestamp\\nnonce\\nbody\\n`.
* Notifications: `Authorization: LKLAPI-SHA256withRSA timestamp="..",nonce_str="..",
  signature=".."` over `timestamp\\nnonce_str\\nbody\\n`. All SHA256withRSA, timestamps in Unix
  seconds. Lakala's SDK checks no clock window on notifications; we apply the same 300 s window
  as for WeChat (configurable), which assumes Lakala re-signs each retry.
* Answer: `{"code":"SUCCESS","message":"执行成功"}`; failure `{"code":"FAIL","message":"失败"}`.

ids.json has one `serial_no`; with dev keys it names both our merchant certificate (requests)
and Lakala's platform certificate (responses). Real deployments configure the two separately.
Lakala's side (checking our requests, signing responses and notifications) is the channel
sandbox's (`channel_sandbox.channels.lakala`).
"""

from __future__ import annotations

import secrets
import string
from collections.abc import Mapping
from typing import Final

from cryptography.hazmat.primitives.asymmetric import rsa

from payment_gateway.adapters.channels.contract import CLOCK_SKEW_MAX_S_DEFAULT, CallbackAnswer
from payment_gateway.adapters.channels.lakala.models import CashierNotification, LabsNotification
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wire_format import (
    BODY_SIZE_MAX_BYTES_DEFAULT,
    HeaderView,
    check_body_size,
    check_timestamp_window,
    format_auth_params,
    parse_auth_params,
    parse_json_object,
    parse_unix_seconds,
    require_token,
    split_scheme,
    validate_model,
)
from payment_gateway.errors import (
    Malformed,
    MissingField,
    UnknownSigningKey,
)

AUTH_SCHEME: Final = "LKLAPI-SHA256withRSA"
HEADER_AUTHORIZATION: Final = "Authorization"
HEADER_APPID: Final = "Lklapi-Appid"
HEADER_SERIAL: Final = "Lklapi-Serial"
HEADER_TIMESTAMP: Final = "Lklapi-Timestamp"
HEADER_NONCE: Final = "Lklapi-Nonce"
HEADER_SIGNATURE: Final = "Lklapi-Signature"
NONCE_LEN: Final = 32
NONCE_LEN_MAX: Final = 64
TOKEN_LEN_MAX: Final = 64
SUCCESS_BODY: Final = '{"code":"SUCCESS","message":"执行成功"}'.encode()
FAILURE_BODY: Final = '{"code":"FAIL","message":"失败"}'.encode()
_NONCE_ALPHABET: Final = string.ascii_letters + string.digits
_REQUEST_AUTH_FIELDS: Final = ("appid", "serial_no", "timestamp", "nonce_str", "signature")
_NOTIFY_AUTH_FIELDS: Final = ("timestamp", "nonce_str", "signature")

LakalaNotification = CashierNotification | LabsNotification


def new_nonce() -> str:
    """A random 32-character alphanumeric nonce, as the Lakala SDK makes."""
    return "".join(secrets.choice(_NONCE_ALPHABET) for _ in range(NONCE_LEN))


def _lines(*parts: str) -> bytes:
    return "".join(f"{part}\n" for part in parts).encode("utf-8")


def _auth_params(authorization: str, required: tuple[str, ...]) -> dict[str, str]:
    params = parse_auth_params(split_scheme(authorization, AUTH_SCHEME))
    for name in required:
        if not params.get(name):
            raise MissingField(name, where="authorization parameter")
    require_token(params["nonce_str"], "nonce_str", max_len=NONCE_LEN_MAX)
    return params


# ---------------------------------------------------------------- our requests


def request_message(appid: str, serial_no: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """`appid\\nserial_no\\ntimestamp\\nnonce_str\\nbody\\n` (also the response message)."""
    return _lines(appid, serial_no, timestamp, nonce) + body + b"\n"


def build_request_authorization(
    body: bytes,
    *,
    appid: str,
    serial_no: str,
    private_key: rsa.RSAPrivateKey,
    timestamp_s: int,
    nonce: str | None = None,
) -> str:
    """Our side: the Authorization header value for a request with `body`."""
    timestamp, nonce = str(timestamp_s), nonce or new_nonce()
    signature = sign_b64(private_key, request_message(appid, serial_no, timestamp, nonce, body))
    params = (appid, serial_no, timestamp, nonce, signature)
    return f"{AUTH_SCHEME} {format_auth_params(zip(_REQUEST_AUTH_FIELDS, params, strict=True))}"


# ---------------------------------------------------------------- Lakala's responses


def verify_response(
    headers: Mapping[str, str],
    body: bytes,
    *,
    lakala_public_key: rsa.RSAPublicKey,
    expected_appid: str,
    expected_serial_no: str,
    now_s: int,
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
) -> None:
    """Our side: verify the `Lklapi-*` signature of a response body."""
    view = HeaderView(headers)
    appid, serial = view.require(HEADER_APPID), view.require(HEADER_SERIAL)
    if appid != expected_appid or serial != expected_serial_no:
        raise UnknownSigningKey("Lklapi-Appid/Lklapi-Serial is not the expected certificate")
    timestamp = view.require(HEADER_TIMESTAMP)
    nonce = require_token(view.require(HEADER_NONCE), HEADER_NONCE, max_len=NONCE_LEN_MAX)
    check_timestamp_window(parse_unix_seconds(timestamp, HEADER_TIMESTAMP), now_s, clock_skew_max_s)
    message = request_message(appid, serial, timestamp, nonce, body)
    verify_b64(lakala_public_key, view.require(HEADER_SIGNATURE), message)


# ---------------------------------------------------------------- notifications


def notification_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """`timestamp\\nnonce_str\\nbody\\n`."""
    return _lines(timestamp, nonce) + body + b"\n"


def verify_notification_signature(
    headers: Mapping[str, str],
    raw_body: bytes,
    *,
    lakala_public_key: rsa.RSAPublicKey,
    now_s: int,
    clock_skew_max_s: int = CLOCK_SKEW_MAX_S_DEFAULT,
    max_body_bytes: int = BODY_SIZE_MAX_BYTES_DEFAULT,
) -> None:
    """Our side: verify a notification's Authorization header over the raw body."""
    check_body_size(raw_body, max_body_bytes)
    params = _auth_params(HeaderView(headers).require(HEADER_AUTHORIZATION), _NOTIFY_AUTH_FIELDS)
    timestamp_s = parse_unix_seconds(params["timestamp"], "timestamp")
    check_timestamp_window(timestamp_s, now_s, clock_skew_max_s)
    message = notification_message(params["timestamp"], params["nonce_str"], raw_body)
    verify_b64(lakala_public_key, params["signature"], message)


def parse_notification_body(raw_body: bytes) -> LakalaNotification:
    """Type a verified body as 收银台 (`order_status`) or 聚合扫码 (`trade_state`)."""
    data = parse_json_object(raw_body, "notification body")
    is_cashier, is_labs = "order_status" in data, "trade_state" in data
    if is_cashier and is_labs:
        raise Malformed("body has both order_status and trade_state")
    if not (is_cashier or is_labs):
        raise MissingField("order_status or trade_state")
    if is_cashier:
        return validate_model(CashierNotification, data, "收银台 notification")
    return validate_model(LabsNotification, data, "聚合扫码 notification")


# ---------------------------------------------------------------- answers


def success_answer() -> CallbackAnswer:
    """HTTP 200 `{"code":"SUCCESS","message":"执行成功"}`: Lakala stops notifying."""
    return CallbackAnswer(status_code=200, body=SUCCESS_BODY, media_type="application/json")


def failure_answer(status_code: int = 400) -> CallbackAnswer:
    """`{"code":"FAIL","message":"失败"}`: anything but SUCCESS makes Lakala retry."""
    return CallbackAnswer(status_code=status_code, body=FAILURE_BODY, media_type="application/json")
