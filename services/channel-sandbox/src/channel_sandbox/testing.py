"""Test kit: serve an app on a real uvicorn server, play the merchant side of each channel.

* `serving(app)`: run an ASGI app on a free loopback port inside the running event loop.
* `Receiver`: a merchant callback endpoint `/callbacks/{channel}`; it reads every notification
  with a `Reader` (by default the merchant's reading in `channel_sandbox.channels.<channel>`;
  the gateway's tests plug in the gateway's own verifiers) and answers in the channel's
  format; tests can make it fail the first N deliveries of an order or hold answers to
  observe concurrency.
* `Merchant`: signs requests with the merchant keys and checks the sandbox's response
  signatures.
* `sandbox_running(...)`: a whole sandbox on a free port (for other services' tests).
* `serving_secapi_tls(app, settings)`: the sandbox's mutual-TLS listener for WeChat's /secapi/.

Used by the sandbox's own tests and by other services' tests; never imported by the app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

from channel_sandbox import secapi_tls
from channel_sandbox.app import create_app, load_sandbox_keys
from channel_sandbox.channels import alipay, lakala, wechatpay
from channel_sandbox.channels.base import NotificationEvent, ReadNotification, SignedNotification
from channel_sandbox.config import SandboxSettings
from channel_sandbox.engine import Fault, Sandbox
from channel_sandbox.keys import SandboxKeySet
from channel_sandbox.registry import REGISTRY
from channel_sandbox.scenarios import ActionCommand, run_action
from channel_sandbox.spec import SandboxChannels
from channel_sandbox.store import Order, PayState, Refund
from otd_shared.channel_wire import encode_form, rsa_sign_b64, rsa_verify_b64
from otd_shared.infra import free_port
from otd_shared.money import fen_to_yuan

SERVER_START_TIMEOUT_S = 10.0


class _QuietServer(uvicorn.Server):
    """uvicorn inside the test loop, leaving pytest's signal handlers alone."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@contextlib.asynccontextmanager
async def serving(app: FastAPI) -> AsyncIterator[str]:
    """Serve `app` on a free loopback port; yields its base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_config=None, access_log=False, ws="none"
    )
    async with serving_config(config):
        yield f"http://127.0.0.1:{port}"


@contextlib.asynccontextmanager
async def serving_secapi_tls(app: FastAPI, settings: SandboxSettings) -> AsyncIterator[str]:
    """The sandbox's secapi TLS listener (`secapi_tls`) for `app`; yields its https base URL."""
    async with serving_config(secapi_tls.listener_config(app, settings)):
        yield f"https://{settings.host}:{settings.secapi_tls_port}"


@contextlib.asynccontextmanager
async def serving_config(config: uvicorn.Config) -> AsyncIterator[None]:
    """Run a uvicorn server with `config` inside the running loop until the block ends."""
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        assert not task.done(), "server exited during start-up"
        assert time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield
    finally:
        server.should_exit = True
        await task


async def wait_for(
    probe: Callable[[], Awaitable[object] | object], *, timeout_s: float = 5.0
) -> object:
    """Poll `probe` (sync or async) until truthy; fail with the last value otherwise."""
    deadline = time.monotonic() + timeout_s
    last: object = None
    while time.monotonic() < deadline:
        last = probe()
        if asyncio.iscoroutine(last):
            last = await last
        if last:
            return last
        await asyncio.sleep(0.02)
    raise AssertionError(f"condition not met within {timeout_s}s; last value: {last!r}")


def new_trade_no(prefix: str = "T") -> str:
    return prefix + uuid.uuid4().hex[:20].upper()


# ---------------------------------------------------------------- merchant notify endpoint


class NotificationLike(Protocol):
    """What the Receiver needs from a read notification (ours or the gateway's)."""

    @property
    def out_trade_no(self) -> str: ...


Reader = Callable[[str, Mapping[str, str], bytes], NotificationLike]
"""(channel, headers, raw body) → the notification; raises when it is not genuine."""

