"""Generate the golden channel vectors ONCE (kept for the record; the files are the truth).

    .venv/bin/python payment-gateway/tests/vectors/make_vectors.py --keys   # test-only keys
    .venv/bin/python payment-gateway/tests/vectors/make_vectors.py          # the vectors

Sources, per vector (its `source` field says which):
* printed in the official documents as reproduced in docs/channel-formats.md (the Alipay form
  body and its string to sign §3.3, the WeChat AEAD vector of Appendix A and the §1.5 sample,
  the real UnionPay 5.1.0 field set §5.1): taken verbatim, signed with the test-only keys;
* otherwise constructed with the channel sandbox's modules (the channel side, never the
  gateway) from fixed inputs, then checked by hand against docs/channel-formats.md; the
  `signed_string` of every vector is the exact text that was signed, for that check.

Negative vectors derive from a positive one: tampered after signing, signed with another
key, a well-signed foreign merchant id, an amount in the wrong encoding.

Never re-run on a whole directory without reviewing the diff: the vectors are frozen.
"""

from __future__ import annotations

import argparse
import base64
import hashlib
import json
import sys
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from channel_sandbox.channels import alipay, allinpay, lakala, unionpay, wechatpay
from channel_sandbox.channels.base import NotificationEvent, Outcome, RefundFacts
from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from otd_shared import keyfiles
from otd_shared.channel_wire import (
    canonical_query,
    decode_form,
    dump_json_compact,
    encode_form,
    rsa_sign_b64,
)

HERE = Path(__file__).resolve().parent
KEYS_DIR = HERE / "test-only-keys"
NOW_S = 1704074406  # 2024-01-01 10:00:06 +08:00, the notify_time of the §3.3 sample
APIV3_KEY = "TESTAPIV3KEY0123456789abcdefghij"  # Appendix A
TEST_IDS: dict[str, dict[str, str]] = {
    # the ids of the samples in docs/channel-formats.md where they print one
    "wechatpay": {
        "mchid": "1230000109",
        "appid": "wxd678efh567hg6787",
        "serial": "28A6ECAC59FBAC47784205BB1AB25B744ADF55CF",
        "merchant_serial": "5157F09EFDC096DE15EBE81A47057A7232F1B8E1",
    },
    "alipay": {"app_id": "2021000000000000", "seller_id": "2088102177640000"},
    "lakala": {
        "appid": "OP00000003",
        "serial_no": "00dfba8194c41b84cf",
        "merchant_no": "822290070111135",
    },
    "unionpay": {"merId": "777290058167151", "certId": "69629715588"},
    "allinpay": {"cusid": "990440148166000", "appid": "00000003"},
}
FOREIGN_PEM = "foreign_private.pem"  # another key: "signed with the wrong key" vectors
UNIONPAY_ROOT_PEM = "unionpay_test_root.pem"
UNIONPAY_SIGN_CERT_PEM = "unionpay_test_sign_cert.pem"


# ---------------------------------------------------------------- keys (once)


def make_keys() -> None:
    """The test-only key layout for the vectors (never used anywhere else)."""
    for channel, ids in TEST_IDS.items():
        directory = KEYS_DIR / channel
        directory.mkdir(parents=True, exist_ok=True)
        for private, public in (
            (keyfiles.CHANNEL_PRIVATE_PEM, keyfiles.CHANNEL_PUBLIC_PEM),
            (keyfiles.MERCHANT_PRIVATE_PEM, keyfiles.MERCHANT_PUBLIC_PEM),
        ):
            keyfiles.ensure_key_pair(directory / private, directory / public)
        (directory / keyfiles.IDS_FILE).write_text(json.dumps(ids, indent=2, sort_keys=True) + "\n")
        if channel == "wechatpay":
            (directory / keyfiles.APIV3_KEY_FILE).write_text(APIV3_KEY)
    foreign = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (KEYS_DIR / FOREIGN_PEM).write_bytes(keyfiles.private_pem(foreign))
    _make_unionpay_certificates()
    _make_wechat_client_certificate()


def _make_wechat_client_certificate() -> None:
    """apiclient_cert.pem: the self-signed test certificate of the WeChat merchant key (only
    its match with the key is checked when loaded; TLS tests make fresh dev keys)."""
    directory = KEYS_DIR / "wechatpay"
    key = keyfiles.load_private_pem(directory / keyfiles.MERCHANT_PRIVATE_PEM)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, TEST_IDS["wechatpay"]["mchid"])])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    pem = certificate.public_bytes(serialization.Encoding.PEM)
    (directory / keyfiles.APICLIENT_CERT_PEM).write_bytes(pem)


