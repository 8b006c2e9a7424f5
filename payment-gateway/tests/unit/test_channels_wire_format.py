"""Strict wire readers shared by the channel packages (wire)."""

from __future__ import annotations

import pytest

from payment_gateway.adapters.channels import wire_format as wire
from payment_gateway.errors import (
    BadCharset,
    BodyTooLarge,
    DuplicateField,
    Malformed,
    MissingField,
    StaleTimestamp,
)


def test_header_view_is_case_insensitive_and_rejects_duplicates() -> None:
    view = wire.HeaderView({"Wechatpay-Nonce": "abc"})
    assert view.get("wechatpay-nonce") == "abc"
    assert view.require("WECHATPAY-NONCE") == "abc"
    with pytest.raises(MissingField):
        view.require("Wechatpay-Serial")
    with pytest.raises(DuplicateField):
        wire.HeaderView([("A", "1"), ("a", "2")])
    with pytest.raises(MissingField):
        wire.HeaderView({"A": "  "}).require("a")


def test_body_size() -> None:
    wire.check_body_size(b"x" * 10, 10)
    with pytest.raises(BodyTooLarge):
        wire.check_body_size(b"x" * 11, 10)
    with pytest.raises(Malformed):
        wire.check_body_size(b"", 10)


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b'{"a":1,"a":2}', DuplicateField),
        (b'{"a":NaN}', Malformed),
        (b'{"a":Infinity}', Malformed),
        (b"[]", Malformed),
        (b"\xff", Malformed),
        (b'{"a":' * 5000, Malformed),
        (b"{", Malformed),
    ],
)
def test_json_is_strict(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        wire.parse_json_object(raw, "body")


def test_form_split_and_decode() -> None:
    pairs = wire.split_form(b"a=1&b=x+y%26z&c=")
    assert wire.decode_form_values(pairs, "utf-8") == [("a", "1"), ("b", "x y&z"), ("c", "")]
    gbk = wire.split_form(b"s=%B2%E2%CA%D4")
    assert wire.decode_form_values(gbk, "gbk") == [("s", "测试")]
    with pytest.raises(BadCharset):
        wire.decode_form_values(gbk, "utf-8")


@pytest.mark.parametrize(
    ("raw", "error"),
    [
        (b"a=1&a=2", DuplicateField),
        (b"a=1&&b=2", Malformed),
        (b"a=1&", Malformed),
        (b"&a=1", Malformed),
        (b"a", Malformed),
        (b"a=%zz", Malformed),
        (b"a%20b=1", Malformed),
        (b"=1", Malformed),
        (b"&".join(b"k%d=1" % i for i in range(300)), Malformed),
    ],
)
def test_form_rejects(raw: bytes, error: type[Exception]) -> None:
    with pytest.raises(error):
        wire.split_form(raw)


def test_form_encode_round_trip() -> None:
    pairs = [("subject", "测试 订单&1"), ("n", "a+b=c")]
    for charset in ("utf-8", "gbk"):
        body = wire.encode_form(pairs, charset)
        assert wire.decode_form_values(wire.split_form(body), charset) == pairs


def test_charsets() -> None:
    assert wire.normalize_charset("UTF-8") == "utf-8"
    assert wire.normalize_charset("GB2312") == "gbk"
    assert wire.content_type_charset("application/x-www-form-urlencoded; charset=GBK") == "gbk"
    assert wire.content_type_charset("application/x-www-form-urlencoded") is None
    with pytest.raises(BadCharset):
        wire.normalize_charset("latin-1")


def test_auth_params() -> None:
    assert wire.parse_auth_params('a="1", b="x=y"') == {"a": "1", "b": "x=y"}
    for bad in ('a="1",a="2"', "a=1", 'a="1"junk', 'a="x\\"y"'):
        with pytest.raises(Malformed):
            wire.parse_auth_params(bad)


def test_timestamp_window() -> None:
    wire.check_timestamp_window(1000, 1300, 300)
    with pytest.raises(StaleTimestamp):
        wire.check_timestamp_window(1000, 1301, 300)
    with pytest.raises(Malformed):
        wire.parse_unix_seconds("1e9", "ts")


def test_join_sorted() -> None:
    assert wire.join_sorted([("b", "2"), ("a", "1")]) == "a=1&b=2"
