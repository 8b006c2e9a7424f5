"""Wiring of payment-gateway: settings → runtime (consumer, scheduler job) → app.

Our side of the channels (keys, notification verifiers, API clients) is built lazily by
``GatewayRuntime.gateway()``: the API builds it at app creation, so startup fails fast when an
enabled channel lacks its keys; the relay alone (which runs the scheduler job) builds it when
the job starts, and the consumer never needs keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import httpx
from fastapi import FastAPI

from otd_shared.app import create_service_app
from otd_shared.channels import ChannelCode
from otd_shared.cli import ServiceEntry
from otd_shared.db import asyncpg_url
from otd_shared.events import Topic
from otd_shared.runtime import BackgroundJob, ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings
from payment_gateway.adapters.channels.client_base import (
    ChannelClient,
    ChannelHttp,
    ClientOptions,
    new_http_client,
)
from payment_gateway.adapters.channels.contract import ChannelProtocol, NotificationLimits
from payment_gateway.adapters.channels.key_files import ChannelKeySet, ClientCertificate
from payment_gateway.adapters.channels.registry import (
    REGISTRY,
    ChannelRegistry,
    build_channel_client,
    build_channel_protocol,
    load_key_set_of,
)
from payment_gateway.adapters.channels.spec import SETTING_BASE_URL, SETTING_ENABLED
from payment_gateway.adapters.notification_store import NotificationStore
from payment_gateway.adapters.tables import SCHEMA, metadata
from payment_gateway.config import GatewaySettings
from payment_gateway.domain.health import ChannelHealth
from payment_gateway.domain.routing import ChannelRouting, RoutingPolicy, RoutingRules
from payment_gateway.entrypoints import (
    api,
    callbacks,
    cash_api,
    corrections_api,
    discounts_api,
    offline_refunds_api,
    pos_api,
    wires_api,
)
from payment_gateway.errors import ChannelConfigError, ChannelKeyError
from payment_gateway.service_layer import discount_cashier, event_handlers, pos
from payment_gateway.service_layer.context import Gateway, GatewayMetrics
from payment_gateway.service_layer.scheduler import QueryScheduler
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"


@dataclass
class GatewayRuntime(ServiceRuntime):
    """The shared runtime plus our side of the channels (built once, on first use)."""

    _gateway: Gateway | None = field(default=None, repr=False)
    _http: httpx.AsyncClient | None = field(default=None, repr=False)
    _mutual_tls: list[httpx.AsyncClient] = field(default_factory=list, repr=False)

    @property
    def gateway_settings(self) -> GatewaySettings:
        """The settings, typed."""
        assert isinstance(self.settings, GatewaySettings)
        return self.settings

    def gateway(self) -> Gateway:
        """The gateway; the first call loads keys (ChannelKeyError when one is missing)."""
        if self._gateway is None:
            self._http = self.new_channel_http()
            self._gateway = build_gateway(self, self._http)
        return self._gateway

    def new_channel_http(
        self, client_certificate: ClientCertificate | None = None
    ) -> httpx.AsyncClient:
        """A channel HTTP client with the configured timeouts; one presenting
        `client_certificate` is kept and closed with the channels."""
        client = new_http_client(
            connect_timeout_s=self.gateway_settings.channel_connect_timeout_s,
            read_timeout_s=self.gateway_settings.channel_read_timeout_s,
            client_certificate=client_certificate,
        )
        if client_certificate is not None:
            self._mutual_tls.append(client)
        return client

    async def aclose_channels(self) -> None:
        """Close the channel HTTP client and the callback pool."""
        if self._gateway is not None:
            await self._gateway.store.close()
        for client in self._mutual_tls:
            await client.aclose()
        self._mutual_tls.clear()
        if self._http is not None:
            await self._http.aclose()
            self._http = None
            self._gateway = None


def plain_postgres_url(url: str) -> str:
    """The URL as asyncpg takes it (``postgresql://``)."""
    return "postgresql://" + asyncpg_url(url).removeprefix("postgresql+asyncpg://")


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return GatewaySettings()


def routing_rules(settings: GatewaySettings, registry: ChannelRegistry = REGISTRY) -> RoutingRules:
    """Routing rules from the registry and settings (unknown channels or methods fail at
    startup)."""
    limits = {spec.code: spec.online_limit_fen for spec in registry if spec.online_limit_fen}
    return RoutingRules(
        channels={
            spec.code: ChannelRouting(
                methods=spec.methods,
                online=spec.online,
                startable=spec.startable,
                queried=spec.calls_api,
                offline_label=spec.offline_label,
            )
            for spec in registry
        },
        stage_entries={stage: frozenset(e) for stage, e in settings.stage_channels.items()},
        enabled_channels=frozenset(settings.enabled_channels(registry)),
        online_limit_fen_default=settings.online_single_payment_limit_fen,
        online_limit_fen_by_channel={**limits, **settings.channel_limits_fen},
    )


def channel_config_problems(
    settings: GatewaySettings, registry: ChannelRegistry = REGISTRY
) -> list[str]:
    """What keeps the enabled channels from working: missing keys, settings a channel does not
    take. Empty when all is well."""
    problems: list[str] = []
    for code, given in settings.channels.items():
        spec = registry.spec(code)
        if given.base_url and SETTING_BASE_URL not in spec.settings:
            problems.append(f"{code} calls no API: {spec.env_name(SETTING_BASE_URL)} is not used")
    for spec in registry.keyed():
        if not settings.channel_enabled(spec.code):
            continue
        try:
            load_key_set_of(spec, settings.keys_dir)
        except ChannelKeyError as exc:
            switch = spec.env_name(SETTING_ENABLED)
            problems.append(
                f"{spec.code} is enabled but its keys are not usable ({exc}); put its key set "
                f"under {settings.keys_dir / spec.code} (the launcher makes dev keys) "
                f"or set {switch}=false"
            )
    return problems


def check_channel_config(settings: GatewaySettings, registry: ChannelRegistry = REGISTRY) -> None:
    """Fail fast (ChannelConfigError listing every problem) before anything is served."""
    problems = channel_config_problems(settings, registry)
    if problems:
        raise ChannelConfigError("payment-gateway cannot start: " + "; ".join(problems))


def build_gateway(runtime: GatewayRuntime, http: httpx.AsyncClient) -> Gateway:
    """Keys, protocols and clients per channel; policies; metrics."""
    settings = runtime.gateway_settings
    limits = NotificationLimits(
        max_body_bytes=settings.callback_max_body_bytes,
        clock_skew_max_s=settings.callback_clock_skew_max_s,
    )
    options = ClientOptions(
        clock_skew_max_s=settings.callback_clock_skew_max_s,
        lakala_term_no=settings.lakala_term_no,
    )
    check_channel_config(settings)
    protocols: dict[ChannelCode, ChannelProtocol] = {}
    clients: dict[ChannelCode, ChannelClient] = {}
    for spec in REGISTRY.keyed():
        channel = spec.code
        enabled = settings.channel_enabled(channel)
        if not enabled and not (settings.keys_dir / channel).is_dir():
            continue  # switched off and no keys: its notifications are refused (404)
        keys = load_key_set_of(spec, settings.keys_dir)
        protocols[channel] = build_channel_protocol(channel, keys, limits)
        if enabled:
            base = _channel_http(runtime, http, settings.channel_base_url(channel), keys)
            clients[channel] = build_channel_client(channel, keys, base, options)
    return Gateway(
        settings=settings,
        sessions=runtime.sessions,
        outbox=runtime.outbox,
        routing=RoutingPolicy(routing_rules(settings)),
        health=ChannelHealth(
            REGISTRY.codes(),
            failures_to_open=settings.channel_failures_to_open,
            open_s=settings.channel_open_s,
            clock=time.monotonic,
        ),
        protocols=protocols,
        clients=clients,
        metrics=GatewayMetrics(runtime.metrics.registry),
        store=NotificationStore(
            plain_postgres_url(settings.database_url.get_secret_value()),
            pool_size=settings.callback_db_pool_size,
        ),
    )


def _channel_http(
    runtime: GatewayRuntime, http: httpx.AsyncClient, base_url: str, keys: ChannelKeySet
) -> ChannelHttp:
    """The shared client at the channel's base URL, plus, when the channel has an API client
    certificate, the same URL on a client that presents it (WeChat's /secapi/ calls)."""
    mutual_tls = None
    if keys.client_certificate is not None:
        mutual_tls = ChannelHttp(runtime.new_channel_http(keys.client_certificate), base_url)
    return ChannelHttp(http, base_url, mutual_tls=mutual_tls)


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime with the billing-events consumer and the active-query scheduler job."""
    assert isinstance(settings, GatewaySettings), "payment-gateway runs on GatewaySettings"
    base = build_runtime(settings, schema=SCHEMA, topic=Topic.PAYMENTS, metadata=metadata)
    runtime = GatewayRuntime(
        **{f.name: getattr(base, f.name) for f in dataclasses.fields(base) if f.init}
    )
    runtime.consumers.append(
        ConsumerSpec(
            name="gateway-billing-events",
            topics=(Topic.BILLING,),
            handlers={
                "BillingScheduled": event_handlers.on_billing_scheduled,
                "BillingDue": event_handlers.on_billing_due,
                "BillingReopened": event_handlers.on_billing_reopened,
                "BillingCancelled": event_handlers.on_billing_cancelled,
                "BillingAmountChanged": event_handlers.on_billing_amount_changed,
                "RefundRequested": event_handlers.refund_requested_handler(
                    lambda: datetime.now(UTC)
                ),
            },
            batch_handlers={"BillingPaid": event_handlers.on_billings_paid},
            new_uow=lambda: GatewayUnitOfWork(runtime.sessions, runtime.outbox),
        )
    )

    runtime.consumers.append(
        ConsumerSpec(
            name="gateway-discounts",
            topics=(Topic.PAYMENTS,),
            handlers={"PaymentCallback": discount_cashier.outcome_handler(runtime.outbox)},
            batch_handlers={
                "PaymentCallback": discount_cashier.outcome_batch_handler(runtime.outbox)
            },
            new_uow=lambda: GatewayUnitOfWork(runtime.sessions, runtime.outbox),
        )
    )

    async def run_scheduler(stop: asyncio.Event) -> None:
        await QueryScheduler(runtime.gateway()).run(stop)

    runtime.jobs.append(BackgroundJob("gateway-active-queries", run_scheduler))
    return runtime


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app (builds our side of the channels now: fails fast on missing keys)."""
    assert isinstance(runtime, GatewayRuntime)
    gw = runtime.gateway()
    app = create_service_app(
        runtime,
        [
            api.router,
            discounts_api.router,
            wires_api.router,
            cash_api.router,
            corrections_api.router,
            offline_refunds_api.router,
            pos_api.router,
            callbacks.router,
        ],
        title="OTD Pay payment-gateway",
        description="Cashier, channel routing, channel callbacks, refunds, POS/cash/wire intake.",
    )
    app.state.gateway = gw
    app.add_middleware(callbacks.CallbackLane, gateway=gw)
    inner = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with inner(app):
            if gw.settings.pos_registry_file is not None:
                await pos.load_registry_file(gw, gw.settings.pos_registry_file)
            try:
                yield
            finally:
                await runtime.aclose_channels()

    app.router.lifespan_context = lifespan
    return app


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
