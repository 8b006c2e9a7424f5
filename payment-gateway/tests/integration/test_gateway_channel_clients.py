"""The channel clients against a real local HTTP server playing the channel side (signed
answers, our signatures checked there): every operation, and every way an answer can be
unusable (timeout, 5xx, bad signature) turning into ChannelUnreachable."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from channel_sandbox.testing import SandboxHandle
from payment_gateway.adapters.channels.client_base import (
    ChannelClient,
    ChannelHttp,
    ClientOptions,
    RefundOrder,
    StartPayment,
)
from payment_gateway.adapters.channels.keys import load_key_set
from payment_gateway.adapters.channels.registry import build_channel_client
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.domain.payment import new_out_trade_no
from payment_gateway.errors import ChannelRefused, ChannelUnreachable, OperationNotOffered

pytestmark = pytest.mark.integration


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=httpx.Timeout(5.0, connect=5.0)) as client:
        yield client


# Shorter than the sandbox's fault delay (1.5 s): the "timeout" fault's answer never comes in time.
FAULT_TIMEOUT = httpx.Timeout(0.3, connect=0.3)


def client_for(
    channel: str,
    sandbox: SandboxHandle,
    keys_dir: Path,
    http: httpx.AsyncClient,
    **key_changes: object,
) -> ChannelClient:
    keys = replace(load_key_set(keys_dir, channel), **key_changes)  # type: ignore[arg-type]
    return build_channel_client(
        channel, keys, ChannelHttp(http, sandbox.url), ClientOptions(lakala_term_no="T1")
    )


def order(method: str = "app", amount_fen: int = 1_234) -> StartPayment:
    now = datetime.now(UTC)
    return StartPayment(
        out_trade_no=new_out_trade_no(now),
        amount_fen=amount_fen,
        method=method,
        description="test",
        notify_url="http://127.0.0.1:1/callbacks/x",
        expires_at=now + timedelta(minutes=30),
    )


def refund_of(start: StartPayment, amount_fen: int) -> RefundOrder:
    return RefundOrder(
        out_trade_no=start.out_trade_no,
        out_refund_no="R" + start.out_trade_no[1:],
        method=start.method,
        payment_amount_fen=start.amount_fen,
        refund_amount_fen=amount_fen,
        reason="test",
        notify_url="http://127.0.0.1:1/callbacks/x",
        channel_txn_id=None,
    )


async def test_wechat_client_operations(
    sandbox: SandboxHandle, gateway_keys_dir: Path, http: httpx.AsyncClient
) -> None:
    client = client_for("wechatpay", sandbox, gateway_keys_dir, http)
    start = order()
    params = await client.start_payment(start)
    assert params["prepayid"].startswith("wx")
    assert params["package"] == "Sign=WXPay"
    pending = await client.query_payment(start.out_trade_no, "app")
    assert (pending.outcome, pending.channel_status) == (ChannelOutcome.PENDING, "NOTPAY")
    sim_order = sandbox.pay("wechatpay", start.out_trade_no)
    paid = await client.query_payment(start.out_trade_no, "app")
    assert (paid.outcome, paid.channel_txn_id, paid.amount_fen) == (
        ChannelOutcome.SUCCEEDED,
        sim_order.channel_txn_id,
        1_234,
    )
    with pytest.raises(ChannelRefused) as refused:
        await client.close_payment(start.out_trade_no, "app")
    assert refused.value.code == "ORDERPAID"
    answer = await client.refund(refund_of(start, 234))
    assert answer.outcome is RefundOutcome.PROCESSING
    sandbox.settle_refund("wechatpay", "R" + start.out_trade_no[1:])
    assert (await client.query_refund(refund_of(start, 234))).outcome is RefundOutcome.SUCCEEDED
    missing = await client.query_payment("PNOSUCHORDER000000000000000", "app")
    assert missing.outcome is ChannelOutcome.NOT_FOUND


async def test_alipay_client_operations(
    sandbox: SandboxHandle, gateway_keys_dir: Path, http: httpx.AsyncClient
) -> None:
    client = client_for("alipay", sandbox, gateway_keys_dir, http)
    start = order()
    assert "order_string" in await client.start_payment(start)
    assert (
        await client.query_payment(start.out_trade_no, "app")
    ).outcome is ChannelOutcome.NOT_FOUND
    await client.close_payment(start.out_trade_no, "app")  # never opened: nothing to close
    sandbox.open("alipay", start.out_trade_no, start.amount_fen)
    assert (await client.query_payment(start.out_trade_no, "app")).outcome is ChannelOutcome.PENDING
    sandbox.pay("alipay", start.out_trade_no)
    paid = await client.query_payment(start.out_trade_no, "app")
    assert (paid.outcome, paid.amount_fen) == (ChannelOutcome.SUCCEEDED, 1_234)
    assert (await client.query_refund(refund_of(start, 1_000))).outcome is RefundOutcome.NOT_FOUND
    assert (await client.refund(refund_of(start, 1_000))).outcome is RefundOutcome.PROCESSING
    # Alipay refunds synchronously (fund_change Y): the refund query confirms it at once.
    assert (await client.query_refund(refund_of(start, 1_000))).outcome is RefundOutcome.SUCCEEDED


@pytest.mark.parametrize("method", ["app_quick_pay", "web_banking", "wechat_qr", "alipay_qr"])
async def test_lakala_client_operations(
    sandbox: SandboxHandle, gateway_keys_dir: Path, http: httpx.AsyncClient, method: str
) -> None:
    client = client_for("lakala", sandbox, gateway_keys_dir, http)
    start = order(method)
    params = await client.start_payment(start)
    assert params.get("counter_url") or params.get("code_url")
    assert (
        await client.query_payment(start.out_trade_no, method)
    ).outcome is ChannelOutcome.PENDING
    sandbox.pay("lakala", start.out_trade_no)
    paid = await client.query_payment(start.out_trade_no, method)
    assert (paid.outcome, paid.amount_fen) == (ChannelOutcome.SUCCEEDED, 1_234)
    with pytest.raises(OperationNotOffered):
        await client.close_payment(start.out_trade_no, method)
    assert (await client.refund(refund_of(start, 200))).outcome is RefundOutcome.PROCESSING
    sandbox.settle_refund("lakala", "R" + start.out_trade_no[1:])
    assert (await client.query_refund(refund_of(start, 200))).outcome is RefundOutcome.SUCCEEDED


@pytest.mark.parametrize("channel", ["wechatpay", "alipay", "lakala"])
@pytest.mark.parametrize("mode", ["timeout", "error", "bad_signature"])
async def test_unusable_answers_are_unreachable(
    sandbox: SandboxHandle,
    gateway_keys_dir: Path,
    http: httpx.AsyncClient,
    channel: str,
    mode: str,
) -> None:
    client = client_for(channel, sandbox, gateway_keys_dir, http)
    start = order("wechat_qr" if channel == "lakala" else "app")
    if channel == "alipay":
        sandbox.open("alipay", start.out_trade_no, start.amount_fen)
    else:
        await client.start_payment(start)
    async with httpx.AsyncClient(timeout=FAULT_TIMEOUT) as impatient:
        faulty_client = client_for(channel, sandbox, gateway_keys_dir, impatient)
        with sandbox.faulty(channel, mode), pytest.raises(ChannelUnreachable):
            await faulty_client.query_payment(start.out_trade_no, start.method)


async def test_our_wrong_signature_is_refused_by_the_channel(
    sandbox: SandboxHandle, gateway_keys_dir: Path, http: httpx.AsyncClient
) -> None:
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    client = client_for("wechatpay", sandbox, gateway_keys_dir, http, merchant_private_key=stranger)
    with pytest.raises(ChannelRefused) as refused:
        await client.start_payment(order())
    assert refused.value.code == "SIGN_ERROR"


async def test_unreachable_host(gateway_keys_dir: Path, http: httpx.AsyncClient) -> None:
    keys = load_key_set(gateway_keys_dir, "wechatpay")
    client = build_channel_client(
        "wechatpay", keys, ChannelHttp(http, "http://127.0.0.1:9"), ClientOptions()
    )
    with pytest.raises(ChannelUnreachable):
        await client.start_payment(order())


async def test_pos_client_offers_an_order_qr_and_queries_the_acquirer(
    gateway_keys_dir: Path, http: httpx.AsyncClient
) -> None:
    """Starting a POS payment gives the order QR (no call); querying it calls the acquirer's
    query API (UnionPay txnType 00), here an address nobody listens on."""
    keys = load_key_set(gateway_keys_dir, "unionpay")
    client = build_channel_client(
        "unionpay", keys, ChannelHttp(http, "http://127.0.0.1:9"), ClientOptions()
    )
    start = order("pos_order_qr")
    assert (await client.start_payment(start))[
        "order_qr"
    ] == f"OTDPAY:unionpay:{start.out_trade_no}"
    with pytest.raises(ChannelUnreachable, match="queryTrans.do"):
        await client.query_payment(start.out_trade_no, start.method)