FAILURE_ANSWER: tuple[int, bytes] = (500, '{"code":"FAIL","message":"失败"}'.encode())


def sandbox_reader(
    keys: Mapping[str, SandboxKeySet], channels: SandboxChannels = REGISTRY
) -> Reader:
    """Read notifications with the merchant's reading in the sandbox's channel packages."""

    def read(channel: str, headers: Mapping[str, str], body: bytes) -> ReadNotification:
        reader = channels.channel(channel).read_notification
        return reader(keys[channel], headers, body, now_s=int(time.time()))

    return read


@dataclass(frozen=True)
class Received:
    channel: str
    notification: Any  # ReadNotification, or whatever the Receiver's reader returns
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """A merchant callback endpoint: read (verify) each notification, answer, record.

    `received` holds what `reader` returned (a ReadNotification with the sandbox's reader; the
    gateway's VerifiedNotification with the gateway's).
    """

    reader: Reader
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)  # out_trade_no → failures left
    hold_s: dict[str, float] = field(default_factory=dict)  # out_trade_no → answer delay
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    base_url: str = ""
    channels: SandboxChannels = REGISTRY  # whose merchant answers it gives

    def of(self, out_trade_no: str) -> list[Received]:
        return [r for r in self.received if r.notification.out_trade_no == out_trade_no]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/callbacks/{channel}")
        async def callback(channel: str, request: Request) -> Response:
            body = await request.body()
            try:
                read = self.reader(channel, request.headers, body)
            except Exception as error:  # noqa: BLE001 - any failure to read is a rejection
                self.rejected.append((channel, f"{type(error).__name__}: {error}"))
                status, answer = FAILURE_ANSWER
            else:
                status, answer = await self._answer(channel, read, body, dict(request.headers))
            return Response(answer, status)

        return app

    async def _answer(
        self, channel: str, read: NotificationLike, body: bytes, headers: dict[str, str]
    ) -> tuple[int, bytes]:
        key = read.out_trade_no
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self.in_flight[key])
        try:
            await asyncio.sleep(self.hold_s.get(key, 0.0))
        finally:
            self.in_flight[key] -= 1
        self.received.append(Received(channel, read, body, headers, time.time()))
        if self.fail_first.get(key, 0) > 0:
            self.fail_first[key] -= 1
            return FAILURE_ANSWER
        return self.channels.channel(channel).merchant_ack


# ---------------------------------------------------------------- merchant API client


