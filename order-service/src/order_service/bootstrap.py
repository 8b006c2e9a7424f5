"""Wiring of order-service: settings → runtime → app. Nothing is built at import."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from order_service.adapters.tables import SCHEMA, metadata
from order_service.config import OrderSettings
from order_service.entrypoints import api, service_orders_api, sub_orders_api
from order_service.service_layer.event_handlers import OrderEventHandlers
from order_service.service_layer.unit_of_work import OrderUnitOfWork
from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.runtime import ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return OrderSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime: engine, outbox, and the consumer of billing events (BillingPaid)."""
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.ORDERS, metadata=metadata)
    handlers = OrderEventHandlers()
    runtime.consumers.append(
        ConsumerSpec(
            name="order-billing-events",
            topics=(Topic.BILLING,),
            handlers={"BillingPaid": handlers.on_billing_paid},
            batch_handlers={"BillingPaid": handlers.on_billing_paid_batch},
            new_uow=lambda: OrderUnitOfWork(runtime.sessions, runtime.outbox),
        )
    )
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    return create_service_app(
        runtime,
        [api.router, sub_orders_api.router, service_orders_api.router],
        title="OTD Pay order-service",
        description="Vehicle orders and their sub-orders: the app backend's API.",
    )


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
