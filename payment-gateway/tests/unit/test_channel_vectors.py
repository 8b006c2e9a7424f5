"""The channel contract suite: every channel adapter against the frozen golden vectors.

The vectors (payment-gateway/tests/vectors/<channel>/*.json, see README.md there) are recorded
request bytes with their signatures and expected verdicts, taken from the official documents
where docs/channel-formats.md prints them and otherwise constructed once on the channel side
with the test-only keys. Each notification vector goes through the adapter exactly as
`POST /callbacks/{channel}` uses it: `verify_notification`, then `check_merchant_ids` with our
ids; our own signed outputs (WeChat app pay parameters, the Alipay order string) must be
reproduced byte for byte by the gateway's builders.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping
from functools import cache
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import alipay as sandbox_alipay
from channel_sandbox.keys import load_channel_keys
from payment_gateway.adapters.channels.alipay import protocol as alipay
from payment_gateway.adapters.channels.client_base import (
    ChannelHttp,
    ClientOptions,
    PaymentCodeCharge,
    PaymentQueryResult,
)
from payment_gateway.adapters.channels.contract import (
    ChannelProtocol,
    VerifiedNotification,
    check_merchant_ids,
)
from payment_gateway.adapters.channels.keys import ChannelKeySet, load_key_set
from payment_gateway.adapters.channels.registry import REGISTRY, build_channel_protocol
from payment_gateway.adapters.channels.wechatpay import protocol as wechat
from payment_gateway.adapters.channels.wechatpay import v2 as wechat_v2
from payment_gateway.adapters.channels.wechatpay.micropay import MicropayApi
from payment_gateway.errors import CallbackRejected, ChannelUnreachable

VECTORS_DIR = Path(__file__).resolve().parents[1] / "vectors"
KEYS_DIR = VECTORS_DIR / "test-only-keys"
# Every channel that receives notifications: a new one fails here until its vectors exist.
CHANNELS = tuple(spec.code.value for spec in REGISTRY if spec.protocol is not None)
# Every channel × method the contract covers, each with at least one accepted vector.
REQUIRED_METHODS = {
    ("wechatpay", "app"),
    ("wechatpay", "jsapi"),
    ("alipay", "app"),
    ("lakala", "cashier"),
    ("lakala", "labs"),
    ("unionpay", "pos"),
    ("allinpay", "pos"),
}
NEGATIVE_KINDS = ("tampered", "wrong_key", "wrong_", "amount_")


def _load(path: Path) -> dict[str, Any]:
    vector: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return vector


VECTORS = {
    f"{path.parent.name}/{path.stem}": _load(path) for path in sorted(VECTORS_DIR.glob("*/*.json"))
}
NOTIFICATIONS = {name: v for name, v in VECTORS.items() if "request" in v}


@cache
def keys(channel: str) -> ChannelKeySet:
    return load_key_set(KEYS_DIR, channel)


def adapter(channel: str) -> ChannelProtocol:
    return build_channel_protocol(channel, keys(channel))


def judge(vector: Mapping[str, Any]) -> VerifiedNotification:
    """What our callback endpoint decides: verify, then compare the merchant ids with ours."""
    channel_adapter = adapter(vector["channel"])
    request = vector["request"]
    verified = channel_adapter.verify_notification(
        request["headers"], request["body"].encode("utf-8"), now_s=vector["now_s"]
    )
    check_merchant_ids(verified, channel_adapter.expected_merchant_ids)
    return verified


def test_every_channel_and_method_has_accepted_and_negative_vectors() -> None:
    covered = {
        (v["channel"], v["method"])
        for v in NOTIFICATIONS.values()
        if v["expected"]["verdict"] == "accepted"
    }
    assert covered >= REQUIRED_METHODS
    for channel in CHANNELS:
        names = [v["name"] for v in NOTIFICATIONS.values() if v["channel"] == channel]
        for negative in NEGATIVE_KINDS:
            assert any(negative in name for name in names), (channel, negative)


@pytest.mark.parametrize("name", sorted(NOTIFICATIONS))
def test_adapter_verdict_matches_the_vector(name: str) -> None:
    vector = NOTIFICATIONS[name]
    expected = dict(vector["expected"])
    if expected.pop("verdict") == "rejected":
        with pytest.raises(CallbackRejected) as rejected:
            judge(vector)
        assert rejected.value.reason_code == expected["reason"], str(rejected.value)
        return
    verified = judge(vector)
    assert verified.channel == vector["channel"]
    facts = {
        "kind": verified.kind.value,
        "outcome": verified.outcome.value,
        "out_trade_no": verified.out_trade_no,
        "channel_txn_id": verified.channel_txn_id,
        "amount_fen": verified.amount_fen,
        "refund_amount_fen": verified.refund_amount_fen,
        "out_refund_no": verified.out_refund_no,
    }
    assert {key: facts[key] for key in expected} == expected


@pytest.mark.parametrize(
    "name", sorted(n for n, v in NOTIFICATIONS.items() if v["expected"]["verdict"] == "accepted")
)
def test_the_recorded_signed_string_is_what_the_channel_key_signed(name: str) -> None:
    """Hand-check aid: the signature in the bytes covers exactly `signed_string` (or its
    digest for UnionPay), with the hash the format names."""
    vector = NOTIFICATIONS[name]
    channel = vector["channel"]
    signature, message, algorithm = _signature_and_message(vector)
    keys(channel).channel_public_key.verify(
        base64.b64decode(signature), message, padding.PKCS1v15(), algorithm
    )


def _signature_and_message(vector: Mapping[str, Any]) -> tuple[str, bytes, hashes.HashAlgorithm]:
    channel, request = vector["channel"], vector["request"]
    signed = vector["signed_string"]
    if channel == "wechatpay":
        return request["headers"]["Wechatpay-Signature"], signed.encode(), hashes.SHA256()
    if channel == "lakala":
        params = request["headers"]["Authorization"].split("signature=")[1].strip('"')
        return params, signed.encode(), hashes.SHA256()
    from urllib.parse import parse_qs

    fields = {k: v[0] for k, v in parse_qs(request["body"], keep_blank_values=True).items()}
    if channel == "alipay":
        charset = fields.get("charset", "utf-8")
        fields = {
            k: v[0]
            for k, v in parse_qs(request["body"], keep_blank_values=True, encoding=charset).items()
        }
        return fields["sign"], signed.encode(charset), hashes.SHA256()
    if channel == "unionpay":
        sha1 = fields["version"] == "5.0.0"
        digest = vector["signed_digest"].encode()
        return fields["signature"], digest, hashes.SHA1() if sha1 else hashes.SHA256()  # noqa: S303
    return fields["sign"], signed.encode(), hashes.SHA1()  # noqa: S303 - Allinpay SHA1WithRSA


def test_alipay_printed_string_to_sign_is_reproduced() -> None:
    """docs/channel-formats.md §3.3 prints the string to sign of its sample body."""
    vector = VECTORS["alipay/payment_printed"]
    fields, charset = alipay.decode_notification_form(
        vector["request"]["body"].encode(),
        content_type=vector["request"]["headers"]["Content-Type"],
    )
    assert alipay.notification_sign_content(fields.items()) == vector["signed_string"]
    assert charset == "utf-8"


def test_wechat_app_pay_parameters_are_reproduced_by_the_gateway() -> None:
    vector = VECTORS["wechatpay/app_pay_params"]
    params = vector["params"]
    keys("wechatpay").merchant_public_key.verify(  # the frozen sign covers the frozen string
        base64.b64decode(params["sign"]),
        vector["signed_string"].encode(),
        padding.PKCS1v15(),
        hashes.SHA256(),
    )
    built = wechat.build_app_pay_params(
        appid=params["appid"],
        mchid=params["partnerid"],
        prepay_id=params["prepayid"],
        private_key=keys("wechatpay").merchant_private_key,
        timestamp_s=int(params["timestamp"]),
        nonce=params["noncestr"],
    )
    assert built.as_dict() == params
    message = wechat.app_pay_message(
        params["appid"], params["timestamp"], params["noncestr"], params["prepayid"]
    )
    assert message.decode() == vector["signed_string"]


def test_alipay_order_string_is_reproduced_by_the_gateway() -> None:
    vector = VECTORS["alipay/app_order_string"]
    order = vector["order"]
    built = alipay.build_app_pay_order_string(
        app_id=keys("alipay").id("app_id"),
        biz_content=alipay.app_pay_biz_content(
            order["out_trade_no"], order["amount_fen"], order["subject"]
        ),
        notify_url=order["notify_url"],
        private_key=keys("alipay").merchant_private_key,
        now_s=vector["now_s"],
    )
    alipay_side = load_channel_keys(KEYS_DIR, "alipay")  # Alipay checks order strings
    ours = sandbox_alipay.verify_order_string(alipay_side, built)
    frozen = sandbox_alipay.verify_order_string(alipay_side, vector["order_string"])
    assert ours == frozen  # same parameters and, RSA PKCS#1 v1.5 being deterministic, same sign
    assert alipay.request_sign_content(frozen.items()) == vector["signed_string"]


def test_a_vector_signed_for_another_channel_is_refused() -> None:
    """Cross-channel: Allinpay's genuine bytes posted as UnionPay (and vice versa) fail."""
    allinpay, unionpay = VECTORS["allinpay/payment"], VECTORS["unionpay/v510_cert_id"]
    for vector, other in ((allinpay, "unionpay"), (unionpay, "allinpay")):
        with pytest.raises(CallbackRejected):
            judge({**vector, "channel": other})


