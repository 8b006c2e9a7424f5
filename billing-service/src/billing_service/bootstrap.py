"""Wiring of billing-service: settings → runtime (consumers, jobs) → app."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from billing_service.adapters.tables import SCHEMA, metadata
from billing_service.config import BillingSettings
from billing_service.entrypoints import api, leases_api, webhooks_api
from billing_service.service_layer.event_handlers import BillingEventHandlers
from billing_service.service_layer.jobs import ReminderJob, WebhookSender
from billing_service.service_layer.leases import LeaseJob
from billing_service.service_layer.metrics import BillingMetrics
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.outbox import OutboxWakeups, listen_dsn, notify_channel
from otd_shared.runtime import BackgroundJob, ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return BillingSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime: order and payment consumers, the webhook sender and the reminders."""
    assert isinstance(settings, BillingSettings)
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.BILLING, metadata=metadata)
    metrics = BillingMetrics(runtime.metrics.registry)
    handlers = BillingEventHandlers(settings, metrics)
    schedule = settings.reminder_schedule()

    def new_uow() -> BillingUnitOfWork:
        return BillingUnitOfWork(runtime.sessions, runtime.outbox, schedule)

    runtime.consumers += [
        ConsumerSpec(
            "billing-order-events", (Topic.ORDERS,), handlers.order_handlers(), new_uow=new_uow
        ),
        ConsumerSpec(
            "billing-payment-events",
            (Topic.PAYMENTS,),
            handlers.payment_handlers(),
            batch_handlers=handlers.payment_batch_handlers(),
            new_uow=new_uow,
        ),
    ]
    sender = WebhookSender(
        runtime.sessions,
        settings,
        metrics=metrics,
        wakeups=OutboxWakeups(listen_dsn(runtime.engine), notify_channel(SCHEMA)),
    )
    reminders = ReminderJob(runtime.sessions, runtime.outbox, settings, metrics)
    leases = LeaseJob(runtime.sessions, runtime.outbox, settings)
    runtime.jobs += [
        BackgroundJob("billing-webhook-sender", sender.run),
        BackgroundJob("billing-reminders", reminders.run),
        BackgroundJob("billing-leases", leases.run),
    ]
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    return create_service_app(
        runtime,
        [api.router, leases_api.router, webhooks_api.router],
        title="OTD Pay billing-service",
        description="Fund orders and billings: what is due, what is paid, what is owed back.",
    )


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
