"""Wiring of ledger-service: settings → runtime → app. Nothing is built at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from ledger_service.adapters.tables import SCHEMA, metadata
from ledger_service.config import LedgerSettings
from ledger_service.entrypoints import api
from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return LedgerSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime: engine, outbox, consumers."""
    return build_runtime(settings, schema=SCHEMA, topic=Topic.LEDGER, metadata=metadata)


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    return create_service_app(
        runtime,
        [api.router],
        title="OTD Pay ledger-service",
        description="Double-entry accounts, journals, balances, SAP posting.",
    )


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