def _make_unionpay_certificates() -> None:
    """A test root CA and the UnionPay signing certificate (serial = certId) it issued."""
    channel_key = keyfiles.load_private_pem(KEYS_DIR / "unionpay" / keyfiles.CHANNEL_PRIVATE_PEM)
    root_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "OTD TEST-ONLY UnionPay Root")])
    root = (
        x509.CertificateBuilder()
        .subject_name(root_name)
        .issuer_name(root_name)
        .public_key(root_key.public_key())
        .serial_number(1)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    # The subject the gateway requires of a UnionPay signing certificate (unionpay/certs.py).
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "00040000:SIGN"),
            x509.NameAttribute(NameOID.COMMON_NAME, "中国银联股份有限公司"),
        ]
    )
    sign_cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(root_name)
        .public_key(channel_key.public_key())
        .serial_number(int(TEST_IDS["unionpay"]["certId"]))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=365 * 30))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )
    pem = serialization.Encoding.PEM
    (KEYS_DIR / UNIONPAY_ROOT_PEM).write_bytes(root.public_bytes(pem))
    # The test root doubles as root and intermediate of the configured chain.
    for name in ("root.pem", "middle.pem"):
        (KEYS_DIR / "unionpay" / name).write_bytes(root.public_bytes(pem))
    (KEYS_DIR / UNIONPAY_SIGN_CERT_PEM).write_bytes(sign_cert.public_bytes(pem))


# ---------------------------------------------------------------- helpers


def keys(channel: str) -> SandboxKeySet:
    return load_channel_keys(KEYS_DIR, channel)


def foreign(keys_: SandboxKeySet) -> SandboxKeySet:
    return replace(keys_, channel_private_key=keyfiles.load_private_pem(KEYS_DIR / FOREIGN_PEM))


def write(channel: str, name: str, vector: dict[str, Any]) -> None:
    directory = HERE / channel
    directory.mkdir(exist_ok=True)
    document = {"channel": channel, "name": name, **vector}
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    (directory / f"{name}.json").write_text(text, encoding="utf-8")


def request(headers: dict[str, str], body: bytes) -> dict[str, Any]:
    return {"headers": headers, "body": body.decode("ascii" if body.isascii() else "utf-8")}


def accepted(**facts: Any) -> dict[str, Any]:
    return {"verdict": "accepted", **facts}


def rejected(reason: str) -> dict[str, Any]:
    return {"verdict": "rejected", "reason": reason}


CONSTRUCTED = (
    "constructed with the sandbox's channel module and the test-only keys; checked by hand"
)


# ---------------------------------------------------------------- WeChat Pay

WECHAT_TXN = "4200001234202401011234567890"
WECHAT_HEADER_NONCE = "msOq4nFDHozoPBWz6aacRqU5QTvIH4k1"  # §1.1 example
WECHAT_SAMPLE_RESOURCE = (
    '{"mchid":"1230000109","appid":"wxd678efh567hg6787","out_trade_no":"ORD20240101000001",'
    '"transaction_id":"4200001234202401011234567890","trade_type":"JSAPI","trade_state":"SUCCESS",'
    '"trade_state_desc":"支付成功","bank_type":"OTHERS","attach":"",'
    '"success_time":"2024-01-01T10:00:05+08:00","payer":{"openid":"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o"},'
    '"amount":{"total":100,"payer_total":100,"currency":"CNY","payer_currency":"CNY"}}'
)
APPENDIX_A_CIPHERTEXT = (
    "HtY54X3XTmXmN4FutIcjFXTMTixkq53XWU11YzERG8ZLtUMzzA3w/bO1tY5ME96wr6CLIgDJ1MzgTr0Sm2HisXaNnKXg"
    "XEJQjdDolmssLjfrFf2iPfXuHb6Zk4h31mJoW6ECq4aellG/7/kQTIoOdoYfE6vbafDz796nJlAmbrgMKLr0neTwIlz+"
    "aWR43Hslsma/UPt9tD4tc1+NFrPJpCtMcizDH7RV6cnCrQ8KeZI1x9GJJl7H8G7Z93jWvQga/zH3XyESBZ4ybsTGtwkQ"
    "ZXnc8xL/9fQV8k0MLoNb8LwBTz00PCsX/Wtq1x66SrAwyGK1PEsQg4pTPa7ZVg9xG6yk4JLYm1EZPtXeF3RMKKWQEu74"
    "10yKYCA5Fp9Ar3U9r2Xsmdqwb8iQrpIlf7F+tEpa65savyPS+JDx4QKDwGgoAYxw7qFUGCgd6J9aV6vNoMAmJcmj5FZf"
    "0ItiZ/dWMXdN+mc3i9+rCW9wTGhcDKaFlL1vOF0ZoyRIcBT3SXueqTnZOuYtcEkTQxi8g5TBxgFsfv4HjsEVAxpW/6wY"
    "M1m9/wCyPxH4DJE6tgLoPXgPe2oJFg=="
)


