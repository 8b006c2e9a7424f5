"""Wiring of ledger-service: settings → runtime (context, consumer) → app.

Nothing is built at import. ``build`` returns a `LedgerRuntime`: the shared runtime plus the
ledger's context (settings, account cache, metrics, SAP connector factory).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

from fastapi import FastAPI

from ledger_service.adapters.sap_connectors import (
    FileDropConnector,
    HttpSapConnector,
    SapConnector,
)
from ledger_service.adapters.tables import SCHEMA, metadata
from ledger_service.config import LedgerSettings
from ledger_service.entrypoints import api, api_reports, api_sap
from ledger_service.entrypoints.lane import PostingLane
from ledger_service.service_layer.commands import LedgerCommands
from ledger_service.service_layer.context import LedgerContext, LedgerMetrics
from ledger_service.service_layer.event_handlers import LedgerEventHandlers
from ledger_service.service_layer.queries import LedgerQueries
from ledger_service.service_layer.unit_of_work import LedgerUnitOfWork
from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
CONSUMER_NAME = "ledger-postings"
CONSUMED_TOPICS = (Topic.PAYMENTS, Topic.BILLING, Topic.ORDERS, Topic.RECON)


@dataclasses.dataclass(kw_only=True)
class LedgerRuntime(ServiceRuntime):
    """The shared runtime plus the ledger's context."""

    ledger: LedgerContext


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return LedgerSettings()


def connector_factory(settings: LedgerSettings) -> Callable[[], SapConnector]:
    """Builds the configured SAP connector (one per job run)."""
    if settings.sap_connector == "http":
        url = settings.sap_http_url
        if not url:
            raise ValueError("SAP_CONNECTOR=http needs SAP_HTTP_URL")
        token = settings.sap_http_token

        def http() -> SapConnector:
            return HttpSapConnector(
                url,
                token=None if token is None else token.get_secret_value(),
                timeout_ms=settings.sap_http_timeout_ms,
            )

        return http
    directory, file_format = settings.sap_outbox_path(), settings.sap_file_format
    return lambda: FileDropConnector(directory, file_format)


def build(settings: ServiceSettings) -> LedgerRuntime:
    """The runtime with the ledger context and the postings consumer (fails fast on bad SAP
    configuration)."""
    assert isinstance(settings, LedgerSettings)
    settings.sap_mapping()  # a malformed mapping fails at start, not at the first SAP run
    base = build_runtime(settings, schema=SCHEMA, topic=Topic.LEDGER, metadata=metadata)
    ctx = LedgerContext(
        settings=settings,
        outbox=base.outbox,
        metrics=LedgerMetrics(base.metrics.registry),
        connector_factory=connector_factory(settings),
    )
    fields = {f.name: getattr(base, f.name) for f in dataclasses.fields(ServiceRuntime)}
    runtime = LedgerRuntime(**fields, ledger=ctx)
    handlers = LedgerEventHandlers(ctx)
    runtime.consumers.append(
        ConsumerSpec(
            name=CONSUMER_NAME,
            topics=CONSUMED_TOPICS,
            handlers=handlers.handlers(),
            batch_handlers=handlers.batch_handlers(),
            new_uow=lambda: LedgerUnitOfWork(runtime.sessions, runtime.outbox),
        )
    )
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    assert isinstance(runtime, LedgerRuntime)
    app = create_service_app(
        runtime,
        [api.router, api_reports.router, api_sap.router],
        title="OTD Pay ledger-service",
        description="Double-entry accounts, journals, balances, SAP posting.",
    )
    commands = LedgerCommands(runtime.ledger, runtime.sessions)
    app.state.ledger_commands = commands
    app.state.ledger_queries = LedgerQueries(runtime.ledger, runtime.sessions)
    app.add_middleware(  # outermost: ahead of the shared middlewares (see entrypoints/lane.py)
        PostingLane,
        commands=commands,
        verifier=app.state.token_verifier,
        metrics=runtime.metrics,
        max_body_bytes=runtime.settings.max_request_body_bytes,
    )
    return app


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
