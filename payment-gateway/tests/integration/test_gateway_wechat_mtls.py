"""WeChat's 撤销 (``/secapi/pay/reverse``) over mutual TLS: the gateway's micropay client against
the channel sandbox running its secapi TLS listener (real TLS, real certificates).

The sandbox trusts exactly the merchant's ``apiclient_cert.pem`` from the key layout; the
gateway presents it with the merchant key. Without it, or with another certificate, the
handshake fails and the payment stays open (pending at the channel, unknown to us, never
paid); over the plain listener the sandbox refuses /secapi/ while the TLS one serves it.
"""

from __future__ import annotations

import ipaddress
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from channel_sandbox.app import create_app, load_sandbox_keys
from channel_sandbox.config import SandboxSettings
from channel_sandbox.store import PayState
from channel_sandbox.testing import SandboxHandle, serving, serving_secapi_tls
from otd_shared import keyfiles
from otd_shared.infra import free_port
from payment_gateway.adapters.channels.certificates import pem_of
from payment_gateway.adapters.channels.client_base import (
    PAYMENT_CODE_METHOD,
    ChannelHttp,
    ClientOptions,
    PaymentCodeCharge,
    new_http_client,
)
from payment_gateway.adapters.channels.key_files import ClientCertificate
from payment_gateway.adapters.channels.keys import generate_dev_keys, load_key_set
from payment_gateway.adapters.channels.wechatpay.client import WechatPayClient
from payment_gateway.domain.outcomes import ChannelOutcome
from payment_gateway.domain.payment import new_out_trade_no
from payment_gateway.errors import ChannelUnreachable

pytestmark = pytest.mark.integration

USER_PAYING_CODE = "134567890123456789"  # the sandbox: a password is needed (USERPAYING)
TIMEOUT_S = 5.0
# TLS 1.3: the server's alert about the client certificate arrives with the first read
HANDSHAKE_REFUSED = r"/secapi/pay/reverse: (ReadError|ConnectError)"


@dataclass(frozen=True)
class TlsSandbox:
    handle: SandboxHandle
    tls_url: str
    keys_dir: Path
    server_cert: Path


