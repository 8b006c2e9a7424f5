"""Lakala open platform v3 as Lakala speaks it (docs/channel-formats.md §6.2).

* Merchant requests: `Authorization: LKLAPI-SHA256withRSA appid="..",serial_no="..",
  timestamp="..",nonce_str="..",signature=".."`, merchant key over
  `appid\\nserial_no\\ntimestamp\\nnonce_str\\nbody\\n`.
* Lakala's responses: `Lklapi-Appid/-Serial/-Timestamp/-Nonce/-Signature`, Lakala key over
  `appid\\nserial\\ntimestamp\\nnonce\\nbody\\n`.
* Notifications: `Authorization: LKLAPI-SHA256withRSA timestamp="..",nonce_str="..",
  signature=".."`, Lakala key over `timestamp\\nnonce_str\\nbody\\n`. Two body shapes:
  收银台 (`order_status`, `total_amount` an integer in fen, `order_trade_info`) and 聚合扫码
  (flat, `trade_state`, amounts as fen digit strings, `log_no` = last 14 of `trade_no`).
* Answer that stops retries: `{"code":"SUCCESS","message":"执行成功"}`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

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

CODE: Final = "lakala"
AUTH_SCHEME: Final = "LKLAPI-SHA256withRSA"
LOG_NO_LEN: Final = 14
TIME_FORMAT: Final = "%Y%m%d%H%M%S"
CLOCK_SKEW_MAX_S: Final = 300
TERM_NO: Final = "A0000001"
USER_ID1: Final = "oSandbox"
_REQUEST_FIELDS: Final = ("appid", "serial_no", "timestamp", "nonce_str", "signature")
_NOTIFY_FIELDS: Final = ("timestamp", "nonce_str", "signature")
BodyShape = Literal["cashier", "labs"]
_ORDER_STATUS: Final[Mapping[Outcome, str]] = {
    Outcome.SUCCEEDED: "2",
    Outcome.PENDING: "1",
    Outcome.FAILED: "3",
    Outcome.REFUNDED: "6",
}
_TRADE_STATE: Final[Mapping[Outcome, str]] = {
    Outcome.SUCCEEDED: "SUCCESS",
    Outcome.PENDING: "DEAL",
    Outcome.FAILED: "FAIL",
    Outcome.REFUNDED: "REFUND",
}


def lakala_time(now_s: int) -> str:
    """`yyyyMMddHHmmss` in UTC+8."""
    return channel_time(now_s).strftime(TIME_FORMAT)


def log_no(trade_no: str) -> str:
    """The statement key: the last 14 characters of a `trade_no`."""
    return trade_no[-LOG_NO_LEN:]


def _lines(*parts: str) -> bytes:
    return "".join(f"{part}\n" for part in parts).encode("utf-8")


# ---------------------------------------------------------------- requests and responses


def api_message(appid: str, serial: str, timestamp: str, nonce: str, body: bytes) -> bytes:
    """`appid\\nserial\\ntimestamp\\nnonce\\nbody\\n` (requests and responses alike)."""
    return _lines(appid, serial, timestamp, nonce) + body + b"\n"


def _timestamp_ok(timestamp: str, now_s: int) -> bool:
    return (
        timestamp.isascii()
        and timestamp.isdigit()
        and len(timestamp) <= 12
        and abs(now_s - int(timestamp)) <= CLOCK_SKEW_MAX_S
    )


def _auth_params(authorization: str | None, required: tuple[str, ...]) -> dict[str, str]:
    if not authorization:
        raise RequestRejected("Authorization header is missing")
    try:
        params = parse_auth_params(split_scheme(authorization, AUTH_SCHEME))
    except WireFormatError as exc:
        raise RequestRejected(str(exc)) from None
    missing = [name for name in required if not params.get(name)]
    if missing:
        raise RequestRejected(f"authorization lacks {', '.join(missing)}")
    return params


def verify_request(
    keys: SandboxKeySet, authorization: str | None, body: bytes, *, now_s: int
) -> None:
    """Check a merchant request's Authorization; RequestRejected otherwise."""
    params = _auth_params(authorization, _REQUEST_FIELDS)
    if params["appid"] != keys.id("appid") or params["serial_no"] != keys.id("serial_no"):
        raise RequestRejected("authorization names another appid or certificate")
    if not _timestamp_ok(params["timestamp"], now_s):
        raise RequestRejected("authorization timestamp is outside the clock window")
    message = api_message(
        params["appid"], params["serial_no"], params["timestamp"], params["nonce_str"], body
    )
    if not rsa_verify_b64(keys.merchant_public_key, params["signature"], message):
        raise RequestRejected("authorization signature does not verify")


