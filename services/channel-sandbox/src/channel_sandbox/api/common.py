"""Helpers shared by the sandbox routers."""

from __future__ import annotations

import asyncio
from typing import Final

from fastapi import Request
from fastapi.responses import Response

from channel_sandbox.engine import Fault, Sandbox

CHANNEL_REQUEST_BODY_MAX_BYTES: Final = 64 * 1024


def sandbox_of(request: Request) -> Sandbox:
    """The Sandbox built at startup (app.state.sandbox)."""
    sandbox = request.app.state.sandbox
    assert isinstance(sandbox, Sandbox)
    return sandbox


def signed_url(request: Request) -> str:
    """The request target as the client sent it (raw path and query), as channels sign it."""
    raw_path = request.scope.get("raw_path")
    path = raw_path.decode("latin-1") if isinstance(raw_path, bytes) else request.url.path
    query = request.scope.get("query_string", b"")
    return f"{path}?{query.decode('latin-1')}" if query else path


SYSTEM_ERROR_BODY: Final = '{"code":"SYSTEM_ERROR","message":"系统繁忙"}'.encode()


def count_call(sandbox: Sandbox, channel: str, api: str, result: str) -> None:
    """Count a channel API call (metrics) and keep it in the bounded call log."""
    sandbox.metrics.channel_api_calls.labels(channel, api, result).inc()
    sandbox.api_calls.append((channel, api, result))


async def injected_fault(sandbox: Sandbox, channel: str) -> Response | None:
    """Apply the channel's injected fault: wait (timeout) or answer 500 (error)."""
    fault = sandbox.faults.get(channel)
    if fault is Fault.TIMEOUT:
        await asyncio.sleep(sandbox.settings.fault_delay_ms / 1000)
    if fault is Fault.ERROR:
        return Response(SYSTEM_ERROR_BODY, status_code=500, media_type="application/json")
    return None


def signs_badly(sandbox: Sandbox, channel: str) -> bool:
    """Whether answers of `channel` must carry a signature that does not verify."""
    return sandbox.faults.get(channel) is Fault.BAD_SIGNATURE