def _self_signed(directory: Path, name: str, *, server: bool) -> ClientCertificate:
    """A fresh key and its self-signed certificate (for 127.0.0.1 when `server`)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    start = datetime.now(UTC) - timedelta(days=1)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
    )
    if server:
        address = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        builder = builder.add_extension(x509.SubjectAlternativeName([address]), critical=False)
    cert_file, key_file = directory / f"{name}_cert.pem", directory / f"{name}_key.pem"
    cert_file.write_bytes(pem_of(builder.sign(key, hashes.SHA256())))
    key_file.write_bytes(keyfiles.private_pem(key))
    return ClientCertificate(cert_file=cert_file, key_file=key_file)


@pytest.fixture(scope="module")
async def tls_sandbox(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[TlsSandbox]:
    keys_dir = tmp_path_factory.mktemp("mtls-keys")
    generate_dev_keys(keys_dir)  # the launcher's dev layout, apiclient_cert.pem included
    server = _self_signed(tmp_path_factory.mktemp("mtls-server"), "sandbox", server=True)
    settings = SandboxSettings(
        keys_dir=keys_dir,
        log_level="WARNING",
        gateway_url="http://127.0.0.1:9",
        secapi_tls_port=free_port(),
        tls_cert_file=server.cert_file,
        tls_key_file=server.key_file,
    )
    app = create_app(settings, key_sets=load_sandbox_keys(keys_dir))
    async with serving(app) as url, serving_secapi_tls(app, settings) as tls_url:
        yield TlsSandbox(SandboxHandle(url, app.state.sandbox), tls_url, keys_dir, server.cert_file)


@pytest.fixture
async def plain_http() -> AsyncIterator[httpx.AsyncClient]:
    async with new_http_client(connect_timeout_s=TIMEOUT_S, read_timeout_s=TIMEOUT_S) as client:
        yield client


async def _user_paying(client: WechatPayClient) -> str:
    """A micropay left USERPAYING at the sandbox; its out_trade_no."""
    out_trade_no = new_out_trade_no(datetime.now(UTC))
    charge = PaymentCodeCharge(
        out_trade_no=out_trade_no, amount_fen=1_234, auth_code=USER_PAYING_CODE, description="t"
    )
    assert (await client.pay_with_code(charge)).outcome is ChannelOutcome.PENDING
    return out_trade_no


def _client(
    sandbox: TlsSandbox, plain: httpx.AsyncClient, secapi: ChannelHttp | None
) -> WechatPayClient:
    keys = load_key_set(sandbox.keys_dir, "wechatpay")
    http = ChannelHttp(plain, sandbox.handle.url, mutual_tls=secapi)
    return WechatPayClient(keys, http, ClientOptions())


async def test_the_reverse_presents_the_merchant_certificate_and_closes_the_order(
    tls_sandbox: TlsSandbox, plain_http: httpx.AsyncClient
) -> None:
    keys = load_key_set(tls_sandbox.keys_dir, "wechatpay")
    async with new_http_client(
        connect_timeout_s=TIMEOUT_S,
        read_timeout_s=TIMEOUT_S,
        client_certificate=keys.client_certificate,
        ca_file=tls_sandbox.server_cert,
    ) as mutual:
        client = _client(tls_sandbox, plain_http, ChannelHttp(mutual, tls_sandbox.tls_url))
        out_trade_no = await _user_paying(client)
        await client.close_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert tls_sandbox.handle.order("wechatpay", out_trade_no).state is PayState.CLOSED
    assert ("wechatpay", "reverse", "ok") in tls_sandbox.handle.calls("wechatpay")
    queried = await client.query_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert (queried.outcome, queried.channel_status) == (ChannelOutcome.CLOSED, "REVOKED")


@pytest.mark.parametrize("presented", ["none", "another"])
async def test_without_the_merchant_certificate_the_handshake_fails_and_the_order_stays_open(
    tls_sandbox: TlsSandbox, plain_http: httpx.AsyncClient, tmp_path: Path, presented: str
) -> None:
    other = _self_signed(tmp_path, "intruder", server=False) if presented == "another" else None
    async with new_http_client(
        connect_timeout_s=TIMEOUT_S,
        read_timeout_s=TIMEOUT_S,
        client_certificate=other,
        ca_file=tls_sandbox.server_cert,
    ) as mutual:
        client = _client(tls_sandbox, plain_http, ChannelHttp(mutual, tls_sandbox.tls_url))
        out_trade_no = await _user_paying(client)
        calls_before = len(tls_sandbox.handle.calls("wechatpay"))
        with pytest.raises(ChannelUnreachable, match=HANDSHAKE_REFUSED):
            await client.close_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert len(tls_sandbox.handle.calls("wechatpay")) == calls_before  # never reached the API
    assert tls_sandbox.handle.order("wechatpay", out_trade_no).state is PayState.PENDING
    queried = await client.query_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert (queried.outcome, queried.channel_status) == (ChannelOutcome.PENDING, "USERPAYING")


async def test_the_plain_listener_refuses_secapi_while_the_tls_one_serves_it(
    tls_sandbox: TlsSandbox, plain_http: httpx.AsyncClient
) -> None:
    plain_secapi = ChannelHttp(plain_http, tls_sandbox.handle.url)
    client = _client(tls_sandbox, plain_http, plain_secapi)
    out_trade_no = await _user_paying(client)
    with pytest.raises(ChannelUnreachable, match="return_code FAIL"):
        await client.close_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert ("wechatpay", "reverse", "return-fail") in tls_sandbox.handle.calls("wechatpay")
    assert tls_sandbox.handle.order("wechatpay", out_trade_no).state is PayState.PENDING


async def test_without_a_client_certificate_client_the_reverse_is_not_sent(
    tls_sandbox: TlsSandbox, plain_http: httpx.AsyncClient
) -> None:
    client = _client(tls_sandbox, plain_http, None)
    out_trade_no = await _user_paying(client)
    with pytest.raises(ChannelUnreachable, match="no API client certificate"):
        await client.close_payment(out_trade_no, PAYMENT_CODE_METHOD)
    assert tls_sandbox.handle.order("wechatpay", out_trade_no).state is PayState.PENDING