@dataclass
class Merchant:
    """Signs our requests and verifies the sandbox's signed responses."""

    http: httpx.AsyncClient
    keys: Mapping[str, SandboxKeySet]

    async def wechat(
        self, method: str, url: str, payload: object | None = None, *, sign: bool = True
    ) -> httpx.Response:
        keys = self.keys["wechatpay"]
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if sign:
            headers["Authorization"] = wechatpay.merchant_authorization(
                keys, method, url, body, now_s=int(time.time())
            )
        response = await self.http.request(method, url, content=body, headers=headers)
        self.verify_wechat_response(response)
        return response

    def verify_wechat_response(self, response: httpx.Response) -> None:
        keys = self.keys["wechatpay"]
        headers = response.headers
        assert headers[wechatpay.HEADER_SERIAL] == keys.id("serial")
        assert abs(int(headers[wechatpay.HEADER_TIMESTAMP]) - time.time()) < 300
        message = wechatpay.platform_message(
            headers[wechatpay.HEADER_TIMESTAMP], headers[wechatpay.HEADER_NONCE], response.content
        )
        assert rsa_verify_b64(keys.channel_public_key, headers[wechatpay.HEADER_SIGNATURE], message)

    async def lakala(
        self, path: str, req_data: Mapping[str, object], *, sign: bool = True
    ) -> httpx.Response:
        keys = self.keys["lakala"]
        envelope = {"req_time": time.strftime("%Y%m%d%H%M%S"), "version": "3.0"}
        body = json.dumps({**envelope, "req_data": dict(req_data)}).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["Authorization"] = lakala.merchant_authorization(
                keys, body, now_s=int(time.time())
            )
        response = await self.http.post(path, content=body, headers=headers)
        lakala.verify_response(
            keys, dict(response.headers), response.content, now_s=int(time.time())
        )
        return response

    async def alipay(
        self, method: str, biz_content: Mapping[str, object], *, tamper: bool = False
    ) -> dict[str, object]:
        keys = self.keys["alipay"]
        params = [
            ("app_id", keys.id("app_id")),
            ("method", method),
            ("format", "JSON"),
            ("charset", "utf-8"),
            ("sign_type", "RSA2"),
            ("timestamp", time.strftime("%Y-%m-%d %H:%M:%S")),
            ("version", "1.0"),
            ("biz_content", json.dumps(dict(biz_content), ensure_ascii=False)),
        ]
        content = alipay.request_sign_content(params).encode("utf-8")
        sign = rsa_sign_b64(keys.require_merchant_private_key(), content)
        if tamper:
            params[-1] = ("biz_content", json.dumps({**biz_content, "x": "1"}))
        body = encode_form([*params, ("sign", sign)], "utf-8")
        response = await self.http.post(
            "/gateway.do",
            content=body,
            headers={"Content-Type": "application/x-www-form-urlencoded;charset=utf-8"},
        )
        assert response.status_code == 200
        return self.verify_alipay_response(method, response.text)

    def alipay_order_string(
        self, out_trade_no: str, amount_fen: int, subject: str, *, notify_url: str
    ) -> str:
        """The signed app pay order string the merchant's backend hands the app."""
        keys = self.keys["alipay"]
        biz = {
            "out_trade_no": out_trade_no,
            "total_amount": fen_to_yuan(amount_fen),
            "subject": subject,
            "product_code": "QUICK_MSECURITY_PAY",
        }
        params = [
            ("app_id", keys.id("app_id")),
            ("biz_content", json.dumps(biz, ensure_ascii=False, separators=(",", ":"))),
            ("charset", "utf-8"),
            ("format", "JSON"),
            ("method", alipay.APP_PAY_METHOD),
            ("notify_url", notify_url),
            ("sign_type", "RSA2"),
            ("timestamp", alipay.alipay_time(int(time.time()))),
            ("version", "1.0"),
        ]
        content = alipay.request_sign_content(params).encode("utf-8")
        sign = rsa_sign_b64(keys.require_merchant_private_key(), content)
        return encode_form([*params, ("sign", sign)], "utf-8").decode("ascii")

    def verify_alipay_response(self, method: str, text: str) -> dict[str, object]:
        """Check `sign` over the exact `*_response` text; returns the parsed document."""
        document: dict[str, object] = json.loads(text)
        key = method.replace(".", "_") + "_response"
        if "sign" in document:
            start = text.index(f'"{key}":') + len(key) + 3
            end = text.rindex(',"sign":')
            assert rsa_verify_b64(
                self.keys["alipay"].channel_public_key,
                str(document["sign"]),
                text[start:end].encode("utf-8"),
            ), "Alipay response sign does not verify"
        return document


# ---------------------------------------------------------------- a whole sandbox for other tests


