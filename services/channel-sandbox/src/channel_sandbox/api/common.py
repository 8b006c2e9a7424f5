"""Helpers shared by the sandbox routers."""

from __future__ import annotations

from typing import Final

from fastapi import Request

from channel_sandbox.engine import Sandbox

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


def count_call(sandbox: Sandbox, channel: str, api: str, result: str) -> None:
    sandbox.metrics.channel_api_calls.labels(channel, api, result).inc()
