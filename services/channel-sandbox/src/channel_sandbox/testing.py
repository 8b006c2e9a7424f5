"""Test kit: serve an app on a real uvicorn server, play the merchant side of each channel.

* `serving(app)`: run an ASGI app on a free loopback port inside the running event loop.
* `Receiver`: our callback endpoint `/callbacks/{channel}`; it verifies every notification with
  the gateway-side verifier (`registry.load_channel_protocol(...).verify_notification`) and
  answers in the channel's format; tests can make it fail the first N deliveries of an order or
  hold answers to observe concurrency.
* `Merchant`: signs requests with the merchant keys and verifies the sandbox's response
  signatures the way the gateway's channel clients must.

Used by the sandbox's own tests; e2e tests may use it too. Imports test-only behaviour, never
imported by the sandbox app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field

import httpx
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import Response

from otd_shared.infra import free_port
from payment_gateway.adapters.channels.alipay.protocol import request_sign_content
from payment_gateway.adapters.channels.contract import (
    CallbackAnswer,
    ChannelProtocol,
    VerifiedNotification,
)
from payment_gateway.adapters.channels.errors import CallbackRejected
from payment_gateway.adapters.channels.keys import ChannelKeySet
from payment_gateway.adapters.channels.lakala import protocol as lakala_protocol
from payment_gateway.adapters.channels.rsa_signing import sign_b64, verify_b64
from payment_gateway.adapters.channels.wechatpay import protocol as wechat_protocol
from payment_gateway.adapters.channels.wire import encode_form

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
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve())
    deadline = time.monotonic() + SERVER_START_TIMEOUT_S
    while not server.started:
        assert not task.done(), "server exited during start-up"
        assert time.monotonic() < deadline, "server did not start"
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
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


@dataclass(frozen=True)
class Received:
    channel: str
    notification: VerifiedNotification
    body: bytes
    headers: dict[str, str]
    at: float


@dataclass
class Receiver:
    """Our callback endpoint: verify with the gateway-side protocol, answer, record."""

    protocols: dict[str, ChannelProtocol]
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, str]] = field(default_factory=list)
    fail_first: dict[str, int] = field(default_factory=dict)  # out_trade_no → failures left
    hold_s: dict[str, float] = field(default_factory=dict)  # out_trade_no → answer delay
    in_flight: dict[str, int] = field(default_factory=dict)
    max_in_flight: dict[str, int] = field(default_factory=dict)
    base_url: str = ""

    def of(self, out_trade_no: str) -> list[Received]:
        return [r for r in self.received if r.notification.out_trade_no == out_trade_no]

    def app(self) -> FastAPI:
        app = FastAPI()

        @app.post("/callbacks/{channel}")
        async def callback(channel: str, request: Request) -> Response:
            body = await request.body()
            protocol = self.protocols[channel]
            try:
                verified = protocol.verify_notification(
                    request.headers, body, now_s=int(time.time())
                )
            except CallbackRejected as error:
                self.rejected.append((channel, str(error)))
                answer = protocol.failure_answer(error)
            else:
                answer = await self._answer(channel, verified, body, dict(request.headers))
            return Response(answer.body, answer.status_code, media_type=answer.media_type)

        return app

    async def _answer(
        self, channel: str, verified: VerifiedNotification, body: bytes, headers: dict[str, str]
    ) -> CallbackAnswer:
        key = verified.out_trade_no
        self.in_flight[key] = self.in_flight.get(key, 0) + 1
        self.max_in_flight[key] = max(self.max_in_flight.get(key, 0), self.in_flight[key])
        try:
            await asyncio.sleep(self.hold_s.get(key, 0.0))
        finally:
            self.in_flight[key] -= 1
        self.received.append(Received(channel, verified, body, headers, time.time()))
        protocol = self.protocols[channel]
        if self.fail_first.get(key, 0) > 0:
            self.fail_first[key] -= 1
            return protocol.failure_answer()
        return protocol.success_answer()


# ---------------------------------------------------------------- merchant API client


@dataclass
class Merchant:
    """Signs our requests and verifies the sandbox's signed responses."""

    http: httpx.AsyncClient
    keys: Mapping[str, ChannelKeySet]

    async def wechat(
        self, method: str, url: str, payload: object | None = None, *, sign: bool = True
    ) -> httpx.Response:
        keys = self.keys["wechatpay"]
        body = json.dumps(payload).encode() if payload is not None else b""
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if sign:
            headers["Authorization"] = wechat_protocol.build_authorization(
                method,
                url,
                body,
                mchid=keys.id("mchid"),
                serial_no=keys.id("merchant_serial"),
                private_key=keys.merchant_private_key,
                timestamp_s=int(time.time()),
            )
        response = await self.http.request(method, url, content=body, headers=headers)
        self.verify_wechat_response(response)
        return response

    def verify_wechat_response(self, response: httpx.Response) -> None:
        keys = self.keys["wechatpay"]
        wechat_protocol.verify_signed_headers(
            dict(response.headers),
            response.content,
            platform_keys={keys.id("serial"): keys.channel_public_key},
            now_s=int(time.time()),
        )

    async def lakala(
        self, path: str, req_data: Mapping[str, object], *, sign: bool = True
    ) -> httpx.Response:
        keys = self.keys["lakala"]
        envelope = {"req_time": time.strftime("%Y%m%d%H%M%S"), "version": "3.0"}
        body = json.dumps({**envelope, "req_data": dict(req_data)}).encode()
        headers = {"Content-Type": "application/json"}
        if sign:
            headers["Authorization"] = lakala_protocol.build_request_authorization(
                body,
                appid=keys.id("appid"),
                serial_no=keys.id("serial_no"),
                private_key=keys.merchant_private_key,
                timestamp_s=int(time.time()),
            )
        response = await self.http.post(path, content=body, headers=headers)
        lakala_protocol.verify_response(
            dict(response.headers),
            response.content,
            lakala_public_key=keys.channel_public_key,
            expected_appid=keys.id("appid"),
            expected_serial_no=keys.id("serial_no"),
            now_s=int(time.time()),
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
        sign = sign_b64(keys.merchant_private_key, request_sign_content(params).encode())
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

    def verify_alipay_response(self, method: str, text: str) -> dict[str, object]:
        """Check `sign` over the exact `*_response` text; returns the parsed document."""
        document: dict[str, object] = json.loads(text)
        key = method.replace(".", "_") + "_response"
        if "sign" in document:
            start = text.index(f'"{key}":') + len(key) + 3
            end = text.rindex(',"sign":')
            verify_b64(
                self.keys["alipay"].channel_public_key,
                str(document["sign"]),
                text[start:end].encode("utf-8"),
            )
        return document
