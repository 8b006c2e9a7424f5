"""The console app: a status page of the cluster now; finance screens build on it.

It knows the services from the launcher's cluster file (``OTD_CLUSTER_FILE``) and
calls their public APIs over HTTP with the caller's own bearer token; it keeps no
data of its own.
"""

from __future__ import annotations

import asyncio
import html
import json
from pathlib import Path

import httpx
from fastapi import FastAPI
from fastapi.responses import HTMLResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, generate_latest
from pydantic_settings import BaseSettings, SettingsConfigDict

from otd_shared.strict_input import install_strict_input

STATUS_TIMEOUT_S = 2.0


class ConsoleSettings(BaseSettings):
    """Console settings (environment variables)."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    host: str = "127.0.0.1"
    port: int = 8080
    otd_cluster_file: Path | None = None


def service_urls(settings: ConsoleSettings) -> dict[str, str]:
    """Service name → base URL from the cluster file; empty when there is none."""
    path = settings.otd_cluster_file
    if path is None or not path.is_file():
        return {}
    services = json.loads(path.read_text()).get("services", {})
    return {str(k): str(v) for k, v in services.items() if k != "finance-console"}


async def readiness(urls: dict[str, str]) -> dict[str, str]:
    """Each service's /readyz verdict."""
    async with httpx.AsyncClient(timeout=STATUS_TIMEOUT_S) as client:

        async def probe(url: str) -> str:
            try:
                return (
                    "ready"
                    if (await client.get(url + "/readyz")).status_code == 200
                    else ("not ready")
                )
            except httpx.HTTPError:
                return "unreachable"

        verdicts = await asyncio.gather(*(probe(u) for u in urls.values()))
    return dict(zip(urls, verdicts, strict=True))


def render_status(status: dict[str, str], urls: dict[str, str]) -> str:
    """The status page as HTML (escaped; no scripts)."""
    rows = "".join(
        f"<tr><td>{html.escape(name)}</td><td class='{html.escape(state.replace(' ', '-'))}'>"
        f"{html.escape(state)}</td><td><a href='{html.escape(urls[name])}/docs'>API docs</a>"
        f"</td></tr>"
        for name, state in status.items()
    )
    return (
        "<!doctype html><html lang='zh-CN'><head><meta charset='utf-8'>"
        "<title>OTD Pay · finance console</title><style>"
        "body{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}"
        "table{border-collapse:collapse}td,th{padding:.4rem 1rem;border-bottom:1px solid #ddd}"
        ".ready{color:#137333}.not-ready,.unreachable{color:#b3261e}</style></head><body>"
        "<h1>OTD Pay · finance console</h1><h2>Cluster status</h2>"
        f"<table><tr><th>service</th><th>status</th><th></th></tr>{rows}</table>"
        "</body></html>"
    )


def create_app(settings: ConsoleSettings) -> FastAPI:
    """Build the console app."""
    app = FastAPI(title="OTD Pay finance-console", version="1.0.0")
    install_strict_input(app)
    registry = CollectorRegistry()
    views = Counter("console_page_views_total", "Pages served", registry=registry)

    @app.get("/", response_class=HTMLResponse)
    async def index() -> str:
        views.inc()
        urls = service_urls(settings)
        return render_status(await readiness(urls), urls)

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "finance-console"}

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

    return app
