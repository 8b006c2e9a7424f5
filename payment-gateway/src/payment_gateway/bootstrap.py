"""Wiring of payment-gateway: settings → runtime (with consumers) → app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings
from payment_gateway.adapters.tables import SCHEMA, metadata
from payment_gateway.config import GatewaySettings
from payment_gateway.entrypoints import api
from payment_gateway.service_layer import event_handlers

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return GatewaySettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime with the billing-events consumer."""
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.PAYMENTS, metadata=metadata)
    runtime.consumers.append(
        ConsumerSpec(
            name="gateway-billing-events",
            topics=(Topic.BILLING,),
            handlers={"BillingDue": event_handlers.on_billing_due},
        )
    )
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    return create_service_app(
        runtime,
        [api.router],
        title="OTD Pay payment-gateway",
        description="Cashier, channel routing, channel callbacks, POS/cash/wire intake.",
    )


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
