"""UnionPay and Allinpay: the control API emits genuine signed POS notifications."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from channel_sandbox.channels import unionpay
from channel_sandbox.channels.base import Kind as NotificationKind
from channel_sandbox.channels.base import NotificationEvent, Outcome
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.testing import Receiver, new_trade_no, wait_for
from otd_shared.channel_wire import decode_form, encode_form

Control = Callable[..., Awaitable[httpx.Response]]


@pytest.mark.parametrize("channel", ["unionpay", "allinpay"])
async def test_pay_goes_to_the_gateway_callback_by_default(
    channel: str, receiver: Receiver, control: Control
) -> None:
    out_trade_no = new_trade_no("POS")
    accepted = await control(
        channel=channel, out_trade_no=out_trade_no, action="pay", amount_fen=7_700
    )
    assert accepted.status_code == 202
    assert accepted.json()["order"]["notify_url"] == f"{receiver.base_url}/callbacks/{channel}"
    [received] = await wait_for(lambda: receiver.of(out_trade_no))  # type: ignore[misc]
    note = received.notification
    assert (note.channel, note.kind, note.outcome, note.amount_fen) == (
        channel,
        NotificationKind.PAYMENT,
        Outcome.SUCCEEDED,
        7_700,
    )


@pytest.mark.parametrize("channel", ["unionpay", "allinpay"])
async def test_fail_and_refund_notifications(
    channel: str, receiver: Receiver, control: Control
) -> None:
    failed_no, paid_no = new_trade_no("POS"), new_trade_no("POS")
    await control(channel=channel, out_trade_no=failed_no, action="fail", amount_fen=100)
    [failed] = await wait_for(lambda: receiver.of(failed_no))  # type: ignore[misc]
    assert failed.notification.outcome is Outcome.FAILED

    await control(channel=channel, out_trade_no=paid_no, action="pay", amount_fen=1_000)
    refund = await control(
        channel=channel,
        out_trade_no=paid_no,
        action="refund",
        refund_amount_fen=400,
        out_refund_no=paid_no + "R",
    )
    assert refund.status_code == 202, refund.text
    # POS refund notifications name the refund request: out_trade_no = out_refund_no
    [refunded] = await wait_for(lambda: receiver.of(paid_no + "R"))  # type: ignore[misc]
    note = refunded.notification
    assert (note.kind, note.outcome, note.refund_amount_fen) == (
        NotificationKind.REFUND,
        Outcome.REFUNDED,
        400,
    )


def _self_signed_pem(keys: SandboxKeySet) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "中国银联股份有限公司")])
    start = datetime.now(UTC) - timedelta(days=1)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(keys.channel_public_key)
        .serial_number(int(keys.id("certId")))
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=30))
        .sign(keys.channel_private_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_unionpay_sends_510_with_its_signing_certificate_by_default(
    key_sets: dict[str, SandboxKeySet],
) -> None:
    keys = key_sets["unionpay"]
    pem = _self_signed_pem(keys)
    with_cert = replace(keys, sign_cert_pem=pem)
    event = NotificationEvent(out_trade_no="POS1", channel_txn_id="7822", amount_fen=100)
    default = dict(decode_form(unionpay.notification(with_cert, event, now_s=1).body, "utf-8"))
    assert default["version"] == "5.1.0"
    assert "certId" not in default
    assert default["signPubKeyCert"] == pem.strip().replace("\n", "\r\n")
    by_id = dict(
        decode_form(unionpay.notification(with_cert, event, now_s=1, key_id="certId").body, "utf-8")
    )
    assert (by_id["certId"], "signPubKeyCert" in by_id) == (keys.id("certId"), False)
    old = dict(
        decode_form(unionpay.notification(with_cert, event, now_s=1, version="5.0.0").body, "utf-8")
    )
    assert (old["version"], old["certId"], "signPubKeyCert" in old) == (
        "5.0.0",
        keys.id("certId"),
        False,
    )
    # a key set without a certificate names its key by certId
    plain = dict(decode_form(unionpay.notification(keys, event, now_s=1).body, "utf-8"))
    assert plain["certId"] == keys.id("certId")
    for fields in (default, by_id, old):
        body = encode_form(list(fields.items()))
        read = unionpay.read_notification(with_cert, {}, body, now_s=1)
        assert read.out_trade_no == "POS1"
