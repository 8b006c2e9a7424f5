"""``POST /callbacks/{channel}``: channel notifications, authenticated by their signatures.

The body is read with a size limit while streaming (a larger body is refused without reading
on); the answer is the channel's own (WeChat 204 / FAIL JSON, Alipay ``success``, Lakala
SUCCESS JSON, UnionPay 200 ``ok``, Allinpay ``success``), sent after the commit.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from payment_gateway.service_layer.callbacks import handle_callback
from payment_gateway.service_layer.context import Gateway

log = logging.getLogger(__name__)
router = APIRouter(tags=["callbacks"])


async def read_limited(request: Request, limit_bytes: int) -> tuple[bytes, int]:
    """The body up to ``limit_bytes`` and how many bytes were seen (more means too large)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit_bytes:
        return b"", int(declared)
    chunks: list[bytes] = []
    seen = 0
    async for chunk in request.stream():
        seen += len(chunk)
        if seen > limit_bytes:
            return b"".join(chunks), seen
        chunks.append(chunk)
    return b"".join(chunks), seen


@router.post(
    "/callbacks/{channel}",
    summary="Channel notification (wechatpay, alipay, lakala, unionpay, allinpay)",
    response_class=Response,
)
async def channel_callback(channel: str, request: Request) -> Response:
    """Verify the signature, our merchant ids, amount and order; store; apply once; answer."""
    gw: Gateway = request.app.state.gateway
    protocol = gw.protocols.get(channel)
    if protocol is None:
        return PlainTextResponse("unknown channel", status_code=404)
    body, seen = await read_limited(request, gw.settings.callback_max_body_bytes)
    try:
        answer = await handle_callback(gw, protocol, request.headers.items(), body, body_bytes=seen)
    except Exception:  # noqa: BLE001  (answer the channel's failure so it retries; logged)
        log.exception("callback processing failed", extra={"channel": channel})
        gw.metrics.callback(channel, "rejected", "internal_error")
        answer = protocol.failure_answer(None)
    return Response(answer.body, status_code=answer.status_code, media_type=answer.media_type)
