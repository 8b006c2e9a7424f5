"""Request-body limits that hold for chunked bodies too, not only a declared length.

``read_limited_body`` is for handlers that read the raw body themselves (channel
callbacks, fast lanes); ``BodyLimitMiddleware`` guards every other route of an app.
"""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send


async def read_limited_body(request: Request, limit_bytes: int) -> tuple[bytes, int]:
    """The body up to ``limit_bytes`` and how many bytes were seen (more means too large);
    stops reading as soon as the limit is passed, so an oversized body is never buffered."""
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


def too_large_body(limit_bytes: int) -> dict[str, str]:
    """The JSON error body of a 413."""
    return {"detail": f"request body exceeds {limit_bytes} bytes", "code": "body_too_large"}


class BodyLimitMiddleware:
    """Pure ASGI: 413 when the declared or the streamed body passes ``max_bytes``.

    A streamed body is cut at the limit (the app sees it end there) and whatever the app
    answers to the truncated body is replaced by the 413.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self._app = app
        self._max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self._app(scope, receive, send)
            return
        declared = dict(scope.get("headers", [])).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > self._max_bytes):
            await self._refuse(send)
            return
        seen = 0
        too_large = False
        replaced = False

        async def counting_receive() -> Message:
            nonlocal seen, too_large
            if too_large:
                return {"type": "http.request", "body": b"", "more_body": False}
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self._max_bytes:
                too_large = True
                return {"type": "http.request", "body": b"", "more_body": False}
            return message

        async def replacing_send(message: Message) -> None:
            nonlocal replaced
            if too_large and message["type"] == "http.response.start" and not replaced:
                replaced = True
                await self._refuse(send)
                return
            if not replaced:
                await send(message)

        await self._app(scope, counting_receive, replacing_send)

    async def _refuse(self, send: Send) -> None:
        body = json.dumps(too_large_body(self._max_bytes)).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 413,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})