def wechat_vectors() -> None:
    k = keys("wechatpay")
    # 1. Appendix A: the printed ciphertext of the §1.5 sample, in a signed envelope.
    assert (
        wechatpay.encrypt_resource(
            APIV3_KEY.encode(),
            WECHAT_SAMPLE_RESOURCE.encode(),
            nonce="fakenonce123",
            associated="transaction",
        )
        == APPENDIX_A_CIPHERTEXT
    ), "our AES-GCM does not reproduce Appendix A"
    envelope = {
        "id": "0977fbe8-521a-5ef9-ba03-1faeb678c84d",  # §1.3 real capture
        "create_time": "2024-01-01T10:00:06+08:00",
        "resource_type": "encrypt-resource",
        "event_type": "TRANSACTION.SUCCESS",
        "summary": "支付成功",
        "resource": {
            "original_type": "transaction",
            "algorithm": "AEAD_AES_256_GCM",
            "ciphertext": APPENDIX_A_CIPHERTEXT,
            "associated_data": "transaction",
            "nonce": "fakenonce123",
        },
    }
    body = dump_json_compact(envelope)
    headers = wechatpay.platform_headers(k, body, now_s=NOW_S, nonce=WECHAT_HEADER_NONCE)
    headers["Content-Type"] = "application/json"
    write(
        "wechatpay",
        "payment_appendix_a",
        {
            "description": "TRANSACTION.SUCCESS whose resource is the printed Appendix A "
            "ciphertext",
            "source": "docs/channel-formats.md §1.3–1.5 and Appendix A (printed); signed with the "
            "test-only platform key",
            "method": "jsapi",
            "now_s": NOW_S,
            "request": request(headers, body),
            "signed_string": wechatpay.platform_message(
                str(NOW_S), WECHAT_HEADER_NONCE, body
            ).decode(),
            "expected": accepted(
                kind="payment",
                outcome="succeeded",
                out_trade_no="ORD20240101000001",
                channel_txn_id=WECHAT_TXN,
                amount_fen=100,
            ),
        },
    )
    _wechat_negatives(k, headers, body)
    # 2. APP payment and refund notifications as the sandbox sends them.
    event = NotificationEvent(
        out_trade_no="ORD20240101000002", channel_txn_id=WECHAT_TXN, amount_fen=12_345
    )
    build = {
        "notification_id": "EV-2018022511223320873",
        "resource_nonce": "rsrcnonce001",
        "header_nonce": WECHAT_HEADER_NONCE,
    }
    signed = wechatpay.notification(k, event, now_s=NOW_S, **build)
    write(
        "wechatpay",
        "app_payment",
        {
            "description": "TRANSACTION.SUCCESS of an APP payment (trade_type APP)",
            "source": CONSTRUCTED,
            "method": "app",
            "now_s": NOW_S,
            "request": request(dict(signed.headers) | {"Request-ID": "fixed"}, signed.body),
            "signed_string": wechatpay.platform_message(
                str(NOW_S), WECHAT_HEADER_NONCE, signed.body
            ).decode(),
            "sandbox_build": _event_build(event) | build,
            "expected": accepted(
                kind="payment",
                outcome="succeeded",
                out_trade_no=event.out_trade_no,
                channel_txn_id=WECHAT_TXN,
                amount_fen=12_345,
            ),
        },
    )
    refund = NotificationEvent(
        out_trade_no="ORD20240101000002",
        channel_txn_id=WECHAT_TXN,
        amount_fen=12_345,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(
            out_refund_no="RF20240102000001",
            refund_id="50300000000000000000000000001",
            amount_fen=2_345,
        ),
    )
    build = {
        "notification_id": "EV-2018022511223320874",
        "resource_nonce": "rsrcnonce002",
        "header_nonce": WECHAT_HEADER_NONCE,
    }
    signed = wechatpay.notification(k, refund, now_s=NOW_S, **build)
    write(
        "wechatpay",
        "refund_success",
        {
            "description": "REFUND.SUCCESS of a partial refund (§1.8 fields)",
            "source": CONSTRUCTED,
            "method": "app",
            "now_s": NOW_S,
            "request": request(dict(signed.headers) | {"Request-ID": "fixed"}, signed.body),
            "signed_string": wechatpay.platform_message(
                str(NOW_S), WECHAT_HEADER_NONCE, signed.body
            ).decode(),
            "sandbox_build": _event_build(refund) | build,
            "expected": accepted(
                kind="refund",
                outcome="refunded",
                out_trade_no=refund.out_trade_no,
                channel_txn_id=WECHAT_TXN,
                amount_fen=12_345,
                refund_amount_fen=2_345,
                out_refund_no="RF20240102000001",
            ),
        },
    )
    # 3. Our side: APP 调起支付 parameters (merchant key over appid\ntimestamp\nnonce\nprepay_id\n).
    prepay_id = "wx201410272009395522657a690389285100"
    timestamp, nonce = str(NOW_S), "5K8264ILTKCH16CQ2502SI8ZNMTM67VS"
    message = f"{k.id('appid')}\n{timestamp}\n{nonce}\n{prepay_id}\n"
    sign = rsa_sign_b64(k.require_merchant_private_key(), message.encode())
    write(
        "wechatpay",
        "app_pay_params",
        {
            "description": "APP pay parameters the gateway hands the app after prepay (our side)",
            "source": "constructed from the APP 调起支付 rule (appid, timestamp, noncestr, "
            "prepayid "
            "lines, SHA256withRSA with the merchant key); checked by hand",
            "method": "app",
            "now_s": NOW_S,
            "params": {
                "appid": k.id("appid"),
                "partnerid": k.id("mchid"),
                "prepayid": prepay_id,
                "package": "Sign=WXPay",
                "noncestr": nonce,
                "timestamp": timestamp,
                "sign": sign,
            },
            "signed_string": message,
            "expected": accepted(),
        },
    )


