"""otd_shared.channel_wire and otd_shared.keyfiles: the neutral channel wire primitives."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from otd_shared import keyfiles
from otd_shared.channel_wire import (
    WireFormatError,
    canonical_query,
    channel_time,
    decode_form,
    dump_json_compact,
    encode_form,
    format_auth_params,
    new_nonce,
    normalize_charset,
    parse_auth_params,
    parse_json_object,
    rsa_sign_b64,
    rsa_verify_b64,
    split_scheme,
)

# docs/channel-formats.md §3.3: an Alipay notification body and its printed string to sign.
ALIPAY_FORM = (
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
ALIPAY_STRING_TO_SIGN = (
    "app_id=2021000000000000&auth_app_id=2021000000000000&buyer_id=2088102177846880"
    "&buyer_pay_amount=0.01&charset=utf-8"
    '&fund_bill_list=[{"amount":"0.01","fundChannel":"ALIPAYACCOUNT"}]'
    "&gmt_create=2024-01-01 10:00:00&gmt_payment=2024-01-01 10:00:05&invoice_amount=0.01"
    "&notify_id=2024010100222100005012345678901234&notify_time=2024-01-01 10:00:06"
    "&notify_type=trade_status_sync&out_trade_no=ORD20240101000001&point_amount=0.00"
    "&receipt_amount=0.01&seller_id=2088102177640000&subject=测试订单&total_amount=0.01"
    "&trade_no=2024010122001400001234567890&trade_status=TRADE_SUCCESS&version=1.0"
)


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def test_canonical_query_reproduces_the_printed_alipay_string_to_sign() -> None:
    pairs = decode_form(ALIPAY_FORM, "utf-8")
    signed = [(k, v) for k, v in pairs if k not in ("sign", "sign_type")]
    assert canonical_query(signed) == ALIPAY_STRING_TO_SIGN


def test_canonical_query_keeps_values_raw_and_sorts_stably() -> None:
    assert canonical_query([("b", "x&y=z"), ("a", ""), ("a", "2")]) == "a=&a=2&b=x&y=z"


def test_form_round_trip_in_utf8_and_gbk() -> None:
    pairs = [("subject", "测试 订单+1"), ("amount", "0.01")]
    for charset in ("utf-8", "gbk"):
        body = encode_form(pairs, charset)  # type: ignore[arg-type]
        assert body.isascii()
        assert b"+" in body
        assert decode_form(body, charset) == pairs  # type: ignore[arg-type]
    assert encode_form(pairs, "gbk") != encode_form(pairs, "utf-8")


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"a=1&&b=2",
        b"&a=1",
        b"a=1&",
        b"a=1&a=2",
        b"a",
        b"a=%zz",
        b"a%20b=1",
        b"a=%FF",  # not UTF-8
    ],
)
def test_decode_form_rejects_malformed_bodies(body: bytes) -> None:
    with pytest.raises(WireFormatError):
        decode_form(body, "utf-8")


def test_decode_form_limits_the_field_count() -> None:
    body = b"&".join(b"k%d=v" % i for i in range(300))
    with pytest.raises(WireFormatError, match="more than"):
        decode_form(body)


def test_charset_labels() -> None:
    assert normalize_charset(" UTF8 ") == "utf-8"
    assert normalize_charset('"GB2312"') == "gbk"
    with pytest.raises(WireFormatError):
        normalize_charset("latin-1")


def test_rsa_signature_round_trip_and_rejections(key: rsa.RSAPrivateKey) -> None:
    public = key.public_key()
    for hash_name in ("sha256", "sha1"):
        signature = rsa_sign_b64(key, b"message", hash_name)  # type: ignore[arg-type]
        assert len(base64.b64decode(signature)) == 256
        assert rsa_verify_b64(public, signature, b"message", hash_name)  # type: ignore[arg-type]
        assert not rsa_verify_b64(public, signature, b"messagE", hash_name)  # type: ignore[arg-type]
    sha256 = rsa_sign_b64(key, b"message")
    assert not rsa_verify_b64(public, sha256, b"message", "sha1")  # wrong hash
    assert rsa_sign_b64(key, b"message") == sha256  # PKCS#1 v1.5 is deterministic
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    assert not rsa_verify_b64(other.public_key(), sha256, b"message")  # wrong key
    for bad in ("", "not base64!", sha256[:-4], sha256 + "AAAA", "é" * 10, "A" * 2000):
        assert not rsa_verify_b64(public, bad, b"message")


def test_json_strict_and_compact() -> None:
    assert dump_json_compact({"a": "测", "b": [1, 2]}) == '{"a":"测","b":[1,2]}'.encode()
    assert parse_json_object(b'{"a":{"b":1}}') == {"a": {"b": 1}}
    for bad in (b'{"a":1,"a":2}', b'{"a":NaN}', b"[1]", b"\xff", b"{", b"[" * 5000):
        with pytest.raises(WireFormatError):
            parse_json_object(bad)


def test_auth_params() -> None:
    text = format_auth_params([("mchid", "1900"), ("nonce_str", "abc")])
    assert text == 'mchid="1900",nonce_str="abc"'
    assert parse_auth_params(text) == {"mchid": "1900", "nonce_str": "abc"}
    assert split_scheme(f"SCHEME {text}", "SCHEME") == text
    for bad in ('a="1",a="2"', "a=1", 'a="x"y'):
        with pytest.raises(WireFormatError):
            parse_auth_params(bad)
    with pytest.raises(WireFormatError):
        split_scheme(f"OTHER {text}", "SCHEME")


def test_nonce_and_channel_time() -> None:
    nonce = new_nonce()
    assert len(nonce) == 32
    assert nonce.isalnum()
    assert nonce != new_nonce()
    assert channel_time(1704074405).isoformat() == "2024-01-01T10:00:05+08:00"


def test_keyfiles_pair_is_created_once_and_checked(tmp_path: Path) -> None:
    private, public = tmp_path / keyfiles.CHANNEL_PRIVATE_PEM, tmp_path / "pub.pem"
    keyfiles.ensure_key_pair(private, public)
    first = private.read_bytes()
    keyfiles.ensure_key_pair(private, public)
    assert private.read_bytes() == first
    assert os.stat(private).st_mode & 0o777 == keyfiles.PRIVATE_FILE_MODE
    loaded = keyfiles.load_private_pem(private)
    assert keyfiles.same_public_key(loaded.public_key(), keyfiles.load_public_pem(public))
    orphan = tmp_path / "orphan_public.pem"
    orphan.write_bytes(public.read_bytes())
    with pytest.raises(keyfiles.KeyFileError, match="without its private key"):
        keyfiles.ensure_key_pair(tmp_path / "missing.pem", orphan)


def test_keyfiles_reject_garbage(tmp_path: Path) -> None:
    path = tmp_path / "junk.pem"
    path.write_bytes(b"not a key")
    with pytest.raises(keyfiles.KeyFileError):
        keyfiles.load_private_pem(path)
    with pytest.raises(keyfiles.KeyFileError):
        keyfiles.load_public_pem(path)
    path.write_bytes(b"x" * (keyfiles.KEY_FILE_SIZE_MAX_BYTES + 1))
    with pytest.raises(keyfiles.KeyFileError, match="larger"):
        keyfiles.read_small(path)
    assert keyfiles.create_exclusive(tmp_path / "f", b"1", 0o600)
    assert not keyfiles.create_exclusive(tmp_path / "f", b"2", 0o600)
    assert (tmp_path / "f").read_bytes() == b"1"
