"""Allinpay 收银宝 protocol (allinpay.protocol / notification; docs/channel-formats.md §6.1).

Our side is the gateway's code under test; Allinpay's side (signing notifications) is the
channel sandbox's `channel_sandbox.channels.allinpay`.
"""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from channel_sandbox.channels import allinpay as channel
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from payment_gateway.adapters.channels.allinpay import protocol
from payment_gateway.adapters.channels.allinpay.notification import to_verified, trxstatus_outcome
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.errors import BadSignature

FIELDS = [
    ("appid", "00000051"),
    ("cusid", "990440148166000"),
    ("trxcode", "VSP501"),
    ("trxid", "112094120001088317"),
    ("chnltrxid", "4200001234202401011234567890"),
    ("cusorderid", "ORD20240101000001"),
    ("outtrxid", ""),
    ("initamt", "100"),
    ("trxamt", "100"),
    ("trxdate", "20240101"),
    ("paytime", "20240101100005"),
    ("trxstatus", "0000"),
    ("fee", "1"),
    ("signtype", "RSA"),
]


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("allinpay-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="module")
def keys(keys_dir: Path) -> ChannelKeySet:
    """Our side."""
    return load_key_set(keys_dir, "allinpay")


@pytest.fixture(scope="module")
def side(keys_dir: Path) -> SandboxKeySet:
    """Allinpay's side (the sandbox signs with it)."""
    return load_channel_keys(keys_dir, "allinpay")


def _signed(side: SandboxKeySet, pairs: list[tuple[str, str]]) -> bytes:
    """`pairs` as Allinpay posts them, signed by the sandbox."""
    return channel.signed_form(side, pairs).body


def _verify(keys: ChannelKeySet, body: bytes) -> protocol.AllinpayNotification:
    return protocol.verify_notification(body, allinpay_public_key=keys.channel_public_key)


def test_sign_content_keeps_signtype_and_drops_empties_and_sign() -> None:
    content = protocol.sign_content([*FIELDS, ("sign", "x")])
    assert "signtype=RSA" in content
    assert "outtrxid" not in content
    assert "sign=" not in content.replace("signtype=", "")
    assert content.startswith("appid=00000051&chnltrxid=")
    assert content == channel.sign_content([*FIELDS, ("sign", "x")])  # both sides agree


def test_signature_is_sha1_with_rsa(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = _signed(side, FIELDS)
    sign = _verify(keys, body).fields["sign"]
    keys.channel_public_key.verify(
        base64.b64decode(sign),
        protocol.sign_content(FIELDS).encode(),
        padding.PKCS1v15(),
        hashes.SHA1(),  # noqa: S303 - the channel's protocol
    )


def test_unknown_fields_are_read_and_signed(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    pairs = [*FIELDS, ("trxreserved", "备注"), ("newfield2030", "v")]
    body = _signed(side, pairs)
    notification = _verify(keys, body)
    assert notification.fields["trxreserved"] == "备注"
    assert notification.fields["newfield2030"] == "v"
    with pytest.raises(BadSignature):
        _verify(keys, body.replace(b"newfield2030=v", b"newfield2030=w"))


def test_empty_field_added_later_is_harmless_by_protocol(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    body = _signed(side, FIELDS)
    assert _verify(keys, b"extra=&" + body).trxamt_fen == 100


def test_to_verified(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = _signed(side, FIELDS)
    verified = to_verified(_verify(keys, body))
    assert (verified.kind, verified.outcome) == (NotificationKind.PAYMENT, Outcome.SUCCEEDED)
    assert verified.out_trade_no == "ORD20240101000001"
    assert verified.channel_txn_id == "112094120001088317"
    assert verified.fee_fen == 1
    assert verified.merchant_ids == {"appid": "00000051", "cusid": "990440148166000"}
    assert verified.reference_ids["chnltrxid"] == "4200001234202401011234567890"


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        ("0000", Outcome.SUCCEEDED),
        ("2000", Outcome.PENDING),
        ("2008", Outcome.PENDING),
        ("3045", Outcome.FAILED),
        ("3088", Outcome.FAILED),
        ("1001", Outcome.PENDING),
        ("9999", Outcome.PENDING),
    ],
)
def test_trxstatus_mapping(status: str, outcome: Outcome) -> None:
    assert trxstatus_outcome(status, NotificationKind.PAYMENT) is outcome


def test_refund_trxcode() -> None:
    fields = dict(FIELDS) | {"trxcode": "VSP503", "sign": "x", "srctrxid": "ORIG"}
    verified = to_verified(protocol.parse_notification(fields))
    assert (verified.kind, verified.outcome) == (NotificationKind.REFUND, Outcome.REFUNDED)
    assert (verified.channel_txn_id, verified.channel_refund_id) == ("ORIG", "112094120001088317")


def test_unparseable_fee_is_ignored() -> None:
    fields = dict(FIELDS) | {"fee": "0.01", "sign": "x"}
    assert protocol.parse_notification(fields).fee_fen is None


def test_answers() -> None:
    assert protocol.success_answer().body == b"success"
    assert protocol.failure_answer().body != b"success"