def response_headers(keys: SandboxKeySet, body: bytes, *, now_s: int) -> dict[str, str]:
    """The `Lklapi-*` headers of a response body."""
    appid, serial, timestamp, nonce = (
        keys.id("appid"),
        keys.id("serial_no"),
        str(now_s),
        new_nonce(),
    )
    message = api_message(appid, serial, timestamp, nonce, body)
    return {
        "Lklapi-Appid": appid,
        "Lklapi-Serial": serial,
        "Lklapi-Timestamp": timestamp,
        "Lklapi-Nonce": nonce,
        "Lklapi-Signature": rsa_sign_b64(keys.channel_private_key, message),
    }


def merchant_authorization(keys: SandboxKeySet, body: bytes, *, now_s: int) -> str:
    """The merchant's request Authorization (test kit: the sandbox's tests play the merchant)."""
    appid, serial, timestamp, nonce = (
        keys.id("appid"),
        keys.id("serial_no"),
        str(now_s),
        new_nonce(),
    )
    message = api_message(appid, serial, timestamp, nonce, body)
    signature = rsa_sign_b64(keys.require_merchant_private_key(), message)
    values = (appid, serial, timestamp, nonce, signature)
    return f"{AUTH_SCHEME} {format_auth_params(zip(_REQUEST_FIELDS, values, strict=True))}"


