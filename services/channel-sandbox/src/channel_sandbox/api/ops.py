"""`/healthz`, `/readyz`, `/metrics` — the probes every process of the cluster serves."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from channel_sandbox.api.common import sandbox_of

router = APIRouter(tags=["ops"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """Alive."""
    return {"status": "ok"}


@router.get("/readyz")
async def readyz(request: Request) -> JSONResponse:
    """Ready once the key sets are loaded and the notifier runs (state is in memory)."""
    sandbox = sandbox_of(request)
    if not getattr(request.app.state, "started", False):
        return JSONResponse({"status": "starting"}, status_code=503)
    return JSONResponse({"status": "ready", "channels": sorted(sandbox.keys)})


@router.get("/metrics")
async def metrics(request: Request) -> Response:
    """Prometheus text format."""
    registry = sandbox_of(request).metrics.registry
    return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)