def _event_build(event: NotificationEvent) -> dict[str, Any]:
    build: dict[str, Any] = {
        "out_trade_no": event.out_trade_no,
        "channel_txn_id": event.channel_txn_id,
        "amount_fen": event.amount_fen,
        "outcome": event.outcome.value,
    }
    if event.refund is not None:
        build["refund"] = {
            "out_refund_no": event.refund.out_refund_no,
            "refund_id": event.refund.refund_id,
            "amount_fen": event.refund.amount_fen,
        }
    return build


def _wechat_negatives(k: SandboxKeySet, headers: dict[str, str], body: bytes) -> None:
    def negative(
        name: str,
        description: str,
        hdrs: dict[str, str],
        raw: bytes,
        reason: str,
        now_s: int = NOW_S,
    ) -> None:
        write(
            "wechatpay",
            name,
            {
                "description": description,
                "source": "derived from payment_appendix_a",
                "method": "jsapi",
                "now_s": now_s,
                "request": request(hdrs, raw),
                "expected": rejected(reason),
            },
        )

    tampered = body.replace(
        b'"summary":"\xe6\x94\xaf\xe4\xbb\x98\xe6\x88\x90\xe5\x8a\x9f"',
        b'"summary":"\xe9\x80\x80\xe6\xac\xbe\xe6\x88\x90\xe5\x8a\x9f"',
    )
    assert tampered != body
    negative(
        "tampered_body", "the envelope changed after signing", headers, tampered, "bad_signature"
    )
    other = wechatpay.platform_headers(foreign(k), body, now_s=NOW_S, nonce=WECHAT_HEADER_NONCE)
    negative(
        "wrong_key",
        "signed with a key that is not the platform key's",
        other | {"Content-Type": "application/json"},
        body,
        "bad_signature",
    )
    negative(
        "stale_timestamp",
        "a genuine notification verified 301 s too late",
        headers,
        body,
        "stale_timestamp",
        now_s=NOW_S + 301,
    )
    probe = headers | {"Wechatpay-Signature": "WECHATPAY/SIGNTEST/" + "A" * 340}
    negative(
        "signature_probe", "WeChat's signature probe must fail", probe, body, "signature_probe"
    )
    # well signed, but the decrypted resource names another merchant / a bad amount encoding
    for name, resource, reason, description in (
        (
            "wrong_mchid",
            WECHAT_SAMPLE_RESOURCE.replace('"1230000109"', '"1900000109"'),
            "wrong_merchant",
            "genuine, but mchid is another merchant's",
        ),
        (
            "amount_as_yuan_string",
            WECHAT_SAMPLE_RESOURCE.replace('"total":100', '"total":"1.00"'),
            "malformed",
            "amount.total as a yuan string instead of integer fen",
        ),
        (
            "amount_as_float",
            WECHAT_SAMPLE_RESOURCE.replace('"total":100', '"total":1.0'),
            "malformed",
            "amount.total as a JSON float",
        ),
    ):
        signed = wechatpay.envelope_notification(
            k,
            resource.encode(),
            original_type="transaction",
            event_type="TRANSACTION.SUCCESS",
            summary="支付成功",
            now_s=NOW_S,
            notification_id="EV-NEGATIVE-" + name,
            resource_nonce="negnonce0001",
            header_nonce=WECHAT_HEADER_NONCE,
        )
        write(
            "wechatpay",
            name,
            {
                "description": description,
                "source": CONSTRUCTED,
                "method": "jsapi",
                "now_s": NOW_S,
                "request": request(dict(signed.headers) | {"Request-ID": "fixed"}, signed.body),
                "expected": rejected(reason),
            },
        )


# ---------------------------------------------------------------- Alipay

ALIPAY_FORM = (
    "gmt_create=2024-01-01+10%3A00%3A00&charset=utf-8&subject=%E6%B5%8B%E8%AF%95%E8%AE%A2%E5%8D%95"
    "&sign=XXXX&buyer_id=2088102177846880&invoice_amount=0.01"
    "&notify_id=2024010100222100005012345678901234"
    "&fund_bill_list=%5B%7B%22amount%22%3A%220.01%22%2C%22fundChannel%22%3A%22ALIPAYACCOUNT%22%7D%5D"
    "&notify_type=trade_status_sync&trade_status=TRADE_SUCCESS&receipt_amount=0.01"
    "&buyer_pay_amount=0.01&app_id=2021000000000000&sign_type=RSA2&seller_id=2088102177640000"
    "&gmt_payment=2024-01-01+10%3A00%3A05&notify_time=2024-01-01+10%3A00%3A06&version=1.0"
    "&out_trade_no=ORD20240101000001&total_amount=0.01&trade_no=2024010122001400001234567890"
    "&auth_app_id=2021000000000000&point_amount=0.00"
)
ALIPAY_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=utf-8"


def _alipay_resign(k: SandboxKeySet, pairs: list[tuple[str, str]]) -> tuple[bytes, str]:
    """Replace the placeholder `sign` in place (the printed field order is kept)."""
    content = alipay.notification_sign_content(pairs)
    sign = rsa_sign_b64(k.channel_private_key, content.encode("utf-8"))
    pairs = [(key, sign if key == "sign" else value) for key, value in pairs]
    return encode_form(pairs, "utf-8"), content


