"""UnionPay back notifications in the charset their `encoding` field names (UTF-8 or GBK).

The string to sign is hashed in that charset and the form is encoded in it, as UnionPay does;
the merchant's reading (the test kit) decodes and verifies it the same way.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from channel_sandbox.channels import unionpay
from channel_sandbox.channels.base import NotificationEvent, RequestRejected
from channel_sandbox.keys import SandboxKeySet, ensure_layout, load_channel_keys
from channel_sandbox.registry import REGISTRY

NOW_S = 1_704_074_405


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> SandboxKeySet:
    path: Path = tmp_path_factory.mktemp("unionpay-charset-keys")
    ensure_layout(path, REGISTRY.key_layouts())
    return load_channel_keys(path, "unionpay")


def _fields(keys: SandboxKeySet, encoding: str) -> dict[str, str]:
    event = NotificationEvent(out_trade_no="ORD1", channel_txn_id="Q1", amount_fen=250)
    fields = unionpay.notification_fields(keys, event, NOW_S)
    return fields | {"encoding": encoding, "reqReserved": "意向金"}


@pytest.mark.parametrize(("encoding", "marker"), [("GBK", b"%D2%E2"), ("UTF-8", b"%E6%84%8F")])
def test_the_form_is_in_the_named_charset_and_reads_back(
    keys: SandboxKeySet, encoding: str, marker: bytes
) -> None:
    signed = unionpay.signed_form(keys, _fields(keys, encoding))
    assert marker in signed.body  # 意 in that charset
    assert f"charset={encoding}" in signed.headers["Content-Type"]
    read = unionpay.read_notification(keys, signed.headers, signed.body, now_s=NOW_S)
    assert (read.out_trade_no, read.amount_fen) == ("ORD1", 250)
    assert read.fields["reqReserved"] == "意向金"


def test_gbk_bytes_declared_utf8_do_not_read(keys: SandboxKeySet) -> None:
    signed = unionpay.signed_form(keys, _fields(keys, "GBK"))
    relabelled = signed.body.replace(b"encoding=GBK", b"encoding=UTF-8")
    with pytest.raises(RequestRejected):
        unionpay.read_notification(keys, signed.headers, relabelled, now_s=NOW_S)


def test_an_unknown_charset_is_refused(keys: SandboxKeySet) -> None:
    signed = unionpay.signed_form(keys, _fields(keys, "UTF-8"))
    relabelled = signed.body.replace(b"encoding=UTF-8", b"encoding=BIG5")
    with pytest.raises(RequestRejected):
        unionpay.read_notification(keys, signed.headers, relabelled, now_s=NOW_S)
