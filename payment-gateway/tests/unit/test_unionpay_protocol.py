"""UnionPay ACP 5.1.0 protocol (unionpay.protocol / notification; docs/channel-formats.md §5.1).

Our side is the gateway's code under test; UnionPay's side (signing back notifications) is the
channel sandbox's `channel_sandbox.channels.unionpay`.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

from channel_sandbox.channels import unionpay as channel
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from payment_gateway.adapters.channels.contract import NotificationKind, Outcome
from payment_gateway.adapters.channels.keys import ChannelKeySet, generate_dev_keys, load_key_set
from payment_gateway.adapters.channels.unionpay import certs, protocol
from payment_gateway.adapters.channels.unionpay.notification import (
    notification_outcome,
    to_verified,
)
from payment_gateway.errors import (
    CallbackRejected,
    MissingField,
    UnknownSigningKey,
    UnsupportedStatus,
)

# The 5.1.0 consumption notification of §5.1 (yansongda/pay fixture), minus signPubKeyCert.
SECTION_5_1_FIELDS = [
    ("accNo", "6226********0048"),
    ("accessType", "0"),
    ("bizType", "000201"),
    ("currencyCode", "156"),
    ("encoding", "utf-8"),
    ("exchangeRate", "0"),
    ("merId", "777290058167151"),
    ("orderId", "yansongda20220908132206"),
    ("queryId", "782209081322060674028"),
    ("respCode", "00"),
    ("respMsg", "success"),
    ("settleAmt", "1"),
    ("settleCurrencyCode", "156"),
    ("settleDate", "0908"),
    ("signMethod", "01"),
    ("traceNo", "067402"),
    ("traceTime", "0908132206"),
    ("txnAmt", "1"),
    ("txnSubType", "01"),
    ("txnTime", "20220908132206"),
    ("txnType", "01"),
    ("version", "5.1.0"),
]


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path: Path = tmp_path_factory.mktemp("unionpay-keys")
    generate_dev_keys(path)
    return path


@pytest.fixture(scope="module")
def keys(keys_dir: Path) -> ChannelKeySet:
    """Our side."""
    return load_key_set(keys_dir, "unionpay")


@pytest.fixture(scope="module")
def side(keys_dir: Path) -> SandboxKeySet:
    """UnionPay's side (the sandbox signs with it)."""
    return load_channel_keys(keys_dir, "unionpay")


def _signed(side: SandboxKeySet, pairs: list[tuple[str, str]]) -> bytes:
    """`pairs` as UnionPay posts them, signed by the sandbox."""
    return channel.signed_form(side, pairs).body


def _fields(keys: ChannelKeySet, **changes: str) -> list[tuple[str, str]]:
    pairs = [(k, keys.id("merId") if k == "merId" else v) for k, v in SECTION_5_1_FIELDS]
    pairs.append(("certId", keys.id("certId")))
    return [(k, changes.get(k, v)) for k, v in pairs if changes.get(k, v) is not None]


def _verify(keys: ChannelKeySet, body: bytes) -> protocol.UnionPayNotification:
    return protocol.verify_notification(
        body, unionpay_public_key=keys.channel_public_key, expected_cert_id=keys.id("certId")
    )


def test_sign_content_drops_signature_and_empty_values() -> None:
    pairs = [("b", "2"), ("signature", "xyz"), ("a", "1"), ("empty", ""), ("c", "3")]
    assert protocol.sign_content(pairs) == "a=1&b=2&c=3"
    assert channel.sign_content(pairs) == "a=1&b=2&c=3"


def test_signature_is_rsa_sha256_over_the_hex_digest(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    pairs = _fields(keys)
    signature = dict(protocol.decode_notification_form(_signed(side, pairs))[0])["signature"]
    content = "&".join(f"{k}={v}" for k, v in sorted(pairs))
    hex_digest = hashlib.sha256(content.encode()).hexdigest()
    assert protocol.signed_digest(content, "utf-8") == hex_digest.encode()
    assert protocol.signed_digest(content, "utf-8", "sha1") == (
        hashlib.sha1(content.encode()).hexdigest().encode()  # noqa: S324 - ACP 5.0.0
    )
    keys.channel_public_key.verify(
        base64.b64decode(signature), hex_digest.encode(), padding.PKCS1v15(), hashes.SHA256()
    )


def test_doc_notification_verifies_and_maps(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    body = _signed(side, _fields(keys))
    notification = _verify(keys, body)
    assert notification.txn_amt_fen == 1
    verified = to_verified(notification)
    assert (verified.kind, verified.outcome) == (NotificationKind.PAYMENT, Outcome.SUCCEEDED)
    assert verified.channel_txn_id == "782209081322060674028"
    assert verified.reference_ids["traceNo"] == "067402"


def test_gbk_encoding(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    pairs = [*_fields(keys, encoding="GBK"), ("reqReserved", "意向金")]
    body = _signed(side, pairs)
    assert b"%D2%E2" in body  # 意 in GBK
    assert _verify(keys, body).fields["reqReserved"] == "意向金"
    utf8 = _signed(side, [*_fields(keys), ("reqReserved", "意向金")])
    with pytest.raises(CallbackRejected):  # UTF-8 bytes declared GBK
        _verify(keys, utf8.replace(b"encoding=utf-8", b"encoding=GBK"))


def _certificate(key: rsa.RSAPrivateKey, serial: int) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "sandbox unionpay")])
    start = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(serial)
        .not_valid_before(start)
        .not_valid_after(start + dt.timedelta(days=365))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode()