def alipay_vectors() -> None:
    k = keys("alipay")
    printed = decode_form(ALIPAY_FORM.encode(), "utf-8")
    body, content = _alipay_resign(k, printed)
    write(
        "alipay",
        "payment_printed",
        {
            "description": "the printed §3.3 notification body, its placeholder sign replaced by a "
            "real RSA2 signature",
            "source": "docs/channel-formats.md §3.3 (printed body and printed string to sign); "
            "signed "
            "with the test-only Alipay key",
            "method": "app",
            "now_s": NOW_S,
            "request": request({"Content-Type": ALIPAY_CONTENT_TYPE}, body),
            "signed_string": content,
            "expected": accepted(
                kind="payment",
                outcome="succeeded",
                out_trade_no="ORD20240101000001",
                channel_txn_id="2024010122001400001234567890",
                amount_fen=1,
            ),
        },
    )

    def variant(
        name: str,
        description: str,
        change: dict[str, str],
        reason: str | None,
        facts: dict[str, Any] | None = None,
    ) -> None:
        pairs = [(key, change.get(key, value)) for key, value in printed]
        raw, signed_string = _alipay_resign(k, pairs)
        write(
            "alipay",
            name,
            {
                "description": description,
                "source": "derived from payment_printed, re-signed",
                "method": "app",
                "now_s": NOW_S,
                "request": request({"Content-Type": ALIPAY_CONTENT_TYPE}, raw),
                "signed_string": signed_string,
                "expected": rejected(reason) if reason else accepted(**(facts or {})),
            },
        )

    variant(
        "wrong_seller_id",
        "genuine, but seller_id is another merchant's",
        {"seller_id": "2088000000000001"},
        "wrong_merchant",
    )
    variant(
        "wrong_app_id",
        "genuine, but app_id is another app's",
        {"app_id": "2021000000000009", "auth_app_id": "2021000000000009"},
        "wrong_merchant",
    )
    variant(
        "amount_three_decimals",
        "total_amount with three decimals (not an exact yuan amount)",
        {"total_amount": "0.010"},
        "malformed",
    )
    variant(
        "amount_in_fen",
        "total_amount written in fen without a decimal point is 1 yuan, "
        "not 1 fen: accepted as 100 fen (the gateway then finds the amount differs)",
        {"total_amount": "1"},
        None,
        {
            "kind": "payment",
            "outcome": "succeeded",
            "out_trade_no": "ORD20240101000001",
            "channel_txn_id": "2024010122001400001234567890",
            "amount_fen": 100,
        },
    )
    variant(
        "amount_exponent",
        "total_amount in exponent notation",
        {"total_amount": "1e-2"},
        "malformed",
    )
    tampered = body.replace(b"total_amount=0.01", b"total_amount=9.99")
    write(
        "alipay",
        "tampered_amount",
        {
            "description": "total_amount changed after signing",
            "source": "derived from payment_printed",
            "method": "app",
            "now_s": NOW_S,
            "request": request({"Content-Type": ALIPAY_CONTENT_TYPE}, tampered),
            "expected": rejected("bad_signature"),
        },
    )
    other = foreign(k)
    content = alipay.notification_sign_content(printed)
    wrong_sign = rsa_sign_b64(other.channel_private_key, content.encode())
    wrong = encode_form([(key, wrong_sign if key == "sign" else v) for key, v in printed])
    write(
        "alipay",
        "wrong_key",
        {
            "description": "signed with a key that is not Alipay's",
            "source": "derived from payment_printed",
            "method": "app",
            "now_s": NOW_S,
            "request": request({"Content-Type": ALIPAY_CONTENT_TYPE}, wrong),
            "expected": rejected("bad_signature"),
        },
    )
    # a refund-triggered notification and a GBK one, as the sandbox sends them
    refund = NotificationEvent(
        out_trade_no="ORD20240101000003",
        channel_txn_id="2024010122001400001234567891",
        amount_fen=50_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(out_refund_no="RF20240102000002", refund_id="-", amount_fen=20_000),
    )
    build = {"notify_id": "2024010200222100005012345678909999"}
    signed = alipay.notification(k, refund, now_s=NOW_S, **build)
    write(
        "alipay",
        "refund_partial",
        {
            "description": "refund-triggered notification of a partial refund (TRADE_SUCCESS, "
            "refund_fee, gmt_refund, out_biz_no)",
            "source": CONSTRUCTED,
            "method": "app",
            "now_s": NOW_S,
            "request": request(dict(signed.headers), signed.body),
            "signed_string": alipay.notification_sign_content(
                (key, v) for key, v in decode_form(signed.body) if key not in ("sign", "sign_type")
            ),
            "sandbox_build": _event_build(refund) | build,
            "expected": accepted(
                kind="refund",
                outcome="refunded",
                out_trade_no=refund.out_trade_no,
                channel_txn_id=refund.channel_txn_id,
                amount_fen=50_000,
                refund_amount_fen=20_000,
                out_refund_no="RF20240102000002",
            ),
        },
    )
    gbk_fields = dict(printed) | {"charset": "gbk"}
    del gbk_fields["sign"], gbk_fields["sign_type"]
    signed = alipay.signed_form(k, gbk_fields)
    write(
        "alipay",
        "payment_gbk",
        {
            "description": "the printed notification declared and encoded in GBK",
            "source": "derived from payment_printed (charset=gbk, §3.1)",
            "method": "app",
            "now_s": NOW_S,
            "request": request(dict(signed.headers), signed.body),
            "signed_string": alipay.notification_sign_content(gbk_fields.items()),
            "expected": accepted(
                kind="payment",
                outcome="succeeded",
                out_trade_no="ORD20240101000001",
                channel_txn_id="2024010122001400001234567890",
                amount_fen=1,
            ),
        },
    )
    # our side: the app pay order string
    biz = {
        "out_trade_no": "ORD20240101000001",
        "total_amount": "0.01",
        "subject": "测试订单",
        "product_code": "QUICK_MSECURITY_PAY",
    }
    params = [
        ("app_id", k.id("app_id")),
        ("biz_content", json.dumps(biz, ensure_ascii=False, separators=(",", ":"))),
        ("charset", "utf-8"),
        ("format", "JSON"),
        ("method", "alipay.trade.app.pay"),
        ("notify_url", "https://pay.example.com/callbacks/alipay"),
        ("sign_type", "RSA2"),
        ("timestamp", "2024-01-01 10:00:06"),
        ("version", "1.0"),
    ]
    content = canonical_query((key, v) for key, v in params if v)
    sign = rsa_sign_b64(k.require_merchant_private_key(), content.encode())
    write(
        "alipay",
        "app_order_string",
        {
            "description": "the signed alipay.trade.app.pay order string our gateway hands the app",
            "source": "constructed from the openapi request signing rule (non-empty parameters "
            "except sign, sorted, RSA2 with the merchant key); checked by hand",
            "method": "app",
            "now_s": NOW_S,
            "order": {
                "out_trade_no": "ORD20240101000001",
                "amount_fen": 1,
                "subject": "测试订单",
                "notify_url": "https://pay.example.com/callbacks/alipay",
            },
            "order_string": encode_form([*params, ("sign", sign)]).decode("ascii"),
            "signed_string": content,
            "expected": accepted(),
        },
    )