def verify_response(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> None:
    """Check a response's `Lklapi-*` signature (test kit)."""
    lower = {name.lower(): value for name, value in headers.items()}
    appid, serial = lower.get("lklapi-appid", ""), lower.get("lklapi-serial", "")
    timestamp, nonce = lower.get("lklapi-timestamp", ""), lower.get("lklapi-nonce", "")
    if appid != keys.id("appid") or serial != keys.id("serial_no"):
        raise RequestRejected("response names another appid or certificate")
    if not _timestamp_ok(timestamp, now_s):
        raise RequestRejected("response timestamp is outside the clock window")
    message = api_message(appid, serial, timestamp, nonce, body)
    if not rsa_verify_b64(keys.channel_public_key, lower.get("lklapi-signature", ""), message):
        raise RequestRejected("response signature does not verify")


# ---------------------------------------------------------------- notifications


def notification_message(timestamp: str, nonce: str, body: bytes) -> bytes:
    """`timestamp\\nnonce_str\\nbody\\n`."""
    return _lines(timestamp, nonce) + body + b"\n"


def notification_authorization(
    keys: SandboxKeySet, body: bytes, *, now_s: int, nonce: str | None = None
) -> str:
    """The Authorization header value of a notification."""
    timestamp, nonce = str(now_s), nonce or new_nonce()
    signature = rsa_sign_b64(keys.channel_private_key, notification_message(timestamp, nonce, body))
    values = (timestamp, nonce, signature)
    return f"{AUTH_SCHEME} {format_auth_params(zip(_NOTIFY_FIELDS, values, strict=True))}"


def cashier_body(keys: SandboxKeySet, event: NotificationEvent, now_s: int) -> dict[str, object]:
    """收银台 order notification."""
    stamp = lakala_time(now_s)
    refund = event.refund
    trade_no = refund.refund_id if refund is not None else event.channel_txn_id
    return {
        "pay_order_no": event.channel_txn_id,
        "out_order_no": event.out_trade_no,
        "channel_id": "95",
        "merchant_no": keys.id("merchant_no"),
        "term_no": TERM_NO,
        "order_status": _ORDER_STATUS[event.outcome],
        "total_amount": event.amount_fen,
        "order_create_time": stamp,
        "order_trade_info": {
            "trade_no": trade_no,
            "log_no": log_no(trade_no),
            "trade_ref_no": "",
            "trade_type": "REFUND" if refund is not None else "PAY",
            "trade_amount": refund.amount_fen if refund is not None else event.amount_fen,
            "trade_time": stamp,
        },
    }


def labs_body(keys: SandboxKeySet, event: NotificationEvent, now_s: int) -> dict[str, object]:
    """聚合扫码 notification (flat; amounts as fen digit strings)."""
    amount = str(event.amount_fen)
    return {
        "merchant_no": keys.id("merchant_no"),
        "out_trade_no": event.out_trade_no,
        "trade_no": event.channel_txn_id,
        "log_no": log_no(event.channel_txn_id),
        "acc_trade_no": "4200001234" + log_no(event.channel_txn_id),
        "account_type": "WECHAT",
        "trade_state": _TRADE_STATE[event.outcome],
        "total_amount": amount,
        "payer_amount": amount,
        "acc_settle_amount": amount,
        "trade_time": lakala_time(now_s),
        "user_id1": USER_ID1,
        "user_id2": "",
    }


def notification(
    keys: SandboxKeySet,
    event: NotificationEvent,
    *,
    now_s: int,
    shape: BodyShape = "cashier",
    nonce: str | None = None,
) -> SignedNotification:
    """A signed notification in the order's body shape."""
    if event.refund is not None and event.outcome is not Outcome.REFUNDED:
        raise ValueError("Lakala announces refunds only once refunded")
    fields = (
        cashier_body(keys, event, now_s) if shape == "cashier" else labs_body(keys, event, now_s)
    )
    body = dump_json_compact({**fields, **event.extra_fields})
    headers = {
        "Authorization": notification_authorization(keys, body, now_s=now_s, nonce=nonce),
        "Content-Type": "application/json",
    }
    return SignedNotification(headers=headers, body=body)


def resign(keys: SandboxKeySet, signed: SignedNotification, *, now_s: int) -> SignedNotification:
    """The same body with a fresh timestamped signature."""
    headers = {
        **signed.headers,
        "Authorization": notification_authorization(keys, signed.body, now_s=now_s),
    }
    return SignedNotification(headers=headers, body=signed.body)


# ---------------------------------------------------------------- the merchant's reading (tests)

_CASHIER_READ: Final[Mapping[str, tuple[Kind, Outcome]]] = {
    "2": (Kind.PAYMENT, Outcome.SUCCEEDED),
    "3": (Kind.PAYMENT, Outcome.FAILED),
    "6": (Kind.REFUND, Outcome.REFUNDED),
}
_LABS_READ: Final[Mapping[str, tuple[Kind, Outcome]]] = {
    "SUCCESS": (Kind.PAYMENT, Outcome.SUCCEEDED),
    "FAIL": (Kind.PAYMENT, Outcome.FAILED),
    "PART_REFUND": (Kind.REFUND, Outcome.REFUNDED),
    "REFUND": (Kind.REFUND, Outcome.REFUNDED),
}


def read_notification(
    keys: SandboxKeySet, headers: Mapping[str, str], body: bytes, *, now_s: int
) -> ReadNotification:
    """Verify and read a notification as a merchant would; RequestRejected otherwise."""
    lower = {name.lower(): value for name, value in headers.items()}
    params = _auth_params(lower.get("authorization"), _NOTIFY_FIELDS)
    if not _timestamp_ok(params["timestamp"], now_s):
        raise RequestRejected("notification timestamp is outside the clock window")
    message = notification_message(params["timestamp"], params["nonce_str"], body)
    if not rsa_verify_b64(keys.channel_public_key, params["signature"], message):
        raise RequestRejected("notification signature does not verify")
    data = parse_json_object(body, "notification")
    if "order_status" in data:
        return _read_cashier(data)
    return _read_labs(data)


def _read_cashier(data: dict[str, object]) -> ReadNotification:
    status = str(data["order_status"])
    kind, outcome = _CASHIER_READ.get(status, (Kind.PAYMENT, Outcome.PENDING))
    info = data.get("order_trade_info")
    trade_amount = info.get("trade_amount") if isinstance(info, dict) else None
    refund_fen = (
        int(str(trade_amount)) if kind is Kind.REFUND and trade_amount is not None else None
    )
    return ReadNotification(
        channel=CODE,
        kind=kind,
        outcome=outcome,
        channel_status=status,
        out_trade_no=str(data["out_order_no"]),
        channel_txn_id=str(data["pay_order_no"]),
        amount_fen=int(str(data["total_amount"])),
        refund_amount_fen=refund_fen,
        fields=data,
    )


def _read_labs(data: dict[str, object]) -> ReadNotification:
    state = str(data["trade_state"])
    kind, outcome = _LABS_READ.get(state, (Kind.PAYMENT, Outcome.PENDING))
    refund_amount = data.get("refund_amount")
    return ReadNotification(
        channel=CODE,
        kind=kind,
        outcome=outcome,
        channel_status=state,
        out_trade_no=str(data["out_trade_no"]),
        channel_txn_id=str(data["trade_no"]),
        amount_fen=int(str(data["total_amount"])),
        out_refund_no=str(data["out_refund_no"])
        if kind is Kind.REFUND and "out_refund_no" in data
        else None,
        refund_amount_fen=int(str(refund_amount))
        if kind is Kind.REFUND and refund_amount
        else None,
        fields=data,
    )
