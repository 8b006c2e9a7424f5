"""What a running service holds: settings, engine, metrics, outbox, consumers.

``bootstrap.py`` of each service builds one ``ServiceRuntime`` at startup (never at
import); the API process, the relay and the consumers all start from it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.broker_loss import BrokerLossDetector, BrokerProbe, run_broker_loss_watch
from otd_shared.consumer import (
    BatchEventHandler,
    ConsumerConfig,
    ConsumerHandlers,
    EventConsumer,
    EventHandler,
    UnitOfWorkFactory,
    one_by_one,
)
from otd_shared.db import SessionFactory, create_engine, create_session_factory
from otd_shared.events import Topic, topic_for
from otd_shared.kafka import EventProducer
from otd_shared.messaging_tables import MessagingTables, messaging_tables
from otd_shared.observability import ServiceMetrics
from otd_shared.outbox import OutboxRelay, OutboxWriter, PublishedWakeups, RelayCheck, listen_dsn
from otd_shared.settings import ServiceSettings
from otd_shared.uow import SqlUnitOfWork

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConsumerSpec:
    """One named consumer: the topics it reads, its handlers by event type and the unit
    of work they get (the service's; by default the plain one with the outbox)."""

    name: str
    topics: tuple[Topic, ...]
    handlers: Mapping[str, EventHandler]
    batch_handlers: Mapping[str, BatchEventHandler] = field(default_factory=dict)
    new_uow: UnitOfWorkFactory | None = None

    def event_handlers(self) -> dict[str, EventHandler]:
        """Every type's per-event handler (batch handlers called with one event)."""
        return {**one_by_one(self.batch_handlers), **self.handlers}


@dataclass(frozen=True)
class BackgroundJob:
    """A named periodic or long-running job of a service (webhook sender, reminders...).

    ``run(stop)`` runs until ``stop`` is set. It runs with the relay (the ``relay`` and
    ``worker`` commands, ``api --with-workers``), may run in several replicas at once (claim
    rows with ``FOR UPDATE SKIP LOCKED``), and is restarted after a pause when it crashes.
    """

    name: str
    run: Callable[[asyncio.Event], Awaitable[None]]


@dataclass
class ServiceRuntime:
    """Everything a service process needs, built once at startup."""

    settings: ServiceSettings
    schema: str
    topic: Topic
    engine: AsyncEngine
    sessions: SessionFactory
    metadata: sa.MetaData
    tables: MessagingTables
    metrics: ServiceMetrics
    outbox: OutboxWriter
    consumers: list[ConsumerSpec] = field(default_factory=list)
    jobs: list[BackgroundJob] = field(default_factory=list)
    relay_checks: list[RelayCheck] = field(default_factory=list)
    """Periodic checks of the outbox relay (e.g. broker-loss detection and republish)."""

    def consumer_config(self, spec: ConsumerSpec) -> ConsumerConfig:
        """The named limits and group id of one consumer."""
        s = self.settings
        return ConsumerConfig(
            name=spec.name,
            group_id=f"{s.kafka_consumer_group_prefix}{s.service_name}.{spec.name}",
            topics=[topic_for(t, s.kafka_topic_prefix) for t in spec.topics],
            max_attempts=s.consumer_max_attempts,
            retry_delay_ms=s.consumer_retry_delay_ms,
            batch_max=s.consumer_batch_max,
            fetch_max_wait_ms=s.consumer_fetch_max_wait_ms,
            idle_poll_ms=s.consumer_idle_poll_ms,
            fetch_min_bytes=s.consumer_fetch_min_bytes,
        )

    def uow_factory(self, spec: ConsumerSpec) -> UnitOfWorkFactory:
        """The unit of work a consumer's handlers get."""
        return spec.new_uow or (lambda: SqlUnitOfWork(self.sessions, self.outbox))

    def consumer_handlers(self) -> dict[str, ConsumerHandlers]:
        """Every consumer's unit of work and per-event handlers, by consumer name."""
        return {
            spec.name: ConsumerHandlers(self.uow_factory(spec), spec.event_handlers())
            for spec in self.consumers
        }

    def build_consumer(
        self, spec: ConsumerSpec, wakeups: PublishedWakeups | None = None
    ) -> EventConsumer:
        """An EventConsumer for one spec (woken by the relays' NOTIFY when ``wakeups``)."""
        return EventConsumer(
            self.consumer_config(spec),
            spec.handlers,
            self.sessions,
            self.tables,
            self.metrics,
            self.settings.kafka_bootstrap_servers,
            batch_handlers=spec.batch_handlers,
            new_uow=self.uow_factory(spec),
            wakeups=wakeups,
        )


def build_runtime(
    settings: ServiceSettings, *, schema: str, topic: Topic, metadata: sa.MetaData
) -> ServiceRuntime:
    """Engine, session factory, messaging tables and outbox writer for one service."""
    engine = create_engine(settings)
    tables = messaging_tables(metadata)
    return ServiceRuntime(
        settings=settings,
        schema=schema,
        topic=topic,
        engine=engine,
        sessions=create_session_factory(engine),
        metadata=metadata,
        tables=tables,
        metrics=ServiceMetrics(settings.service_name),
        outbox=OutboxWriter(
            tables.outbox,
            producer=settings.service_name,
            topic=topic,
            topic_prefix=settings.kafka_topic_prefix,
        ),
    )


async def run_relay(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Run the outbox relay until ``stop``."""
    s = runtime.settings
    producer = EventProducer(
        s.kafka_bootstrap_servers, enable_idempotence=s.kafka_enable_idempotence
    )
    await producer.start()
    try:
        relay = OutboxRelay(
            runtime.engine,
            runtime.tables.outbox,
            producer,
            runtime.metrics,
            batch_size=s.relay_batch_size,
            idle_sleep_ms=s.relay_idle_sleep_ms,
            safety_poll_ms=s.relay_safety_poll_ms,
            coalesce_ms=s.relay_coalesce_ms,
            checks=runtime.relay_checks,
        )
        await relay.run(stop)
    finally:
        await producer.stop()


async def run_consumers(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Run every consumer of the service until ``stop`` (sharing one LISTEN connection for
    the relays' wake-ups, unless ``consumer_wakeups`` is off)."""
    wakeups = None
    if runtime.settings.consumer_wakeups:
        wakeups = PublishedWakeups(listen_dsn(runtime.engine))
        await wakeups.connect()
    try:
        consumers = [runtime.build_consumer(spec, wakeups) for spec in runtime.consumers]
        for consumer in consumers:
            await consumer.reload_blocked_orders()
        await asyncio.gather(*(consumer.run(stop) for consumer in consumers))
    finally:
        if wakeups is not None:
            await wakeups.close()


BROKER_WATCH_COUNTS_EVERY = 10
"""The watch reads the outbox's published counts every this many checks (see
``BrokerLossDetector``); the broker itself is compared on every check."""


async def watch_broker(runtime: ServiceRuntime, stop: asyncio.Event) -> None:
    """Beside the relay: notice a broker that lost messages and republish them
    (``otd_shared.broker_loss``)."""
    s = runtime.settings
    probe = BrokerProbe(s.kafka_bootstrap_servers)
    detector = BrokerLossDetector(
        runtime.engine,
        runtime.tables.outbox,
        s.kafka_bootstrap_servers,
        republish_window_s=s.outbox_republish_window_s,
        topics=[topic_for(runtime.topic, s.kafka_topic_prefix)],
        repair=s.broker_loss_action == "repair",
        alerts=runtime.metrics.broker_loss_alerts,
        probe=probe,
        counts_every=BROKER_WATCH_COUNTS_EVERY,
    )
    try:
        await run_broker_loss_watch(detector, stop, interval_ms=s.broker_watch_interval_ms)
    finally:
        await probe.close()


async def run_workers(
    runtime: ServiceRuntime,
    stop: asyncio.Event,
    *,
    relay: bool = True,
    consumers: bool = True,
    background_jobs: bool | None = None,
) -> None:
    """Run relay and/or consumers (and the background jobs, by default with the relay);
    a crash of one is logged and restarted after a pause."""
    jobs = []
    if relay:
        jobs.append(_supervise("relay", lambda: run_relay(runtime, stop), stop))
        jobs.append(_supervise("broker-loss-watch", lambda: watch_broker(runtime, stop), stop))
    if consumers and runtime.consumers:
        jobs.append(_supervise("consumers", lambda: run_consumers(runtime, stop), stop))
    if relay if background_jobs is None else background_jobs:
        jobs.extend(_supervise(job.name, _bind(job, stop), stop) for job in runtime.jobs)
    await asyncio.gather(*jobs)


def _bind(job: BackgroundJob, stop: asyncio.Event) -> Callable[[], Awaitable[None]]:
    return lambda: job.run(stop)


WORKER_RESTART_DELAY_S = 2.0


async def _supervise(name: str, start: Callable[[], Awaitable[None]], stop: asyncio.Event) -> None:
    while not stop.is_set():
        try:
            await start()
        except Exception:  # noqa: BLE001  (a worker must come back after broker outages)
            log.exception("worker %s crashed; restarting", name)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), WORKER_RESTART_DELAY_S)