def test_a_self_signed_cert_with_our_key_is_not_trusted(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    # Pinning the key is not enough: 5.1.0 certificates must chain to the UnionPay root.
    pem = _certificate(side.channel_private_key, int(keys.id("certId")))
    pairs = [*(p for p in _fields(keys) if p[0] != "certId"), ("signPubKeyCert", pem)]
    body = _signed(side, pairs)
    with pytest.raises(UnknownSigningKey):
        protocol.verify_notification(
            body,
            unionpay_public_key=keys.channel_public_key,
            expected_cert_id=keys.id("certId"),
            chain=certs.TrustChain.of_pems(keys.certificates),
        )


def test_the_dev_leaf_verifies_through_the_dev_chain(
    keys: ChannelKeySet, side: SandboxKeySet
) -> None:
    pem = keys.certificates[certs.LEAF_PEM].decode()
    pairs = [*(p for p in _fields(keys) if p[0] != "certId"), ("signPubKeyCert", pem)]
    body = _signed(side, pairs)
    verified = protocol.verify_notification(
        body,
        unionpay_public_key=keys.channel_public_key,
        expected_cert_id=keys.id("certId"),
        chain=certs.TrustChain.of_pems(keys.certificates),
    )
    assert verified.order_id == "yansongda20220908132206"
    leaf = x509.load_pem_x509_certificate(pem.encode())
    assert str(leaf.serial_number) == keys.id("certId")


def test_missing_cert_id_and_cert(keys: ChannelKeySet, side: SandboxKeySet) -> None:
    pairs = [p for p in _fields(keys) if p[0] != "certId"]
    body = _signed(side, pairs)
    with pytest.raises(MissingField):
        _verify(keys, body)


def _parsed(**changes: str) -> protocol.UnionPayNotification:
    return protocol.parse_notification(dict(SECTION_5_1_FIELDS) | {"signature": "x"} | changes)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, (NotificationKind.PAYMENT, Outcome.SUCCEEDED)),
        ({"respCode": "A6"}, (NotificationKind.PAYMENT, Outcome.SUCCEEDED)),
        ({"respCode": "05"}, (NotificationKind.PAYMENT, Outcome.PENDING)),
        ({"respCode": "01"}, (NotificationKind.PAYMENT, Outcome.FAILED)),
        ({"respCode": "34"}, (NotificationKind.PAYMENT, Outcome.FAILED)),
        ({"txnType": "04"}, (NotificationKind.REFUND, Outcome.REFUNDED)),
        ({"txnType": "31"}, (NotificationKind.REFUND, Outcome.REFUNDED)),
        ({"txnType": "04", "respCode": "01"}, (NotificationKind.REFUND, Outcome.FAILED)),
    ],
)
def test_mapping(changes: dict[str, str], expected: tuple[NotificationKind, Outcome]) -> None:
    assert notification_outcome(_parsed(**changes)) == expected


def test_unknown_txn_type_is_unsupported() -> None:
    with pytest.raises(UnsupportedStatus):
        notification_outcome(_parsed(txnType="79"))


def test_refund_fields() -> None:
    verified = to_verified(
        _parsed(txnType="04", txnSubType="00", orderId="RF1", origQryId="ORIG", queryId="RQ")
    )
    assert (verified.out_refund_no, verified.channel_refund_id) == ("RF1", "RQ")
    assert (verified.channel_txn_id, verified.refund_amount_fen) == ("ORIG", 1)


def test_answers() -> None:
    assert (protocol.success_answer().status_code, protocol.success_answer().body) == (200, b"ok")
    assert protocol.failure_answer().status_code == 400
    with pytest.raises(ValueError, match="delivered"):
        protocol.failure_answer(200)