@dataclass
class SandboxHandle:
    """A running sandbox: its URL and in-process controls over the channels' side.

    The controls act on the channel's state directly (no notification is sent unless a
    method says so), for tests that drive a merchant client against the sandbox.
    """

    url: str
    engine: Sandbox

    @property
    def keys(self) -> Mapping[str, SandboxKeySet]:
        return self.engine.keys

    def order(self, channel: str, out_trade_no: str) -> Order:
        """The channel's order; KeyError when the channel does not know it."""
        order = self.engine.store.get(channel, out_trade_no)
        if order is None:
            raise KeyError(f"{channel} has no order {out_trade_no!r}")
        return order

    def open(self, channel: str, out_trade_no: str, amount_fen: int) -> Order:
        """Make an order known without a create call (Alipay app pay, POS)."""
        command = ActionCommand(
            channel=channel, action="open", out_trade_no=out_trade_no, amount_fen=amount_fen
        )
        outcome = run_action(self.engine, command)
        assert outcome.order is not None
        return outcome.order

    def pay(self, channel: str, out_trade_no: str) -> Order:
        """The buyer paid (queries see it); no notification is sent."""
        order = self.order(channel, out_trade_no)
        self.engine.mark_paid(order)
        return order

    def set_state(self, channel: str, out_trade_no: str, state: PayState) -> Order:
        """Fail or close a pending order (no notification)."""
        order = self.order(channel, out_trade_no)
        if state is PayState.FAILED:
            self.engine.mark_failed(order)
        elif state is PayState.CLOSED:
            self.engine.close(order)
        elif state is PayState.PAID:
            self.engine.mark_paid(order)
        return order

    def forget(self, channel: str, out_trade_no: str) -> None:
        """The channel loses the order (queries answer not found)."""
        self.engine.store.remove(channel, out_trade_no)

    def refund(self, channel: str, out_refund_no: str) -> tuple[Order, Refund]:
        """A refund the channel accepted; KeyError when unknown."""
        order = self.engine.store.order_of_refund(channel, out_refund_no)
        if order is None:
            raise KeyError(f"{channel} has no refund {out_refund_no!r}")
        return order, order.refunds[out_refund_no]

    def settle_refund(self, channel: str, out_refund_no: str) -> Refund:
        """The refund succeeds now (queries see it); no notification is sent."""
        order, refund = self.refund(channel, out_refund_no)
        self.engine.succeed_refund(order, refund, notify=False)
        return refund

    def refuse_refund(self, channel: str, out_refund_no: str) -> None:
        """The refund with this number, when requested, ends abnormal (WeChat ABNORMAL)."""
        self.engine.store.armed_refund_failures.add((channel, out_refund_no))

    def fault(self, channel: str, fault: Fault | str | None) -> None:
        """Inject `fault` into the channel's API answers (None heals it)."""
        if fault is None:
            self.engine.faults.pop(channel, None)
        else:
            self.engine.faults[channel] = Fault(fault)

    @contextlib.contextmanager
    def faulty(self, channel: str, fault: Fault | str) -> Iterator[None]:
        """`fault` for the duration of the block."""
        self.fault(channel, fault)
        try:
            yield
        finally:
            self.fault(channel, None)

    def calls(self, channel: str | None = None) -> list[tuple[str, str, str]]:
        """The recent channel API calls as (channel, api, result), oldest first."""
        return [call for call in self.engine.api_calls if channel in (None, call[0])]

    def notification(
        self, channel: str, event: NotificationEvent, *, now_s: int | None = None, **options: Any
    ) -> SignedNotification:
        """A notification signed by the channel (`options`: the module's, e.g. Lakala shape)."""
        at_s = int(time.time()) if now_s is None else now_s
        channel_of = self.engine.channels.channel(channel)
        return channel_of.notification(self.keys[channel], event, now_s=at_s, **options)


def sign_notification(
    keys: SandboxKeySet,
    event: NotificationEvent,
    *,
    now_s: int,
    channels: SandboxChannels = REGISTRY,
    **options: Any,
) -> SignedNotification:
    """`event` as `keys.channel` notifies it, signed with the channel key (`options`: the
    channel's own, e.g. Lakala's ``shape``)."""
    channel = channels.channel(keys.channel)
    return channel.notification(keys, event, now_s=now_s, **options)


@contextlib.asynccontextmanager
async def sandbox_running(keys_dir: Path, **settings: Any) -> AsyncIterator[SandboxHandle]:
    """A whole sandbox on a free loopback port with the keys under `keys_dir`.

    `settings` override SandboxSettings (defaults here: quiet logs, retries scaled by 0.001).
    """
    values: dict[str, Any] = {"keys_dir": keys_dir, "retry_scale": 0.001, "log_level": "WARNING"}
    values.update(settings)
    app = create_app(SandboxSettings(**values), key_sets=load_sandbox_keys(keys_dir))
    async with serving(app) as url:
        yield SandboxHandle(url, app.state.sandbox)