# ---------------------------------------------------------------- Lakala

LAKALA_NONCE = "uXbMxXMd8Q2T0I7nCT0qvzdwBl9LMpZS"


def lakala_vectors() -> None:
    k = keys("lakala")
    cashier = NotificationEvent(
        out_trade_no="ORD20240101000004",
        channel_txn_id="240101000000000000000001",
        amount_fen=880_000,
    )
    labs = NotificationEvent(
        out_trade_no="ORD20240101000005", channel_txn_id="2024010110000000000123", amount_fen=8_800
    )
    for name, event, shape, kind_text in (
        ("cashier_payment", cashier, "cashier", "收银台 order notification (order_status 2)"),
        ("labs_payment", labs, "labs", "聚合扫码 notification (trade_state SUCCESS)"),
    ):
        signed = lakala.notification(k, event, now_s=NOW_S, shape=shape, nonce=LAKALA_NONCE)
        write(
            "lakala",
            name,
            {
                "description": kind_text,
                "source": CONSTRUCTED,
                "method": shape,
                "now_s": NOW_S,
                "request": request(dict(signed.headers), signed.body),
                "signed_string": lakala.notification_message(
                    str(NOW_S), LAKALA_NONCE, signed.body
                ).decode(),
                "sandbox_build": _event_build(event) | {"shape": shape, "nonce": LAKALA_NONCE},
                "expected": accepted(
                    kind="payment",
                    outcome="succeeded",
                    out_trade_no=event.out_trade_no,
                    channel_txn_id=event.channel_txn_id,
                    amount_fen=event.amount_fen,
                ),
            },
        )
        _lakala_negatives(k, name, shape, event, signed.headers, signed.body)


def _lakala_negatives(
    k: SandboxKeySet, base: str, shape: str, event: NotificationEvent, headers: Any, body: bytes
) -> None:
    def write_negative(suffix: str, description: str, hdrs: Any, raw: bytes, reason: str) -> None:
        write(
            "lakala",
            f"{base}_{suffix}",
            {
                "description": description,
                "source": f"derived from {base}",
                "method": shape,
                "now_s": NOW_S,
                "request": request(dict(hdrs), raw),
                "expected": rejected(reason),
            },
        )

    def resigned(raw: bytes, keys_: SandboxKeySet = k) -> dict[str, str]:
        return {
            "Authorization": lakala.notification_authorization(
                keys_, raw, now_s=NOW_S, nonce=LAKALA_NONCE
            ),
            "Content-Type": "application/json",
        }

    amount = b'"total_amount":880000' if shape == "cashier" else b'"total_amount":"8800"'
    assert amount in body
    write_negative(
        "tampered",
        "total_amount changed after signing",
        headers,
        body.replace(amount, amount[:-2] + amount[-1:]),
        "bad_signature",
    )
    write_negative(
        "wrong_key",
        "signed with a key that is not Lakala's",
        resigned(body, foreign(k)),
        body,
        "bad_signature",
    )
    foreign_merchant = body.replace(k.id("merchant_no").encode(), b"822290070119999")
    write_negative(
        "wrong_merchant_no",
        "genuine, but merchant_no is another merchant's",
        resigned(foreign_merchant),
        foreign_merchant,
        "wrong_merchant",
    )
    yuan = b'"total_amount":"8800.00"' if shape == "cashier" else b'"total_amount":"88.00"'
    wrong_amount = body.replace(amount, yuan)
    write_negative(
        "amount_in_yuan",
        "total_amount in yuan instead of fen",
        resigned(wrong_amount),
        wrong_amount,
        "malformed",
    )


