"""The sandbox reproduces the frozen golden vectors byte for byte (the channel side is pinned).

The vectors live beside the gateway's contract suite (payment-gateway/tests/vectors/); those
built on the channel side carry a `sandbox_build` section with the fixed inputs (ids, nonces,
time). The same inputs must give the same bytes here, so a change to a channel module that
alters the wire format fails against the frozen files, independently of the gateway.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from channel_sandbox.channels import alipay, allinpay, lakala, unionpay, wechatpay
from channel_sandbox.channels.base import NotificationEvent, Outcome, RefundFacts
from channel_sandbox.channels.wechatpay import v2 as wechat_v2
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from channel_sandbox.registry import REGISTRY
from channel_sandbox.testing import sign_notification

VECTORS_DIR = Path(__file__).resolve().parents[3] / "payment-gateway" / "tests" / "vectors"
KEYS_DIR = VECTORS_DIR / "test-only-keys"
VECTORS = {
    f"{path.parent.name}/{path.stem}": json.loads(path.read_text(encoding="utf-8"))
    for path in sorted(VECTORS_DIR.glob("*/*.json"))
}
BUILT = {name: v for name, v in VECTORS.items() if "sandbox_build" in v}


@cache
def channel_keys(channel: str) -> SandboxKeySet:
    return load_channel_keys(KEYS_DIR, channel)


EVENT_FIELDS = ("out_trade_no", "channel_txn_id", "amount_fen")
VOLATILE_HEADERS = frozenset({"Request-ID"})  # a random delivery id, not signed


def _event(build: dict[str, Any]) -> NotificationEvent:
    refund = build.get("refund")
    return NotificationEvent(
        **{name: build[name] for name in EVENT_FIELDS},
        outcome=Outcome(build["outcome"]),
        refund=RefundFacts(**refund) if refund else None,
    )


PRINTED_FIELD_SETS = frozenset({"unionpay"})
"""Channels whose vectors are built from a printed field set (fixed traceNo), checked below."""


def test_every_channel_has_sandbox_built_vectors() -> None:
    played = set(REGISTRY.codes())
    assert {v["channel"] for v in VECTORS.values()} == played, "every channel needs vectors"
    assert {v["channel"] for v in BUILT.values()} == played - PRINTED_FIELD_SETS


@pytest.mark.parametrize("name", sorted(BUILT))
def test_sandbox_reproduces_the_vector(name: str) -> None:
    vector = BUILT[name]
    build = dict(vector["sandbox_build"])
    options = {k: v for k, v in build.items() if k not in (*EVENT_FIELDS, "outcome", "refund")}
    keys = channel_keys(vector["channel"])
    signed = sign_notification(keys, _event(build), now_s=vector["now_s"], **options)
    assert signed.body.decode("utf-8") == vector["request"]["body"]
    headers = {k: v for k, v in signed.headers.items() if k not in VOLATILE_HEADERS}
    recorded = {k: v for k, v in vector["request"]["headers"].items() if k not in VOLATILE_HEADERS}
    assert headers == recorded


def test_unionpay_refund_vector_is_reproduced() -> None:
    vector = VECTORS["unionpay/refund_v510_cert_id"]
    keys = channel_keys("unionpay")
    event = NotificationEvent(
        out_trade_no="ORD20240101000006",
        channel_txn_id="782209081322060674028",
        amount_fen=50_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(
            out_refund_no="RF20240102000003", refund_id="782209091322060674099", amount_fen=10_000
        ),
    )
    fields = unionpay.notification_fields(keys, event, vector["now_s"], trace_no="067499")
    assert unionpay.signed_form(keys, fields).body.decode() == vector["request"]["body"]


READERS = {
    "wechatpay": wechatpay.read_notification,
    "alipay": alipay.read_notification,
    "lakala": lakala.read_notification,
    "unionpay": unionpay.read_notification,
    "allinpay": allinpay.read_notification,
}
ACCEPTED = sorted(
    name for name, v in VECTORS.items() if "request" in v and v["expected"]["verdict"] == "accepted"
)


@pytest.mark.parametrize("name", ACCEPTED)
def test_the_merchant_reading_accepts_every_accepted_vector(name: str) -> None:
    vector = VECTORS[name]
    channel, request, expected = vector["channel"], vector["request"], vector["expected"]
    got = READERS[channel](
        channel_keys(channel),
        request["headers"],
        request["body"].encode(),
        now_s=vector["now_s"],
    )
    assert (got.kind.value, got.outcome.value, got.out_trade_no, got.amount_fen) == (
        expected["kind"],
        expected["outcome"],
        expected["out_trade_no"],
        expected["amount_fen"],
    )


def test_the_printed_wechat_v2_signature_is_reproduced() -> None:
    """The sandbox's own v2 signing gives WeChat's printed example (MD5 and HMAC-SHA256)."""
    vector = VECTORS["wechatpay/v2_sign_printed"]
    key = vector["api_v2_key"].encode()
    for sign_type, expected in vector["sign"].items():
        assert wechat_v2.signature(vector["params"], key, sign_type) == expected


def test_the_micropay_answer_vector_is_reproduced() -> None:
    vector = VECTORS["wechatpay/micropay_paid_answer"]
    key = channel_keys("wechatpay").require_apiv2_key()
    body = wechat_v2.signed_answer(vector["fields"], key, vector["sign_type"])
    assert body.decode() == vector["body"]
    assert wechat_v2.read(body)["sign"] == vector["sign"]
