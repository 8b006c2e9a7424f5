"""The uniform face of the channels' server APIs, as our side calls them.

Each online channel has a ``<channel>/client.py`` implementing `ChannelClient` over httpx:
real API paths, our request signing (merchant key) and verification of the channel's signed
answers (channel key). Errors (``ChannelCallError`` and its subclasses) are in
payment_gateway/errors.py.

Channel statuses map to ours with exhaustive tables; an unknown status maps to pending.
"""

from __future__ import annotations

import ssl
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Final, Protocol, runtime_checkable

import httpx

from otd_shared.channels import ChannelCode
from otd_shared.http_clients import pooled_limits
from payment_gateway.adapters.channels.key_files import ClientCertificate
from payment_gateway.domain.outcomes import ChannelOutcome, RefundOutcome
from payment_gateway.errors import ChannelUnreachable

RESPONSE_BYTES_MAX: Final = 256 * 1024
PAYMENT_CODE_METHOD: Final = "bar_code"  # a payment charged on the customer's payment code


@dataclass(frozen=True, kw_only=True)
class StartPayment:
    """What a channel needs to open an order for a payment."""

    out_trade_no: str
    amount_fen: int
    method: str
    description: str
    notify_url: str
    expires_at: datetime


@dataclass(frozen=True, kw_only=True)
class PaymentQueryResult:
    """A verified answer to an order query."""

    outcome: ChannelOutcome
    channel_status: str
    channel_txn_id: str | None = None
    amount_fen: int | None = None
    fee_fen: int | None = None


@dataclass(frozen=True, kw_only=True)
class RefundOrder:
    """What a channel needs to refund (part of) a payment."""

    out_trade_no: str
    out_refund_no: str
    method: str
    payment_amount_fen: int
    refund_amount_fen: int
    reason: str
    notify_url: str
    channel_txn_id: str | None


@dataclass(frozen=True, kw_only=True)
class RefundAnswer:
    """A verified answer about a refund."""

    outcome: RefundOutcome
    channel_status: str
    channel_refund_id: str | None = None


class ChannelClient(Protocol):
    """One channel's server API."""

    @property
    def channel(self) -> ChannelCode:
        """The channel code."""
        ...

    async def start_payment(self, order: StartPayment) -> dict[str, str]:
        """Open the order at the channel; returns what the app or terminal needs."""
        ...

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        """Ask the channel what became of an order."""
        ...

    async def close_payment(self, out_trade_no: str, method: str) -> None:
        """Close an unpaid order so that it can no longer be paid."""
        ...

    async def refund(self, order: RefundOrder) -> RefundAnswer:
        """Ask the channel to refund; the answer is never final (see the module docstring)."""
        ...

    async def query_refund(self, order: RefundOrder) -> RefundAnswer:
        """Ask the channel what became of a refund."""
        ...


@dataclass(frozen=True, kw_only=True)
class PaymentCodeCharge:
    """Charge a customer's scanned payment code (付款码) for a reserved payment."""

    out_trade_no: str
    amount_fen: int
    auth_code: str
    description: str
    notify_url: str = ""
    """Where the channel notifies the outcome (UnionPay ``backUrl``); unused by the others."""


@runtime_checkable
class PaymentCodeClient(Protocol):
    """A channel that charges payment codes (micropay / 当面付 bar code)."""

    async def pay_with_code(self, charge: PaymentCodeCharge) -> PaymentQueryResult:
        """Charge the code: succeeded (to be confirmed by query), pending (the customer is
        paying, e.g. entering a password, or the channel accepted it and tells the outcome
        later) or ChannelRefused. ChannelUnreachable: unknown, to be queried."""
        ...

    async def query_payment(self, out_trade_no: str, method: str) -> PaymentQueryResult:
        """Ask the channel what became of an order."""
        ...


@dataclass(frozen=True)
class ClientOptions:
    """Named limits and clocks every client takes."""

    now_s: Callable[[], int] = lambda: int(time.time())
    clock_skew_max_s: int = 300
    lakala_term_no: str = ""


class ChannelHttp:
    """httpx at one channel's base URL: transport failures become ChannelUnreachable.

    ``mutual_tls``: the same channel through a client that presents our API client
    certificate (WeChat's ``/secapi/`` calls); None when the channel has none.
    """

    def __init__(
        self, client: httpx.AsyncClient, base_url: str, *, mutual_tls: ChannelHttp | None = None
    ) -> None:
        self._client = client
        self._base_url = base_url.rstrip("/")
        self.mutual_tls = mutual_tls

    async def request(
        self, method: str, path: str, *, content: bytes | None, headers: Mapping[str, str]
    ) -> httpx.Response:
        """Send; raise ChannelUnreachable on timeouts, transport errors, 5xx, 429, huge bodies."""
        try:
            response = await self._client.request(
                method, self._base_url + path, content=content, headers=dict(headers)
            )
        except httpx.TimeoutException:
            raise ChannelUnreachable(f"{method} {path}: timed out") from None
        except httpx.HTTPError as exc:
            raise ChannelUnreachable(f"{method} {path}: {type(exc).__name__}") from None
        if response.status_code >= 500 or response.status_code == 429:
            raise ChannelUnreachable(f"{method} {path}: HTTP {response.status_code}")
        if len(response.content) > RESPONSE_BYTES_MAX:
            raise ChannelUnreachable(f"{method} {path}: answer exceeds {RESPONSE_BYTES_MAX} bytes")
        return response


def new_http_client(
    *,
    connect_timeout_s: float,
    read_timeout_s: float,
    client_certificate: ClientCertificate | None = None,
    ca_file: Path | None = None,
) -> httpx.AsyncClient:
    """The pooled httpx client the channel clients share (closed at shutdown).

    With ``client_certificate`` it presents that certificate in every TLS handshake (one such
    client per channel that needs it, same timeouts and limits); ``ca_file`` replaces the
    default trust (certifi) for the servers' certificates (tests, a local TLS sandbox).
    """
    timeout = httpx.Timeout(read_timeout_s, connect=connect_timeout_s)
    limits = pooled_limits()
    verify: ssl.SSLContext | bool = True
    if client_certificate is not None or ca_file is not None:
        verify = _tls_context(client_certificate, ca_file)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False, verify=verify)


def _tls_context(certificate: ClientCertificate | None, ca_file: Path | None) -> ssl.SSLContext:
    context = (
        ssl.create_default_context(cafile=str(ca_file))
        if ca_file is not None
        else httpx.create_ssl_context()
    )
    if certificate is not None:
        context.load_cert_chain(str(certificate.cert_file), str(certificate.key_file))
    return context