# ---------------------------------------------------------------- UnionPay

UNIONPAY_PRINTED = {  # §5.1: the real 5.1.0 consumption notification (yansongda/pay test)
    "accNo": "6226********0048",
    "accessType": "0",
    "bizType": "000201",
    "currencyCode": "156",
    "encoding": "utf-8",
    "exchangeRate": "0",
    "merId": "777290058167151",
    "orderId": "yansongda20220908132206",
    "queryId": "782209081322060674028",
    "respCode": "00",
    "respMsg": "success",
    "settleAmt": "1",
    "settleCurrencyCode": "156",
    "settleDate": "0908",
    "signMethod": "01",
    "traceNo": "067402",
    "traceTime": "0908132206",
    "txnAmt": "1",
    "txnSubType": "01",
    "txnTime": "20220908132206",
    "txnType": "01",
    "version": "5.1.0",
}
UNIONPAY_CONTENT_TYPE = "application/x-www-form-urlencoded; charset=UTF-8"


def _unionpay_write(
    k: SandboxKeySet,
    name: str,
    fields: dict[str, str],
    description: str,
    source: str,
    expected: dict[str, Any],
) -> None:
    signed = unionpay.signed_form(k, fields)
    content = unionpay.sign_content(fields.items())
    write(
        "unionpay",
        name,
        {
            "description": description,
            "source": source,
            "method": "pos",
            "now_s": NOW_S,
            "request": request(dict(signed.headers), signed.body),
            "signed_string": content,
            "signed_digest": unionpay.digest_text(content, fields["version"]).decode(),
            "expected": expected,
        },
    )


def unionpay_vectors() -> None:
    k = keys("unionpay")
    cert_pem = (KEYS_DIR / UNIONPAY_SIGN_CERT_PEM).read_text().replace("\n", "\r\n").strip()
    paid = accepted(
        kind="payment",
        outcome="succeeded",
        out_trade_no="yansongda20220908132206",
        channel_txn_id="782209081322060674028",
        amount_fen=1,
    )
    printed = "docs/channel-formats.md §5.1 (the printed real 5.1.0 field set); "
    _unionpay_write(
        k,
        "v510_sign_pub_key_cert",
        UNIONPAY_PRINTED | {"signPubKeyCert": cert_pem},
        "5.1.0 with signPubKeyCert (the test signing certificate issued by the "
        "test root, serial = certId)",
        printed + "signed with the test-only UnionPay key",
        paid,
    )
    with_cert_id = UNIONPAY_PRINTED | {"certId": k.id("certId")}
    _unionpay_write(
        k,
        "v510_cert_id",
        with_cert_id,
        "5.1.0 naming the key by certId (what the sandbox sends)",
        printed + "certId instead of signPubKeyCert",
        paid,
    )
    v500 = UNIONPAY_PRINTED | {
        "version": "5.0.0",
        "certId": k.id("certId"),
        "respMsg": "成功[0000000]",
    }
    _unionpay_write(
        k,
        "v500_cert_id",
        v500,
        "a genuine 5.0.0 notification (SHA-1 hex digest, "
        "SHA1withRSA, certId); the 5.0.0 certId form is accepted",
        printed + "as 5.0.0 (§5.1)",
        paid,
    )
    _unionpay_write(
        k,
        "wrong_mer_id",
        with_cert_id | {"merId": "777290058000000"},
        "genuine, but merId is another merchant's",
        printed + "re-signed",
        rejected("wrong_merchant"),
    )
    _unionpay_write(
        k,
        "amount_in_yuan",
        with_cert_id | {"txnAmt": "0.01", "settleAmt": "0.01"},
        "txnAmt in yuan instead of fen",
        printed + "re-signed",
        rejected("malformed"),
    )
    _unionpay_write(
        foreign(k),
        "wrong_key",
        with_cert_id,
        "signed with a key that is not UnionPay's",
        printed + "signed with another key",
        rejected("bad_signature"),
    )
    signed = unionpay.signed_form(k, with_cert_id)
    write(
        "unionpay",
        "tampered_amount",
        {
            "description": "txnAmt changed after signing",
            "source": "derived from v510_cert_id",
            "method": "pos",
            "now_s": NOW_S,
            "request": request(
                dict(signed.headers), signed.body.replace(b"txnAmt=1&", b"txnAmt=100&")
            ),
            "expected": rejected("bad_signature"),
        },
    )
    refund = NotificationEvent(
        out_trade_no="ORD20240101000006",
        channel_txn_id="782209081322060674028",
        amount_fen=50_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(
            out_refund_no="RF20240102000003", refund_id="782209091322060674099", amount_fen=10_000
        ),
    )
    fields = unionpay.notification_fields(k, refund, NOW_S, trace_no="067499")
    _unionpay_write(
        k,
        "refund_v510_cert_id",
        fields,
        "refund (txnType 04) back notification",
        CONSTRUCTED,
        accepted(
            kind="refund",
            outcome="refunded",
            out_trade_no="RF20240102000003",
            channel_txn_id="782209081322060674028",
            amount_fen=10_000,
            refund_amount_fen=10_000,
            out_refund_no="RF20240102000003",
        ),
    )