def test_wechat_v2_printed_signature_is_reproduced_by_the_gateway() -> None:
    """WeChat's API v2 security rules print this example (MD5 and HMAC-SHA256)."""
    vector = VECTORS["wechatpay/v2_sign_printed"]
    params, key = vector["params"], vector["api_v2_key"].encode()
    assert wechat_v2.sign_string(params) == vector["signed_string"]
    for sign_type, expected in vector["sign"].items():
        assert wechat_v2.sign(params, key, sign_type) == expected
        assert wechat_v2.verify({**params, "sign": expected}, key, sign_type)
    assert not wechat_v2.verify(
        {**params, "body": "tset", "sign": vector["sign"]["MD5"]}, key, "MD5"
    )


async def _micropay_over(body: str) -> PaymentQueryResult:
    """The gateway's micropay call answered with exactly `body`."""
    transport = httpx.MockTransport(lambda request: httpx.Response(200, content=body.encode()))
    async with httpx.AsyncClient(transport=transport) as client:
        api = MicropayApi(
            keys("wechatpay"), ChannelHttp(client, "http://wechat.test"), ClientOptions(), {}
        )
        charge = PaymentCodeCharge(
            out_trade_no="ORD20240101000007",
            amount_fen=300_000,
            auth_code="134567890123456781",
            description="OTD vehicle order",
        )
        return await api.pay(charge)


async def test_micropay_answer_vector_is_read_by_the_gateway() -> None:
    vector = VECTORS["wechatpay/micropay_paid_answer"]
    result = await _micropay_over(vector["body"])
    facts = {
        "outcome": result.outcome.value,
        "out_trade_no": "ORD20240101000007",
        "channel_txn_id": result.channel_txn_id,
        "amount_fen": result.amount_fen,
    }
    assert facts == vector["expected"]


async def test_a_tampered_micropay_answer_is_never_paid() -> None:
    vector = VECTORS["wechatpay/micropay_paid_answer"]
    with pytest.raises(ChannelUnreachable, match="sign"):
        await _micropay_over(vector["tampered_body"])
    unsigned = vector["body"].split("<sign>")[0] + "</xml>"
    with pytest.raises(ChannelUnreachable, match="sign"):
        await _micropay_over(unsigned)
