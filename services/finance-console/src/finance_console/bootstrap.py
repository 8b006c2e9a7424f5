"""Build the console app: settings → users, session codec, service client, pages."""

from __future__ import annotations

import contextlib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Counter, generate_latest
from starlette.middleware.base import BaseHTTPMiddleware

from finance_console.adapters.services import ServiceApis
from finance_console.adapters.sessions import SessionCodec
from finance_console.config import ConsoleSettings
from finance_console.domain.access import UserDirectory
from finance_console.entrypoints import (
    cash_pages,
    discount_pages,
    recon_pages,
    web,
    wire_pages,
)
from finance_console.errors import ConsoleError, NotSignedIn
from otd_shared.observability import ServiceMetrics, configure_logging, http_middleware
from otd_shared.strict_input import StrictInputMiddleware

log = logging.getLogger("finance_console")
STATIC_DIR = Path(__file__).resolve().parent / "static"
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


class ConsoleMetrics(ServiceMetrics):
    """The shared HTTP metrics plus the console's sign-ins."""

    def __init__(self) -> None:
        super().__init__("finance-console")
        self.logins = Counter(
            "console_logins_total", "Console sign-ins", ["result"], registry=self.registry
        )


def create_app(settings: ConsoleSettings) -> FastAPI:
    """The console app on the cluster the settings describe."""
    metrics = ConsoleMetrics()
    apis = ServiceApis(settings.service_urls, settings.service_tokens(), settings.service_timeout_s)
    secret = (
        settings.console_session_secret.get_secret_value()
        if settings.console_session_secret
        else secrets.token_urlsafe(32)
    )

    @contextlib.asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json_lines=settings.log_json)
        try:
            yield
        finally:
            await apis.close()

    app = FastAPI(
        title="OTD Pay finance-console",
        version="1.0.0",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.settings = settings
    app.state.apis = apis
    app.state.users = UserDirectory(settings.console_users())
    app.state.sessions = SessionCodec(secret, settings.session_max_age_s)
    app.state.console_metrics = metrics
    app.add_middleware(StrictInputMiddleware)
    app.add_middleware(BaseHTTPMiddleware, dispatch=_security_headers)
    app.add_middleware(BaseHTTPMiddleware, dispatch=http_middleware(metrics))
    app.add_exception_handler(ConsoleError, _console_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.mount("/static", StaticFiles(directory=STATIC_DIR), name="static")
    app.include_router(web.router)
    app.include_router(recon_pages.router)
    app.include_router(wire_pages.router)
    app.include_router(cash_pages.router)
    app.include_router(discount_pages.router)
    _ops_routes(app, apis, metrics)
    return app


def _ops_routes(app: FastAPI, apis: ServiceApis, metrics: ConsoleMetrics) -> None:
    @app.get("/healthz", include_in_schema=False)
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": "finance-console"}

    @app.get("/readyz", include_in_schema=False)
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)


Endpoint = Callable[[Request], Awaitable[Response]]


async def _security_headers(request: Request, call_next: Endpoint) -> Response:
    response = await call_next(request)
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    if not request.url.path.startswith("/static/"):
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def _wants_json(request: Request) -> bool:
    return request.method == "POST" and request.url.path == "/statements/upload"


async def _console_error(request: Request, exc: ConsoleError) -> Response:
    if _wants_json(request):
        body = {"ok": False, "detail": exc.detail, "code": exc.code}
        body["line_no"] = getattr(exc, "line_no", None)
        return JSONResponse(body, status_code=exc.status)
    if isinstance(exc, NotSignedIn):
        return RedirectResponse("/login", status_code=303)
    log.info("console refusal", extra={"code": exc.code, "path": request.url.path})
    context = {"status": exc.status, "error": exc, "back": _local_referer(request)}
    return web.render(request, "error.html", context, status_code=exc.status)


def _local_referer(request: Request) -> str | None:
    """The page the refused form was sent from, when it is one of ours (for a back link)."""
    referer = urlsplit(request.headers.get("referer", ""))
    if referer.netloc != request.url.netloc or not referer.path.startswith("/"):
        return None
    if referer.path.startswith("//") or referer.path == request.url.path:
        return None
    return referer.path + (f"?{referer.query}" if referer.query else "")


async def _validation_error(request: Request, exc: RequestValidationError) -> Response:
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e.get('loc', []))}: {e.get('msg')}" for e in exc.errors()
    )
    return await _console_error(request, _Invalid(detail))


class _Invalid(ConsoleError):
    status = 422
    code = "invalid_input"
