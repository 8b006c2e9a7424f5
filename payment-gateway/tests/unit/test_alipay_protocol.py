"""Alipay protocol (alipay.protocol / notification; docs/channel-formats.md §3).

Our side is the gateway's code under test; Alipay's side (signing notifications, checking our
order strings) is the channel sandbox's `channel_sandbox.channels.alipay`, and the §3.3 string
to sign comes from the official document.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from urllib.parse import parse_qsl, quote_plus

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import alipay as channel
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from otd_shared.channel_wire import HashName, rsa_sign_b64
from payment_gateway.adapters.channels.alipay import protocol
from payment_gateway.adapters.channels.alipay.notification import notification_outcome
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.errors import (
    BadSignature,
    Malformed,
    MissingField,
    WrongMerchant,
)

NOW_S = 1_704_074_406

# §3.3 [C] form body (sign is a placeholder) and its computed string to sign.
SECTION_3_3_FORM = (
    b"gmt_create=2024-01-01+10%3A00%3A00&charset=utf-8&subject=%E6%B5%8B%E8%AF%95%E8%AE%A2%E5%8D%95"
    b"&sign=XXXX&buyer_id=2088102177846880&invoice_amount=0.01"
    b"&notify_id=2024010100222100005012345678901234"
    b"&fund_bill_list=%5B%7B%22amount%22%3A%220.01%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D"
    b"&notify_type=trade_status_sync&trade_status=TRADE_SUCCESS&receipt_amount=0.01"
    b"&buyer_pay_amount=0.01&app_id=2021000000000000&sign_type=RSA2&seller_id=2088102177640000"
    b"&gmt_payment=2024-01-01+10%3A00%3A05&notify_time=2024-01-01+10%3A00%3A06&version=1.0"
    b"&out_trade_no=ORD20240101000001&total_amount=0.01&trade_no=2024010122001400001234567890"
    b"&auth_app_id=2021000000000000&point_amount=0.00"
)
SECTION_3_3_STRING_TO_SIGN = (
    "app_id=2021000000000000&auth_app_id=2021000000000000&buyer_id=2088102177846880"
    "&buyer_pay_amount=0.01&charset=utf-8"
    '&fund_bill_list=[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]'
    "&gmt_create=2024-01-01 10:00:00&gmt_payment=2024-01-01 10:00:05&invoice_amount=0.01"
    "&notify_id=2024010100222100005012345678901234&notify_time=2024-01-01 10:00:06"
    "&notify_type=trade_status_sync&out_trade_no=ORD20240101000001&point_amount=0.00"
    "&receipt_amount=0.01&seller_id=2088102177640000&subject=测试订单&total_amount=0.01"
    "&trade_no=2024010122001400001234567890&trade_status=TRADE_SUCCESS&version=1.0"
)
FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("alipay-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="module")
def keys(keys_dir: Path) -> ChannelKeySet:
    """Our side."""
    return load_key_set(keys_dir, "alipay")


@pytest.fixture(scope="module")
def side(keys_dir: Path) -> SandboxKeySet:
    """Alipay's side (the sandbox signs with it)."""
    return load_channel_keys(keys_dir, "alipay")


def _signed_doc_form(side: SandboxKeySet, sign_type: str = "RSA2") -> bytes:
    """The §3.3 form with a real signature over the document's string in place of XXXX."""
    hash_name: HashName = "sha256" if sign_type == "RSA2" else "sha1"
    sign = rsa_sign_b64(side.channel_private_key, SECTION_3_3_STRING_TO_SIGN.encode(), hash_name)
    body = SECTION_3_3_FORM.replace(b"sign_type=RSA2", f"sign_type={sign_type}".encode())
    return body.replace(b"sign=XXXX", f"sign={quote_plus(sign)}".encode())


def test_string_to_sign_reproduces_the_doc_example() -> None:
    fields, charset = protocol.decode_notification_form(
        SECTION_3_3_FORM, content_type=FORM_CONTENT_TYPE
    )
    assert charset == "utf-8"
    assert protocol.notification_sign_content(fields.items()) == SECTION_3_3_STRING_TO_SIGN


def test_the_channel_side_computes_the_doc_string_too() -> None:
    fields = parse_qsl(SECTION_3_3_FORM.decode(), keep_blank_values=True)
    assert channel.notification_sign_content(fields) == SECTION_3_3_STRING_TO_SIGN


@pytest.mark.parametrize("sign_type", ["RSA2", "RSA"])
def test_doc_example_verifies_once_signed(
    keys: ChannelKeySet, side: SandboxKeySet, sign_type: str
) -> None:
    notification = protocol.verify_notification(
        _signed_doc_form(side, sign_type),
        content_type=FORM_CONTENT_TYPE,
        alipay_public_key=keys.channel_public_key,
    )
    assert notification.total_amount_fen == 1
    assert notification.out_trade_no == "ORD20240101000001"
    assert notification.fields["subject"] == "测试订单"
    assert json.loads(notification.fields["fund_bill_list"])[0]["fundChannel"] == "ALIPAYACCOUNT"
    assert notification_outcome(notification) == (NotificationKind.PAYMENT, Outcome.SUCCEEDED)


