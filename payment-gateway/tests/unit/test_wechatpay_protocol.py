"""WeChat Pay APIv3 protocol (protocol, aead, notification; docs/channel-formats.md §1).

Our side is the gateway's code under test; the platform's side (encrypting resources, signing
notifications, checking our request signatures) is the channel sandbox's
`channel_sandbox.channels.wechatpay`, pinned itself by the official Appendix A vector.
"""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import pytest
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import wechatpay as platform
from channel_sandbox.channels.base import RequestRejected
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from otd_shared.channel_wire import parse_auth_params, split_scheme
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.adapters.channels.wechatpay import protocol
from payment_gateway.adapters.channels.wechatpay.aead import decrypt_resource
from payment_gateway.adapters.channels.wechatpay.notification import (
    REFUND_STATUS_OUTCOMES,
    TRADE_STATE_OUTCOMES,
    WechatPayChannel,
    parse_refund,
    parse_transaction,
    refund_outcome,
    transaction_outcome,
)
from payment_gateway.errors import (
    BadSignature,
    DecryptionFailed,
    Malformed,
    MissingField,
    StaleTimestamp,
    UnknownSigningKey,
)

NOW_S = 1_704_074_405

# Appendix A vector.
APPENDIX_A_KEY = b"TESTAPIV3KEY0123456789abcdefghij"
APPENDIX_A_NONCE = "fakenonce123"
APPENDIX_A_AAD = "transaction"
APPENDIX_A_TAG = "3f11f80c913ab602e83d780f7b6a0916"
APPENDIX_A_CIPHERTEXT = (
    "HtY54X3XTmXmN4FutIcjFXTMTixkq53XWU11YzERG8ZLtUMzzA3w/bO1tY5ME96wr6CLIgDJ1MzgTr0Sm2HisXaNnKXg"
    "XEJQjdDolmssLjfrFf2iPfXuHb6Zk4h31mJoW6ECq4aellG/7/kQTIoOdoYfE6vbafDz796nJlAmbrgMKLr0neTwIlz+"
    "aWR43Hslsma/UPt9tD4tc1+NFrPJpCtMcizDH7RV6cnCrQ8KeZI1x9GJJl7H8G7Z93jWvQga/zH3XyESBZ4ybsTGtwkQ"
    "ZXnc8xL/9fQV8k0MLoNb8LwBTz00PCsX/Wtq1x66SrAwyGK1PEsQg4pTPa7ZVg9xG6yk4JLYm1EZPtXeF3RMKKWQEu74"
    "10yKYCA5Fp9Ar3U9r2Xsmdqwb8iQrpIlf7F+tEpa65savyPS+JDx4QKDwGgoAYxw7qFUGCgd6J9aV6vNoMAmJcmj5FZf"
    "0ItiZ/dWMXdN+mc3i9+rCW9wTGhcDKaFlL1vOF0ZoyRIcBT3SXueqTnZOuYtcEkTQxi8g5TBxgFsfv4HjsEVAxpW/6wY"
    "M1m9/wCyPxH4DJE6tgLoPXgPe2oJFg=="
)
SECTION_1_5_SAMPLE = (
    '{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"ORD20240101000001",'
    '"transaction_id":"4200001234202401011234567890","trade_type":"JSAPI","trade_state":"SUCCESS",'
    '"trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"",'
    '"success_time":"2024-01-01T10:00:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},'
    '"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}'
)
SECTION_1_8_REFUND_SAMPLE = (
    '{"mchid":"1900000100","out_trade_no":"20150806125346",'
    '"refund_id":"50200207182018070300011301001","out_refund_no":"7752501201407033233368018",'
    '"refund_status":"SUCCESS","success_time":"2018-06-08T10:34:56+08:00",'
    '"user_received_account":"招商银行信用卡0403",'
    '"amount":{"total":999,"refund":999,"payer_total":999,"payer_refund":999}}'
)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("wechat-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="module")
def keys(keys_dir: Path) -> ChannelKeySet:
    """Our side."""
    return load_key_set(keys_dir, "wechatpay")


@pytest.fixture(scope="module")
def side(keys_dir: Path) -> SandboxKeySet:
    """The platform's side (the sandbox signs and encrypts with it)."""
    return load_channel_keys(keys_dir, "wechatpay")


# ---------------------------------------------------------------- AEAD


def test_appendix_a_vector_decrypts_to_the_section_1_5_sample() -> None:
    sealed = base64.b64decode(APPENDIX_A_CIPHERTEXT)
    assert len(sealed) == 436
    assert sealed[-16:].hex() == APPENDIX_A_TAG
    plaintext = decrypt_resource(
        APPENDIX_A_KEY,
        nonce=APPENDIX_A_NONCE,
        associated_data=APPENDIX_A_AAD,
        ciphertext_b64=APPENDIX_A_CIPHERTEXT,
    )
    assert len(plaintext) == 420
    assert plaintext.decode() == SECTION_1_5_SAMPLE


def test_appendix_a_vector_is_reproduced_by_the_platform_side() -> None:
    sealed = platform.encrypt_resource(
        APPENDIX_A_KEY,
        SECTION_1_5_SAMPLE.encode(),
        nonce=APPENDIX_A_NONCE,
        associated=APPENDIX_A_AAD,
    )
    assert sealed == APPENDIX_A_CIPHERTEXT


@pytest.mark.parametrize(
    ("key", "nonce", "aad", "ciphertext", "error"),
    [
        (b"X" * 32, APPENDIX_A_NONCE, APPENDIX_A_AAD, APPENDIX_A_CIPHERTEXT, DecryptionFailed),
        (APPENDIX_A_KEY, "fakenonce124", APPENDIX_A_AAD, APPENDIX_A_CIPHERTEXT, DecryptionFailed),
        (APPENDIX_A_KEY, APPENDIX_A_NONCE, "refund", APPENDIX_A_CIPHERTEXT, DecryptionFailed),
        (APPENDIX_A_KEY, APPENDIX_A_NONCE, APPENDIX_A_AAD, APPENDIX_A_CIPHERTEXT[:20], Malformed),
        (APPENDIX_A_KEY, APPENDIX_A_NONCE, APPENDIX_A_AAD, "AAAA", DecryptionFailed),
        (APPENDIX_A_KEY, "short", APPENDIX_A_AAD, APPENDIX_A_CIPHERTEXT, Malformed),
        (APPENDIX_A_KEY, APPENDIX_A_NONCE, APPENDIX_A_AAD, "not base64!", Malformed),
    ],
)
def test_decrypt_rejects(
    key: bytes, nonce: str, aad: str, ciphertext: str, error: type[Exception]
) -> None:
    with pytest.raises(error):
        decrypt_resource(key, nonce=nonce, associated_data=aad, ciphertext_b64=ciphertext)


def test_empty_associated_data_round_trips() -> None:
    sealed = platform.encrypt_resource(APPENDIX_A_KEY, b"{}", nonce="abcdefghijkl", associated="")
    assert (
        decrypt_resource(
            APPENDIX_A_KEY, nonce="abcdefghijkl", associated_data="", ciphertext_b64=sealed
        )
        == b"{}"
    )


# ---------------------------------------------------------------- resources


def test_parse_transaction_sample() -> None:
    tx = parse_transaction(SECTION_1_5_SAMPLE.encode())
    assert tx.amount.total == 100
    assert tx.out_trade_no == "ORD20240101000001"
    assert tx.payer is not None
    assert tx.payer.openid.startswith("oUpF8")


def test_parse_official_refund_sample() -> None:
    refund = parse_refund(SECTION_1_8_REFUND_SAMPLE.encode())
    assert (refund.amount.total, refund.amount.refund) == (999, 999)
    assert refund.transaction_id == ""
    assert refund_outcome(refund.refund_status) is Outcome.REFUNDED


def test_unknown_fields_are_kept() -> None:
    data = json.loads(SECTION_1_5_SAMPLE) | {"promotion_detail": [{"coupon_id": "1"}]}
    tx = parse_transaction(json.dumps(data).encode())
    assert tx.model_dump()["promotion_detail"] == [{"coupon_id": "1"}]


@pytest.mark.parametrize("total", ["100", 100.0, -1, None, True])
def test_transaction_amount_must_be_integer_fen(total: object) -> None:
    data = json.loads(SECTION_1_5_SAMPLE)
    data["amount"]["total"] = total
    with pytest.raises(Malformed):
        parse_transaction(json.dumps(data).encode())


def test_partner_mode_transaction_lacks_mchid() -> None:
    data = json.loads(SECTION_1_5_SAMPLE)
    del data["mchid"]
    data |= {"sp_mchid": "1", "sub_mchid": "2"}
    with pytest.raises(MissingField):
        parse_transaction(json.dumps(data).encode())


@pytest.mark.parametrize(
    ("state", "outcome"),
    [
        ("SUCCESS", Outcome.SUCCEEDED),
        ("REFUND", Outcome.SUCCEEDED),
        ("NOTPAY", Outcome.PENDING),
        ("USERPAYING", Outcome.PENDING),
        ("ACCEPT", Outcome.PENDING),
        ("CLOSED", Outcome.FAILED),
        ("REVOKED", Outcome.FAILED),
        ("PAYERROR", Outcome.FAILED),
        ("SOMETHING_NEW", Outcome.PENDING),
    ],
)
def test_trade_state_mapping(state: str, outcome: Outcome) -> None:
    assert transaction_outcome(state) is outcome


def test_mappings_cover_every_documented_status() -> None:
    documented = {
        "SUCCESS",
        "REFUND",
        "NOTPAY",
        "CLOSED",
        "REVOKED",
        "USERPAYING",
        "PAYERROR",
        "ACCEPT",
    }
    assert set(TRADE_STATE_OUTCOMES) == documented
    assert set(REFUND_STATUS_OUTCOMES) == {"SUCCESS", "CLOSED", "ABNORMAL"}


# ---------------------------------------------------------------- signed messages


def _signed(side: SandboxKeySet, body: bytes, now_s: int = NOW_S) -> dict[str, str]:
    """The platform's `Wechatpay-*` headers over `body` (the sandbox signs)."""
    return platform.platform_headers(side, body, now_s=now_s)


def test_platform_signature_is_sha256_rsa_over_ts_nonce_body(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    body = b'{"id":"1"}'
    headers = _signed(side, body)
    message = (
        f"{headers['Wechatpay-Timestamp']}\n{headers['Wechatpay-Nonce']}\n".encode() + body + b"\n"
    )
    keys.channel_public_key.verify(
        base64.b64decode(headers["Wechatpay-Signature"]),
        message,
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    assert headers["Wechatpay-Signature-Type"] == "WECHATPAY2-SHA256-RSA2048"
    assert len(headers["Wechatpay-Nonce"]) == 32


@pytest.mark.parametrize("skew_s", [-300, 0, 300])
def test_clock_window_is_inclusive_300_s(
    keys: ChannelKeySet, side: SandboxKeySet, skew_s: int
) -> None:
    body = b"{}"
    platform_keys = {keys.id("serial"): keys.channel_public_key}
    verified = protocol.verify_signed_headers(
        _signed(side, body, NOW_S + skew_s), body, platform_keys=platform_keys, now_s=NOW_S
    )
    assert verified.timestamp_s == NOW_S + skew_s


@pytest.mark.parametrize("skew_s", [-301, 301])
def test_clock_window_ends_after_300_s(
    keys: ChannelKeySet, side: SandboxKeySet, skew_s: int
) -> None:
    body = b"{}"
    platform_keys = {keys.id("serial"): keys.channel_public_key}
    with pytest.raises(StaleTimestamp):
        protocol.verify_signed_headers(
            _signed(side, body, NOW_S + skew_s), body, platform_keys=platform_keys, now_s=NOW_S
        )


def test_signature_type_header_may_be_absent(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = b"{}"
    headers = _signed(side, body)
    del headers["Wechatpay-Signature-Type"]
    platform_keys = {keys.id("serial"): keys.channel_public_key}
    protocol.verify_signed_headers(headers, body, platform_keys=platform_keys, now_s=NOW_S)


def test_a_serial_we_do_not_know_is_refused(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    platform_keys = {"0" * 40: keys.channel_public_key}
    with pytest.raises(UnknownSigningKey):
        protocol.verify_signed_headers(
            _signed(side, b"{}"), b"{}", platform_keys=platform_keys, now_s=NOW_S
        )


def test_response_with_empty_body_verifies(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    platform_keys = {keys.id("serial"): keys.channel_public_key}
    protocol.verify_signed_headers(
        _signed(side, b""), b"", platform_keys=platform_keys, now_s=NOW_S
    )
    with pytest.raises(BadSignature):
        protocol.verify_signed_headers(
            _signed(side, b""), b" ", platform_keys=platform_keys, now_s=NOW_S
        )


# ---------------------------------------------------------------- our requests


AUTH_RE = re.compile(
    r'WECHATPAY2-SHA256-RSA2048 mchid="(\d+)",nonce_str="(\w{32})",signature="([A-Za-z0-9+/=]+)",'
    r'timestamp="(\d+)",serial_no="([0-9A-F]{40})"'
)


def _authorization(keys: ChannelKeySet, body: bytes = b'{"appid":"wx"}') -> str:
    return protocol.build_authorization(
        "POST",
        "/v3/pay/transactions/app",
        body,
        mchid=keys.id("mchid"),
        serial_no=keys.id("merchant_serial"),
        private_key=keys.merchant_private_key,
        timestamp_s=NOW_S,
    )


def test_authorization_header_format(keys: ChannelKeySet) -> None:
    match = AUTH_RE.fullmatch(_authorization(keys))
    assert match is not None
    assert match.group(1) == keys.id("mchid")
    assert match.group(4) == str(NOW_S)


def test_authorization_signs_method_url_ts_nonce_body(keys: ChannelKeySet) -> None:
    body = b'{"appid":"wx"}'
    params = parse_auth_params(split_scheme(_authorization(keys, body), protocol.SIGNATURE_TYPE))
    message = (
        f"POST\n/v3/pay/transactions/app\n{NOW_S}\n{params['nonce_str']}\n".encode() + body + b"\n"
    )
    keys.merchant_public_key.verify(
        base64.b64decode(params["signature"]), message, padding.PKCS1v15(), hashes.SHA256()
    )


def _verify_auth(side: SandboxKeySet, authorization: str, **overrides: object) -> None:
    """The platform checks our request's Authorization (the sandbox's reading)."""
    arguments: dict[str, object] = {
        "method": "POST",
        "url": "/v3/pay/transactions/app",
        "body": b'{"appid":"wx"}',
        "now_s": NOW_S,
    } | overrides
    platform.verify_request(side, authorization, **arguments)  # type: ignore[arg-type]


def test_the_platform_accepts_our_authorization(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    _verify_auth(side, _authorization(keys))


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"method": "GET"}, "does not verify"),
        ({"url": "/v3/pay/transactions/jsapi"}, "does not verify"),
        ({"body": b'{"appid":"wy"}'}, "does not verify"),
        ({"now_s": NOW_S + 301}, "clock window"),
        ({"now_s": NOW_S - 301}, "clock window"),
    ],
)
def test_the_platform_rejects_our_authorization_for_another_request(
    keys: ChannelKeySet, side: SandboxKeySet, overrides: dict[str, object], reason: str
) -> None:
    with pytest.raises(RequestRejected, match=reason):
        _verify_auth(side, _authorization(keys), **overrides)


@pytest.mark.parametrize("ids", [{"mchid": "1900000000"}, {"merchant_serial": "0" * 40}])
def test_the_platform_rejects_our_authorization_for_another_merchant(
    keys: ChannelKeySet, side: SandboxKeySet, ids: dict[str, str]
) -> None:
    other = SandboxKeySet(
        channel=side.channel,
        channel_private_key=side.channel_private_key,
        channel_public_key=side.channel_public_key,
        merchant_public_key=side.merchant_public_key,
        ids={**side.ids, **ids},
    )
    with pytest.raises(RequestRejected, match="another merchant"):
        _verify_auth(other, _authorization(keys))


@pytest.mark.parametrize(
    "authorization",
    [
        'WECHATPAY2-SHA256-RSA2048 mchid="1",nonce_str="n"',
        'Bearer token="x"',
        "WECHATPAY2-SHA256-RSA2048",
        "",
    ],
)
def test_the_platform_rejects_a_malformed_authorization(
    side: SandboxKeySet, authorization: str
) -> None:
    with pytest.raises(RequestRejected):
        _verify_auth(side, authorization)


# ---------------------------------------------------------------- app pay and answers


def test_app_pay_params(keys: ChannelKeySet) -> None:
    params = protocol.build_app_pay_params(
        appid=keys.id("appid"),
        mchid=keys.id("mchid"),
        prepay_id="wx201410272009395522657a690389285100",
        private_key=keys.merchant_private_key,
        timestamp_s=NOW_S,
    )
    fields = params.as_dict()
    assert set(fields) == {
        "appid",
        "partnerid",
        "prepayid",
        "package",
        "noncestr",
        "timestamp",
        "sign",
    }
    assert fields["package"] == "Sign=WXPay"
    assert fields["partnerid"] == keys.id("mchid")
    message = f"{keys.id('appid')}\n{NOW_S}\n{params.noncestr}\n{params.prepayid}\n".encode()
    keys.merchant_public_key.verify(
        base64.b64decode(params.sign), message, padding.PKCS1v15(), hashes.SHA256()
    )


def test_app_pay_params_sign_the_prepay_id(keys: ChannelKeySet) -> None:
    params = protocol.build_app_pay_params(
        appid=keys.id("appid"),
        mchid=keys.id("mchid"),
        prepay_id="wx1",
        private_key=keys.merchant_private_key,
        timestamp_s=NOW_S,
    )
    forged = f"{params.appid}\n{params.timestamp}\n{params.noncestr}\nwx2\n".encode()
    with pytest.raises(InvalidSignature):
        keys.merchant_public_key.verify(
            base64.b64decode(params.sign), forged, padding.PKCS1v15(), hashes.SHA256()
        )


def test_answers() -> None:
    success = protocol.success_answer()
    assert (success.status_code, success.body) == (204, b"")
    failure = protocol.failure_answer(500)
    assert failure.status_code == 500
    assert json.loads(failure.body) == {"code": "FAIL", "message": "失败"}
    with pytest.raises(ValueError, match="4xx or 5xx"):
        protocol.failure_answer(200)


def test_the_official_refund_sample_verifies_once_the_platform_sent_it(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    plaintext = SECTION_1_8_REFUND_SAMPLE.replace("1900000100", keys.id("mchid")).encode()
    signed = platform.envelope_notification(
        side,
        plaintext,
        original_type="refund",
        event_type="REFUND.SUCCESS",
        summary="退款成功",
        now_s=NOW_S,
    )
    verified = WechatPayChannel(keys).verify_notification(signed.headers, signed.body, now_s=NOW_S)
    assert verified.kind is NotificationKind.REFUND
    assert verified.out_refund_no == "7752501201407033233368018"
    assert verified.refund_amount_fen == 999
