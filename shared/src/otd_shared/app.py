"""The FastAPI application every service is built with.

Adds what every service serves the same way: ``/healthz``, ``/readyz`` (database and
broker), ``/metrics``, JSON errors for ``DomainError``, a request-body size limit,
correlation ids and request metrics. Routers stay thin and hold no business rules.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import DBAPIError
from starlette.middleware.base import BaseHTTPMiddleware

from otd_shared.auth import TokenVerifier
from otd_shared.body_limit import BodyLimitMiddleware
from otd_shared.db import database_ready
from otd_shared.errors import DomainError
from otd_shared.gc_pauses import startup_objects_frozen
from otd_shared.kafka import broker_ready
from otd_shared.messaging_metrics import MessagingSampler
from otd_shared.observability import configure_logging, http_middleware
from otd_shared.openapi_errors import document_error_responses
from otd_shared.ops_api import dead_letter_router
from otd_shared.runtime import ServiceRuntime, run_workers
from otd_shared.strict_input import install_strict_input

log = logging.getLogger(__name__)
DATA_EXCEPTION_CLASS = "22"
"""PostgreSQL's SQLSTATE class of data exceptions (numeric out of range, bad encoding...)."""


def create_service_app(
    runtime: ServiceRuntime, routers: Sequence[APIRouter], *, title: str, description: str = ""
) -> FastAPI:
    """Build the service's FastAPI app around its runtime."""
    settings = runtime.settings

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_logging(settings.log_level, json_lines=settings.log_json)
        stop = asyncio.Event()
        workers = asyncio.create_task(run_workers(runtime, stop)) if settings.run_workers else None
        try:
            with startup_objects_frozen():
                yield
        finally:
            stop.set()
            if workers is not None:
                await workers
            await runtime.engine.dispose()

    app = FastAPI(title=title, description=description, version="1.0.0", lifespan=lifespan)
    app.state.runtime = runtime
    app.state.token_verifier = TokenVerifier(settings.tokens_by_value())
    document_error_responses(app)
    install_strict_input(app)  # innermost: metrics and correlation ids see its 422s
    app.add_middleware(BaseHTTPMiddleware, dispatch=http_middleware(runtime.metrics))
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_request_body_bytes)
    app.add_exception_handler(DomainError, _domain_error)  # type: ignore[arg-type]
    app.add_exception_handler(DBAPIError, _database_refused_value)  # type: ignore[arg-type]
    app.include_router(_ops_router(runtime))
    app.include_router(dead_letter_router(runtime))
    for router in routers:
        app.include_router(router)
    return app


def create_ops_app(runtime: ServiceRuntime, *, title: str) -> FastAPI:
    """The probes and metrics alone, served by relay and consumer processes."""
    app = FastAPI(title=title, version="1.0.0", docs_url=None, redoc_url=None)
    install_strict_input(app)
    app.include_router(_ops_router(runtime))
    return app


async def _domain_error(_: Request, exc: DomainError) -> JSONResponse:
    return JSONResponse(exc.to_body(), status_code=exc.http_status)


async def _database_refused_value(_: Request, exc: DBAPIError) -> JSONResponse:
    """A value the database cannot hold (SQLSTATE class 22: out of range, malformed) is the
    caller's fault: 422 without echoing it. Any other database failure stays a 500."""
    sqlstate = str(getattr(exc.orig, "sqlstate", "") or "")
    if not sqlstate.startswith(DATA_EXCEPTION_CLASS):
        raise exc
    log.info("database refused a value", extra={"sqlstate": sqlstate})
    body = {"detail": "a value is out of range or malformed for its field", "code": "invalid_input"}
    return JSONResponse(body, status_code=422)


def _ops_router(runtime: ServiceRuntime) -> APIRouter:
    router = APIRouter(tags=["operations"])
    sampler = MessagingSampler.of(runtime)

    @router.get("/healthz", summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok", "service": runtime.settings.service_name}

    @router.get("/readyz", summary="Readiness: database and broker reachable")
    async def readyz() -> JSONResponse:
        db_ok, broker_ok = await asyncio.gather(
            database_ready(runtime.engine),
            broker_ready(runtime.settings.kafka_bootstrap_servers),
        )
        body = {
            "status": "ready" if db_ok and broker_ok else "not ready",
            "database": "ok" if db_ok else "unreachable",
            "broker": "ok" if broker_ok else "unreachable",
        }
        return JSONResponse(body, status_code=200 if db_ok and broker_ok else 503)

    @router.get("/metrics", summary="Prometheus metrics", response_class=PlainTextResponse)
    async def metrics() -> Response:
        await sampler.sample()
        return Response(generate_latest(runtime.metrics.registry), media_type=CONTENT_TYPE_LATEST)

    return router