def test_gbk_declared_only_in_content_type(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    pairs = [
        ("notify_id", "n1"),
        ("app_id", "2021"),
        ("trade_no", "T1"),
        ("out_trade_no", "O1"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "1.00"),
        ("subject", "测试订单"),
    ]
    body = channel.signed_form(side, pairs, charset="gbk").body
    assert b"%B2%E2%CA%D4" in body  # 测试 in GBK
    notification = protocol.verify_notification(
        body,
        content_type="application/x-www-form-urlencoded; charset=GBK",
        alipay_public_key=keys.channel_public_key,
    )
    assert notification.fields["subject"] == "测试订单"


def test_empty_values_are_signed(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    pairs = [
        ("notify_id", "n1"),
        ("app_id", "2021"),
        ("trade_no", "T1"),
        ("out_trade_no", "O1"),
        ("trade_status", "TRADE_SUCCESS"),
        ("total_amount", "1.00"),
        ("charset", "utf-8"),
        ("body", ""),
    ]
    assert "&body=&" in protocol.notification_sign_content(pairs)
    body = channel.signed_form(side, pairs).body
    protocol.verify_notification(body, content_type=None, alipay_public_key=keys.channel_public_key)
    with pytest.raises(BadSignature):
        protocol.verify_notification(
            body.replace(b"body=&", b""),
            content_type=None,
            alipay_public_key=keys.channel_public_key,
        )


def _notification(**fields: str) -> protocol.AlipayNotification:
    base = {
        "notify_id": "n",
        "app_id": "2021",
        "trade_no": "T",
        "out_trade_no": "O",
        "trade_status": "TRADE_SUCCESS",
        "total_amount": "10.00",
        "seller_id": "2088",
    }
    return protocol.parse_notification(base | fields)


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({}, (NotificationKind.PAYMENT, Outcome.SUCCEEDED)),
        ({"trade_status": "TRADE_FINISHED"}, (NotificationKind.PAYMENT, Outcome.SUCCEEDED)),
        ({"trade_status": "WAIT_BUYER_PAY"}, (NotificationKind.PAYMENT, Outcome.PENDING)),
        ({"trade_status": "TRADE_CLOSED"}, (NotificationKind.PAYMENT, Outcome.FAILED)),
        ({"trade_status": "SOMETHING_NEW"}, (NotificationKind.PAYMENT, Outcome.PENDING)),
        (
            {"refund_fee": "3.00", "gmt_refund": "2024-01-02 10:00:00", "out_biz_no": "RF1"},
            (NotificationKind.REFUND, Outcome.REFUNDED),
        ),
        (
            {"trade_status": "TRADE_CLOSED", "refund_fee": "10.00", "gmt_close": "x"},
            (NotificationKind.REFUND, Outcome.REFUNDED),
        ),
    ],
)
def test_status_mapping(fields: dict[str, str], expected: tuple[NotificationKind, Outcome]) -> None:
    assert notification_outcome(_notification(**fields)) == expected


def test_refund_amounts_in_fen() -> None:
    notification = _notification(refund_fee="3.05", out_biz_no="RF1")
    assert notification.is_refund
    assert (notification.total_amount_fen, notification.refund_fee_fen) == (1000, 305)


@pytest.mark.parametrize("amount", ["10.001", "1e1", "-1.00", "ten"])
def test_amounts_must_be_exact_yuan(amount: str) -> None:
    with pytest.raises(Malformed):
        _notification(total_amount=amount)


def test_merchant_checks() -> None:
    notification = _notification()
    protocol.check_app_id(notification, "2021")
    protocol.check_seller_id(notification, "2088")
    with pytest.raises(WrongMerchant):
        protocol.check_app_id(notification, "2022")
    with pytest.raises(WrongMerchant):
        protocol.check_seller_id(notification, "2089")
    with pytest.raises(MissingField):
        _notification(app_id="")


def test_app_pay_order_string(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    order = protocol.build_app_pay_order_string(
        app_id=keys.id("app_id"),
        biz_content=protocol.app_pay_biz_content("ORD1", 12_345, "意向金"),
        notify_url="https://pay.example.com/callbacks/alipay",
        private_key=keys.merchant_private_key,
        now_s=NOW_S,
    )
    params = dict(parse_qsl(order, strict_parsing=True))
    assert params["method"] == "alipay.trade.app.pay"
    assert params["sign_type"] == "RSA2"
    assert params["timestamp"] == "2024-01-01 10:00:06"
    assert json.loads(params["biz_content"])["total_amount"] == "123.45"
    content = "&".join(f"{k}={v}" for k, v in sorted(params.items()) if k != "sign")
    keys.merchant_public_key.verify(
        base64.b64decode(params["sign"]), content.encode(), padding.PKCS1v15(), hashes.SHA256()
    )
    assert channel.verify_order_string(side, order)["app_id"] == keys.id("app_id")
    with pytest.raises(RequestRejected, match="invalid-signature"):
        channel.verify_order_string(side, order.replace("ORD1", "ORD2"))


def test_answers() -> None:
    assert protocol.success_answer().body == b"success"
    assert protocol.success_answer().status_code == 200
    assert protocol.failure_answer().body == b"failure"