# ---------------------------------------------------------------- Allinpay


def allinpay_vectors() -> None:
    k = keys("allinpay")
    event = NotificationEvent(
        out_trade_no="ORD20240101000007", channel_txn_id="240101000000000001", amount_fen=660_000
    )
    fields = allinpay.notification_fields(k, event, NOW_S)
    paid = accepted(
        kind="payment",
        outcome="succeeded",
        out_trade_no=event.out_trade_no,
        channel_txn_id=event.channel_txn_id,
        amount_fen=660_000,
    )

    def emit(
        name: str,
        description: str,
        values: dict[str, str],
        expected: dict[str, Any],
        keys_: SandboxKeySet = k,
        source: str = CONSTRUCTED,
    ) -> bytes:
        signed = allinpay.signed_form(keys_, values)
        write(
            "allinpay",
            name,
            {
                "description": description,
                "source": source,
                "method": "pos",
                "now_s": NOW_S,
                "request": request(dict(signed.headers), signed.body),
                "signed_string": allinpay.sign_content(values.items()),
                **({"sandbox_build": _event_build(event)} if name == "payment" else {}),
                "expected": expected,
            },
        )
        return signed.body

    body = emit(
        "payment", "收银宝 result notification (VSP501, trxstatus 0000, SHA1WithRSA)", fields, paid
    )
    derived = "derived from payment, re-signed"
    emit(
        "wrong_key",
        "signed with a key that is not Allinpay's",
        fields,
        rejected("bad_signature"),
        foreign(k),
        "derived from payment",
    )
    emit(
        "wrong_appid",
        "genuine, but appid is another app's",
        fields | {"appid": "00009999"},
        rejected("wrong_merchant"),
        source=derived,
    )
    emit(
        "wrong_cusid",
        "genuine, but cusid is another merchant's",
        fields | {"cusid": "990440148169999"},
        rejected("wrong_merchant"),
        source=derived,
    )
    emit(
        "amount_in_yuan",
        "trxamt in yuan instead of fen",
        fields | {"trxamt": "6600.00"},
        rejected("malformed"),
        source=derived,
    )
    emit(
        "signtype_md5",
        "signtype MD5 (we accept RSA only)",
        fields | {"signtype": "MD5"},
        rejected("unsupported_sign_type"),
        source=derived,
    )
    write(
        "allinpay",
        "tampered_amount",
        {
            "description": "trxamt changed after signing",
            "source": "derived from payment",
            "method": "pos",
            "now_s": NOW_S,
            "request": request(
                {"Content-Type": allinpay.CONTENT_TYPE},
                body.replace(b"trxamt=660000", b"trxamt=660001"),
            ),
            "expected": rejected("bad_signature"),
        },
    )
    refund = NotificationEvent(
        out_trade_no="ORD20240101000007",
        channel_txn_id="240101000000000001",
        amount_fen=660_000,
        outcome=Outcome.REFUNDED,
        refund=RefundFacts(
            out_refund_no="RF20240102000004", refund_id="240102000000000009", amount_fen=60_000
        ),
    )
    refund_fields = allinpay.notification_fields(k, refund, NOW_S)
    signed = allinpay.signed_form(k, refund_fields)
    write(
        "allinpay",
        "refund",
        {
            "description": "refund result notification (VSP503, srctrxid names the payment)",
            "source": CONSTRUCTED,
            "method": "pos",
            "now_s": NOW_S,
            "request": request(dict(signed.headers), signed.body),
            "signed_string": allinpay.sign_content(refund_fields.items()),
            "sandbox_build": _event_build(refund),
            "expected": accepted(
                kind="refund",
                outcome="refunded",
                out_trade_no="RF20240102000004",
                channel_txn_id="240101000000000001",
                amount_fen=60_000,
                refund_amount_fen=60_000,
                out_refund_no="RF20240102000004",
            ),
        },
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--keys", action="store_true", help="create the test-only keys first")
    parser.add_argument(
        "--unionpay-certs",
        action="store_true",
        help="issue the test-only UnionPay root and signing certificate again (keys kept)",
    )
    args = parser.parse_args()
    if args.keys:
        make_keys()
    elif args.unionpay_certs:
        _make_unionpay_certificates()
    for make in (
        wechat_vectors,
        alipay_vectors,
        lakala_vectors,
        unionpay_vectors,
        allinpay_vectors,
    ):
        make()
    digest = hashlib.sha256()
    for path in sorted(HERE.glob("*/*.json")):
        digest.update(path.read_bytes())
    sys.stderr.write(f"vectors written; sha256 {base64.b16encode(digest.digest()).decode()}\n")


if __name__ == "__main__":
    main()
