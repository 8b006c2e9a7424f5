"""Build the sandbox: load (or create) the dev keys, wire the routers, start the notifier.

The channels come from the registry (`channel_sandbox.registry`); each channel's routers are
mounted next to the neutral ones (probes, control API, SAP, statement failures).

`create_app(settings)` builds everything at call time (nothing at import), so tests create as
many sandboxes as they like, each with its own key directory and in-memory state.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import httpx
from fastapi import FastAPI
from starlette.middleware.base import BaseHTTPMiddleware

from channel_sandbox.api import bills, control, ops, sap
from channel_sandbox.config import SandboxSettings
from channel_sandbox.engine import Sandbox
from channel_sandbox.keys import SandboxKeySet, load_all
from channel_sandbox.metrics import SandboxMetrics
from channel_sandbox.registry import REGISTRY
from channel_sandbox.sap import SapBook
from channel_sandbox.spec import SandboxChannels
from otd_shared.observability import configure_logging, http_middleware

log = logging.getLogger("channel_sandbox")


def describe(channels: SandboxChannels) -> str:
    """The OpenAPI description: which channels it plays."""
    names = ", ".join(channel.name for channel in channels)
    return (
        f"Simulated {names} (real wire formats, dev keys) and SAP. All state is in memory. "
        "See docs/channel-sandbox.md."
    )


def load_sandbox_keys(
    keys_dir: Path, channels: SandboxChannels = REGISTRY
) -> dict[str, SandboxKeySet]:
    """Every channel's key set, creating the missing parts of the dev layout first."""
    return load_all(keys_dir, channels.key_layouts())


def create_app(
    settings: SandboxSettings,
    *,
    key_sets: Mapping[str, SandboxKeySet] | None = None,
    notify_transport: httpx.AsyncBaseTransport | None = None,
    channels: SandboxChannels = REGISTRY,
) -> FastAPI:
    """The sandbox ASGI app; `key_sets`, `notify_transport` and `channels` are for tests."""
    metrics = SandboxMetrics()
    keys = (
        dict(key_sets) if key_sets is not None else load_sandbox_keys(settings.keys_dir, channels)
    )
    sandbox = Sandbox(settings, keys, metrics, channels=channels, notify_transport=notify_transport)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json_lines=settings.log_json)
        await sandbox.start()
        app.state.started = True
        log.info("channel sandbox ready", extra={"retry_scale": settings.retry_scale})
        try:
            yield
        finally:
            app.state.started = False
            await sandbox.stop()

    app = FastAPI(
        title="OTD Pay channel sandbox",
        description=describe(channels),
        version="1.0.0",
        lifespan=lifespan,
    )
    app.state.sandbox = sandbox
    app.state.sap = SapBook(reject_prefixes=dict(settings.sap_reject_prefixes))
    app.state.started = False
    app.add_middleware(BaseHTTPMiddleware, dispatch=http_middleware(metrics))
    for router in (ops.router, control.router, *channels.routers(), sap.router, bills.router):
        app.include_router(router)
    return app
