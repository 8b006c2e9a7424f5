"""Hypothesis against the parsers that take money from outside: channel notifications and
statement files. Random bytes and headers, and genuine inputs truncated, bit-flipped,
re-encoded or spliced, never crash a parser (only its own rejection is raised) and never
turn into different money: a mutated notification either fails verification or verifies to
exactly the genuine one's payment.

``OTD_PARSER_EXAMPLES`` sets the examples per property (``make fuzz`` runs many more).
"""

from __future__ import annotations

import io
import os
import time
from collections.abc import Callable
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from channel_sandbox.keys import SandboxKeySet, load_channel_keys
from channel_sandbox.testing import sign_notification
from otd_shared.errors import DomainError
from payment_gateway.adapters.channels.contract import (
    ChannelProtocol,
    NotificationKind,
    Outcome,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.keys import generate_dev_keys
from payment_gateway.adapters.channels.registry import REGISTRY, load_channel_protocol
from payment_gateway.errors import CallbackRejected
from payment_gateway.testing.notifications import NotificationEvent, sandbox_event
from recon_service.adapters.statements import ParseContext, parse_statement
from recon_service.domain import BUSINESS_TZ, Source, StatementLimits
from recon_service.testing.statement_files import (
    Txn,
    alipay_zip,
    allinpay_csv,
    cash_csv,
    lakala_csv,
    unionpay_zm,
    wechat_bill,
    wire_csv,
)

EXAMPLES = int(os.environ.get("OTD_PARSER_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
CHANNELS = sorted(str(spec.code) for spec in REGISTRY.keyed())
ENCODINGS = ("utf-16", "utf-16-le", "utf-32", "gbk", "latin-1", "cp1252")
DAY = date(2024, 6, 3)
START = datetime(2024, 6, 3, tzinfo=BUSINESS_TZ)
STATEMENTS: dict[str, Callable[[list[Txn]], bytes]] = {
    "wechatpay": wechat_bill,
    "alipay": lambda t: alipay_zip(t, DAY),
    "lakala": lakala_csv,
    "unionpay": unionpay_zm,
    "allinpay": allinpay_csv,
    "cash": lambda t: cash_csv(t, DAY),
    "wire": lambda t: wire_csv(t, DAY),
}


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    keys: Path = tmp_path_factory.mktemp("fuzz-keys")
    generate_dev_keys(keys)
    return keys


@pytest.fixture(scope="module")
def protocols(keys_dir: Path) -> dict[str, ChannelProtocol]:
    """Our side: the gateway's verifiers."""
    return {str(spec.code): load_channel_protocol(keys_dir, spec.code) for spec in REGISTRY.keyed()}


@pytest.fixture(scope="module")
def channel_keys(keys_dir: Path) -> dict[str, SandboxKeySet]:
    """The channel's side: the sandbox signs genuine notifications with these."""
    return {code: load_channel_keys(keys_dir, code) for code in CHANNELS}


def _verify(
    protocol: ChannelProtocol, headers: dict[str, str], body: bytes, now_s: int
) -> VerifiedNotification | None:
    """The verified notification, or None when the protocol rejected it (its only error)."""
    try:
        return protocol.verify_notification(headers, body, now_s=now_s)
    except CallbackRejected:
        return None


def _money(n: VerifiedNotification) -> tuple[object, ...]:
    return (
        n.kind,
        n.outcome,
        n.out_trade_no,
        n.channel_txn_id,
        n.amount_fen,
        n.currency,
        n.out_refund_no,
        n.refund_amount_fen,
        dict(n.merchant_ids),
    )


@st.composite
def mutations(draw: st.DrawFn, body: bytes) -> bytes:
    """A mutation of ``body``; every draw is independent of the body (signed bodies carry
    random nonces, so their lengths differ between runs of one example)."""
    how = draw(st.sampled_from(["truncate", "flip", "insert", "encode", "reverse", "nul"]))
    at = int(draw(st.floats(0, 1)) * len(body))
    xor = draw(st.integers(1, 255))
    extra = draw(st.binary(min_size=1, max_size=16))
    encoding = draw(st.sampled_from(ENCODINGS))
    if how == "truncate":
        return body[: min(at, len(body) - 1)]
    if how == "flip" and body:
        at = min(at, len(body) - 1)
        return body[:at] + bytes([body[at] ^ xor]) + body[at + 1 :]
    if how == "insert":
        return body[:at] + extra + body[at:]
    if how == "encode":
        return body.decode("utf-8", "replace").encode(encoding, "replace")
    if how == "nul":
        return body[:at] + b"\x00" + body[at:]
    return body[:at] + body[at:][::-1]


@FUZZ
@given(
    channel=st.sampled_from(CHANNELS),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=6),
    body=st.binary(max_size=2048),
)
def test_random_notifications_are_rejected(
    protocols: dict[str, ChannelProtocol], channel: str, headers: dict[str, str], body: bytes
) -> None:
    assert _verify(protocols[channel], headers, body, int(time.time())) is None


@FUZZ
@given(
    channel=st.sampled_from(CHANNELS),
    amount_fen=st.integers(1, 10**10),
    refund=st.booleans(),
    data=st.data(),
)
def test_mutated_genuine_notifications_never_change_money(
    protocols: dict[str, ChannelProtocol],
    channel_keys: dict[str, SandboxKeySet],
    channel: str,
    amount_fen: int,
    refund: bool,
    data: st.DataObject,
) -> None:
    protocol = protocols[channel]
    now_s = int(time.time())
    event = NotificationEvent(
        out_trade_no="P20240603000000000001",
        channel_txn_id="4200000001202406030000000001",
        amount_fen=amount_fen,
        kind=NotificationKind.REFUND if refund else NotificationKind.PAYMENT,
        outcome=Outcome.REFUNDED if refund else Outcome.SUCCEEDED,
        out_refund_no="R20240603000000000001" if refund else None,
        channel_refund_id="5000000001202406030000000001" if refund else None,
        refund_amount_fen=amount_fen if refund else None,
    )
    signed = sign_notification(channel_keys[channel], sandbox_event(event), now_s=now_s)
    headers = dict(signed.headers)
    genuine = _verify(protocol, headers, signed.body, now_s)
    assert genuine is not None, "a genuine notification verifies"
    mutated = data.draw(mutations(signed.body))
    header_change = data.draw(st.sampled_from(["none", "empty", "shorter", "longer"]))
    header_index = data.draw(st.integers(0, 100))
    if header_change != "none" and headers:
        name = sorted(headers)[header_index % len(headers)]
        value = headers[name]
        changed = {"empty": "", "shorter": value[:-1], "longer": value + "0"}
        headers[name] = changed[header_change]
    verified = _verify(protocol, headers, mutated, now_s)
    if verified is not None:
        assert _money(verified) == _money(genuine), (channel, mutated[:200])


@st.composite
def statement_files(draw: st.DrawFn) -> tuple[str, bytes]:
    source = draw(st.sampled_from(sorted(STATEMENTS)))
    txns = [
        Txn(
            out_trade_no=f"P240603{n:020d}",
            channel_txn_id=f"24060310000000{n:07d}",
            amount_fen=draw(st.integers(1, 5_000_000_00)),
            at=START + timedelta(seconds=draw(st.integers(0, 86_399))),
            refund=False,
            out_refund_no=None,
            fee_fen=draw(st.integers(0, 99_999)),
        )
        for n in range(draw(st.integers(1, 5)))
    ]
    return source, STATEMENTS[source](txns)


@FUZZ
@given(file=statement_files(), data=st.data())
def test_mutated_statements_parse_or_are_refused(
    file: tuple[str, bytes], data: st.DataObject
) -> None:
    source, genuine = file
    raw = data.draw(st.one_of(mutations(genuine), st.binary(max_size=4096)))
    ctx = ParseContext(Source(source), StatementLimits(), given_date=DAY)
    try:
        lines = list(parse_statement(io.BytesIO(raw), ctx))
    except DomainError:
        return
    for line in lines:
        assert isinstance(line.amount_fen, int), line
        assert line.amount_fen >= 0, line
        assert isinstance(line.fee_fen, int), line
