"""Wiring of billing-service: settings → runtime (with consumers) → app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from billing_service.adapters.tables import SCHEMA, metadata
from billing_service.config import BillingSettings
from billing_service.entrypoints import api
from billing_service.service_layer.event_handlers import BillingEventHandlers
from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return BillingSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime with the order-events consumer."""
    assert isinstance(settings, BillingSettings)
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.BILLING, metadata=metadata)
    handlers = BillingEventHandlers(settings, runtime.outbox)
    runtime.consumers.append(
        ConsumerSpec(
            name="billing-order-events",
            topics=(Topic.ORDERS,),
            handlers={"OrderCreated": handlers.on_order_created},
        )
    )
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    return create_service_app(
        runtime,
        [api.router],
        title="OTD Pay billing-service",
        description="Fund orders and billings: what is due, what is paid, what is owed back.",
    )


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
