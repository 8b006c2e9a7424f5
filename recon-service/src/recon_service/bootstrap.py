"""Wiring of recon-service: settings → runtime → app. Nothing is built at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings
from recon_service.adapters.tables import SCHEMA, metadata
from recon_service.config import ReconSettings
from recon_service.domain.errors import StatementFormatError
from recon_service.entrypoints import api, runs_api
from recon_service.service_layer.event_handlers import payment_handlers

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return ReconSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime: engine, outbox, the payment-outcome consumer."""
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.RECON, metadata=metadata)
    runtime.consumers.append(
        ConsumerSpec("recon-payment-events", (Topic.PAYMENTS,), payment_handlers())
    )
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    app = create_service_app(
        runtime,
        [api.router, runs_api.router],
        title="OTD Pay recon-service",
        description="Statements, reconciliation runs, discrepancies, adjustments.",
    )
    app.add_exception_handler(StatementFormatError, _statement_format_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    return app


async def _statement_format_error(_: Request, exc: StatementFormatError) -> JSONResponse:
    """Like every DomainError, plus the line number of the refused file."""
    return JSONResponse({**exc.to_body(), "line_no": exc.line_no}, status_code=exc.http_status)


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
