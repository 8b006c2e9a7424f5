"""Lakala v3 protocol (lakala.protocol / models / notification; docs/channel-formats.md §6.2).

Our side is the gateway's code under test; Lakala's side (checking our request signatures,
signing responses and notifications) is the channel sandbox's `channel_sandbox.channels.lakala`.
"""

from __future__ import annotations

import base64
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import base as sandbox_wire
from channel_sandbox.channels import lakala as channel
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.adapters.channels.lakala import protocol
from payment_gateway.adapters.channels.lakala.models import CashierNotification, LabsNotification
from payment_gateway.adapters.channels.lakala.notification import (
    ORDER_STATUS_OUTCOMES,
    TRADE_STATE_OUTCOMES,
    LakalaChannel,
    cashier_to_verified,
    labs_to_verified,
)
from payment_gateway.errors import (
    BadSignature,
    Malformed,
    MissingField,
    StaleTimestamp,
    UnknownSigningKey,
)

NOW_S = 1_704_074_407
BODY = b'{"req_time":"20240101100007","version":"3.0","req_data":{"merchant_no":"822"}}'
REQUEST_AUTH_RE = re.compile(
    r'LKLAPI-SHA256withRSA appid="([^"]+)",serial_no="([^"]+)",timestamp="(\d+)",'
    r'nonce_str="(\w{32})",signature="([A-Za-z0-9+/=]+)"'
)
NOTIFY_AUTH_RE = re.compile(
    r'LKLAPI-SHA256withRSA timestamp="(\d+)",nonce_str="(\w{32})",signature="([A-Za-z0-9+/=]+)"'
)
CASHIER_BODY = {
    "pay_order_no": "21092211012001970631000488042",
    "out_order_no": "ORD20240101000001",
    "channel_id": "95",
    "merchant_no": "822290059430BCY",
    "term_no": "A0000001",
    "order_status": "2",
    "total_amount": 1,
    "order_create_time": "20240101100000",
    "order_trade_info": {
        "trade_no": "2024010110012001970631000488042",
        "log_no": "66210311488042",
        "trade_type": "PAY",
        "trade_amount": 1,
    },
}
LABS_BODY = {
    "merchant_no": "822290059430BCY",
    "out_trade_no": "ORD20240101000001",
    "trade_no": "2024010166210311488042",
    "log_no": "66210311488042",
    "acc_trade_no": "4200001234202401011234567890",
    "account_type": "WECHAT",
    "trade_state": "SUCCESS",
    "total_amount": "100",
    "payer_amount": "100",
    "acc_settle_amount": "100",
    "trade_time": "20240101100005",
}


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("lakala-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="module")
def keys(keys_dir: Path) -> ChannelKeySet:
    """Our side."""
    return load_key_set(keys_dir, "lakala")


@pytest.fixture(scope="module")
def side(keys_dir: Path) -> SandboxKeySet:
    """Lakala's side (the sandbox checks, signs and notifies with it)."""
    return load_channel_keys(keys_dir, "lakala")


def _request_auth(keys: ChannelKeySet, body: bytes = BODY) -> str:
    return protocol.build_request_authorization(
        body,
        appid=keys.id("appid"),
        serial_no=keys.id("serial_no"),
        private_key=keys.merchant_private_key,
        timestamp_s=NOW_S,
    )


def test_request_authorization_format_and_message(keys: ChannelKeySet) -> None:
    match = REQUEST_AUTH_RE.fullmatch(_request_auth(keys))
    assert match is not None
    appid, serial, timestamp, nonce, signature = match.groups()
    assert (appid, serial, timestamp) == (keys.id("appid"), keys.id("serial_no"), str(NOW_S))
    message = f"{appid}\n{serial}\n{timestamp}\n{nonce}\n".encode() + BODY + b"\n"
    keys.merchant_public_key.verify(
        base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256()
    )


def _verify_request(
    keys: ChannelKeySet,
    side: SandboxKeySet,
    body: bytes = BODY,
    *,
    now_s: int = NOW_S,
    appid: str | None = None,
) -> None:
    """Lakala checks our request's Authorization (the sandbox's reading)."""
    if appid is not None:
        side = replace(side, ids={**side.ids, "appid": appid})
    channel.verify_request(side, _request_auth(keys), body, now_s=now_s)


def test_lakala_accepts_our_requests_and_only_those(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    _verify_request(keys, side)
    with pytest.raises(RequestRejected, match="does not verify"):
        _verify_request(keys, side, BODY + b" ")
    with pytest.raises(RequestRejected, match="clock window"):
        _verify_request(keys, side, now_s=NOW_S + 301)
    with pytest.raises(RequestRejected, match="another appid"):
        _verify_request(keys, side, appid="OP1")


def test_lakala_response_signature_verifies(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = b'{"code":"000000","msg":"succ","resp_time":"20240101100007","resp_data":{}}'
    headers = channel.response_headers(side, body, now_s=NOW_S)
    assert set(headers) == {
        "Lklapi-Appid",
        "Lklapi-Serial",
        "Lklapi-Timestamp",
        "Lklapi-Nonce",
        "Lklapi-Signature",
    }

    def verify(headers: dict[str, str], body: bytes) -> None:
        protocol.verify_response(
            headers,
            body,
            lakala_public_key=keys.channel_public_key,
            expected_appid=keys.id("appid"),
            expected_serial_no=keys.id("serial_no"),
            now_s=NOW_S,
        )

    verify({k.lower(): v for k, v in headers.items()}, body)
    with pytest.raises(BadSignature):
        verify(headers, body.replace(b"succ", b"fail"))
    with pytest.raises(UnknownSigningKey):
        verify(headers | {"Lklapi-Serial": "00"}, body)
    with pytest.raises(MissingField):
        verify({k: v for k, v in headers.items() if k != "Lklapi-Nonce"}, body)
    with pytest.raises(StaleTimestamp):
        verify(channel.response_headers(side, body, now_s=NOW_S - 301), body)


def test_notification_authorization_format(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = json.dumps(CASHIER_BODY | {"merchant_no": keys.id("merchant_no")}).encode()
    value = channel.notification_authorization(side, body, now_s=NOW_S)
    match = NOTIFY_AUTH_RE.fullmatch(value)
    assert match is not None
    timestamp, nonce, signature = match.groups()
    message = f"{timestamp}\n{nonce}\n".encode() + body + b"\n"
    keys.channel_public_key.verify(
        base64.b64decode(signature), message, padding.PKCS1v15(), hashes.SHA256()
    )
    verified = LakalaChannel(keys).verify_notification({"authorization": value}, body, now_s=NOW_S)
    assert (verified.out_trade_no, verified.amount_fen) == ("ORD20240101000001", 1)
    with pytest.raises(BadSignature):
        LakalaChannel(keys).verify_notification({"Authorization": value}, body + b" ", now_s=NOW_S)


def test_cashier_body_parses_with_string_or_integer_codes() -> None:
    for status in ("2", 2):
        body = json.dumps(CASHIER_BODY | {"order_status": status, "total_amount": "1"}).encode()
        parsed = protocol.parse_notification_body(body)
        assert isinstance(parsed, CashierNotification)
        verified = cashier_to_verified(parsed)
        assert (verified.outcome, verified.amount_fen) == (Outcome.SUCCEEDED, 1)
        assert verified.reference_ids["log_no"] == "66210311488042"
        assert verified.channel_txn_id == "21092211012001970631000488042"


def test_labs_body_parses_string_amounts() -> None:
    parsed = protocol.parse_notification_body(json.dumps(LABS_BODY).encode())
    assert isinstance(parsed, LabsNotification)
    verified = labs_to_verified(parsed)
    assert verified.amount_fen == 100
    assert verified.reference_ids == {
        "log_no": "66210311488042",
        "acc_trade_no": "4200001234202401011234567890",
    }
    assert verified.merchant_ids == {"merchant_no": "822290059430BCY"}


@pytest.mark.parametrize("amount", ["1.00", "-1", 1.0, True, "１"])
def test_amounts_must_be_whole_fen(amount: object) -> None:
    with pytest.raises(Malformed):
        protocol.parse_notification_body(json.dumps(LABS_BODY | {"total_amount": amount}).encode())


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("0", (NotificationKind.PAYMENT, Outcome.PENDING)),
        ("1", (NotificationKind.PAYMENT, Outcome.PENDING)),
        ("2", (NotificationKind.PAYMENT, Outcome.SUCCEEDED)),
        ("3", (NotificationKind.PAYMENT, Outcome.FAILED)),
        ("4", (NotificationKind.PAYMENT, Outcome.FAILED)),
        ("5", (NotificationKind.PAYMENT, Outcome.FAILED)),
        ("6", (NotificationKind.REFUND, Outcome.REFUNDED)),
        ("7", (NotificationKind.PAYMENT, Outcome.FAILED)),
        ("9", (NotificationKind.PAYMENT, Outcome.PENDING)),
    ],
)
def test_order_status_mapping(status: str, expected: tuple[NotificationKind, Outcome]) -> None:
    parsed = CashierNotification.model_validate(CASHIER_BODY | {"order_status": status})
    verified = cashier_to_verified(parsed)
    assert (verified.kind, verified.outcome) == expected


def test_trade_state_mapping_covers_the_documented_words() -> None:
    documented = {
        "INIT",
        "CREATE",
        "SUCCESS",
        "FAIL",
        "DEAL",
        "UNKNOWN",
        "CLOSE",
        "PART_REFUND",
        "REFUND",
        "REVOKED",
    }
    assert set(TRADE_STATE_OUTCOMES) == documented
    assert set(ORDER_STATUS_OUTCOMES) == {str(code) for code in range(8)}
    parsed = LabsNotification.model_validate(LABS_BODY | {"trade_state": "PART_REFUND"})
    assert labs_to_verified(parsed).kind is NotificationKind.REFUND


def test_a_labs_notification_from_lakala_verifies(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    event = sandbox_wire.NotificationEvent(
        out_trade_no="ORD1", channel_txn_id="2024010166210311488042", amount_fen=5
    )
    signed = channel.notification(side, event, now_s=NOW_S, shape="labs")
    verified = LakalaChannel(keys).verify_notification(signed.headers, signed.body, now_s=NOW_S)
    assert verified.reference_ids["log_no"] == "66210311488042"
    assert (verified.out_trade_no, verified.amount_fen) == ("ORD1", 5)
    assert json.loads(signed.body)["total_amount"] == "5"


def test_answers() -> None:
    success = protocol.success_answer()
    assert json.loads(success.body) == {"code": "SUCCESS", "message": "执行成功"}
    assert success.status_code == 200
    assert json.loads(protocol.failure_answer().body)["code"] == "FAIL"
