"""``POST /callbacks/{channel}``: channel notifications, authenticated by their signatures.

The body is read with a size limit while streaming (a larger body is refused without reading
on); the answer is the channel's own (WeChat 204 / FAIL JSON, Alipay ``success``, Lakala
SUCCESS JSON, UnionPay 200 ``ok``, Allinpay ``success``), sent after the commit.

``CallbackLane`` serves these requests ahead of the generic middlewares (correlation ids,
request metrics, body limit: about 0.5 ms per request, measured) because this is the hot path
the channels retry against under load; it binds its own correlation id, counts
``payment_callbacks_total`` and enforces its own body limit. The FastAPI route below is the same
handler (documented in OpenAPI, used when the lane is not installed).
"""

from __future__ import annotations

import logging
import uuid
from typing import Final

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from otd_shared.body_limit import read_limited_body
from otd_shared.channels import ChannelCode
from otd_shared.observability import CORRELATION_HEADER, set_correlation_id
from payment_gateway.service_layer.callbacks import handle_callback
from payment_gateway.service_layer.context import Gateway

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])
CALLBACK_PREFIX: Final = "/callbacks/"


async def answer_callback(gw: Gateway, path_channel: str, request: Request) -> Response:
    """Verify, apply and answer one notification in the channel's format."""
    channel = _channel_of(path_channel)
    protocol = None if channel is None else gw.protocols.get(channel)
    if channel is None or protocol is None:
        return PlainTextResponse("unknown channel", status_code=404)
    body, seen = await read_limited_body(request, gw.settings.callback_max_body_bytes)
    try:
        answer = await handle_callback(gw, protocol, request.headers.items(), body, body_bytes=seen)
    except Exception:  # noqa: BLE001  (answer the channel's failure so it retries; logged)
        log.exception("callback processing failed", extra={"channel": channel})
        gw.metrics.callback(channel, "rejected", "internal_error")
        answer = protocol.failure_answer(None)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)


@router.post(
    "/callbacks/{channel}",
    summary="Channel notification (wechatpay, alipay, lakala, unionpay, allinpay)",
    response_class=Response,
)
async def channel_callback(channel: str, request: Request) -> Response:
    """Verify the signature, our merchant ids, amount and order; store; apply once; answer."""
    return await answer_callback(request.app.state.gateway, channel, request)


def _channel_of(path_channel: str) -> ChannelCode | None:
    try:
        return ChannelCode(path_channel)
    except ValueError:
        return None


class CallbackLane:
    """Pure ASGI middleware: ``POST /callbacks/<channel>`` straight to ``answer_callback``."""

    def __init__(self, app: ASGIApp, gateway: Gateway) -> None:
        self._app = app
        self._gateway = gateway

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path = scope.get("path", "") if scope["type"] == "http" else ""
        channel = path[len(CALLBACK_PREFIX) :]
        if scope.get("method") != "POST" or not path.startswith(CALLBACK_PREFIX) or "/" in channel:
            await self._app(scope, receive, send)
            return
        request = Request(scope, receive)
        set_correlation_id(request.headers.get(CORRELATION_HEADER) or uuid.uuid4().hex)
        response = await answer_callback(self._gateway, channel, request)
        await response(scope, receive, send)
