"""WeChat API v2 wire helpers (micropay): the v2 signature and flat XML, hostile input refused."""

from __future__ import annotations

import pytest

from payment_gateway.adapters.channels.wechatpay import v2

KEY = b"0123456789abcdefghijABCDEFGHIJkl"


def test_sign_skips_empty_values_and_the_sign_itself() -> None:
    fields = {"b": "2", "a": "1", "empty": "", "sign": "whatever"}
    assert v2.sign_string(fields) == "a=1&b=2"
    assert v2.sign(fields, KEY, "MD5") == v2.sign({"a": "1", "b": "2"}, KEY, "MD5")
    assert v2.sign(fields, KEY, "MD5") != v2.sign(fields, KEY, "HMAC-SHA256")


@pytest.mark.parametrize(
    "change",
    [{"a": "9"}, {"c": "3"}, {"sign": ""}, {"sign": "0" * 64}],
)
def test_verify_refuses_any_change(change: dict[str, str]) -> None:
    fields = {"a": "1", "b": "2"}
    signed = {**fields, "sign": v2.sign(fields, KEY, "HMAC-SHA256")}
    assert v2.verify(signed, KEY, "HMAC-SHA256")
    assert not v2.verify({**signed, **change}, KEY, "HMAC-SHA256")
    assert not v2.verify(signed, KEY[::-1], "HMAC-SHA256")


def test_xml_round_trip_escapes_values() -> None:
    fields = {"body": "a<b>&c]]>", "total_fee": "1"}
    raw = v2.dump_xml(fields)
    assert b"<![CDATA[" not in raw
    assert b"&lt;b&gt;&amp;c" in raw
    assert v2.parse_xml(raw) == fields
    assert v2.parse_xml(b"<xml><a><![CDATA[x]]></a><b/></xml>") == {"a": "x", "b": ""}


@pytest.mark.parametrize(
    "raw",
    [
        b'<!DOCTYPE xml [<!ENTITY e "boom">]><xml><a>&e;</a></xml>',
        b'<?xml version="1.0"?><!doctype xml SYSTEM "file:///etc/passwd"><xml/>',
        b"<xml><a><b>nested</b></a></xml>",
        b"<xml><a>1</a><a>2</a></xml>",
        b"<root><a>1</a></root>",
        b"<xml><a>1</a>",
        b"not xml",
        b"<xml><a>" + b"x" * (v2.XML_BYTES_MAX + 1) + b"</a></xml>",
    ],
)
def test_hostile_or_malformed_xml_is_refused(raw: bytes) -> None:
    with pytest.raises(v2.V2FormatError):
        v2.parse_xml(raw)


def test_field_names_must_be_xml_names() -> None:
    with pytest.raises(v2.V2FormatError):
        v2.dump_xml({"a><b": "x"})
