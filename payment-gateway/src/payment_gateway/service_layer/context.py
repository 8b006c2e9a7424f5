"""What the gateway's handlers work with, built once at startup (bootstrap.build_gateway)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal

from prometheus_client import CollectorRegistry, Counter

from otd_shared.channels import ChannelCode
from otd_shared.db import SessionFactory
from otd_shared.outbox import OutboxWriter
from payment_gateway.adapters.channels.client_base import ChannelClient
from payment_gateway.adapters.channels.contract import ChannelProtocol
from payment_gateway.adapters.channels.registry import REGISTRY, ChannelRegistry
from payment_gateway.adapters.notification_store import NotificationStore
from payment_gateway.config import GatewaySettings
from payment_gateway.domain.health import ChannelHealth
from payment_gateway.domain.routing import RoutingPolicy
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

CallbackResult = Literal["accepted", "rejected", "duplicate"]


class GatewayMetrics:
    """The gateway's own metrics (the deploy alerts use ``payment_callbacks_total``)."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.callbacks = Counter(
            "payment_callbacks_total",
            "Channel notifications by channel and result",
            ["channel", "result"],
            registry=registry,
        )
        self.callback_rejections = Counter(
            "payment_callback_rejections_total",
            "Rejected channel notifications by reason",
            ["channel", "reason"],
            registry=registry,
        )
        self.channel_calls = Counter(
            "payment_channel_calls_total",
            "Calls to channel APIs by operation and result",
            ["channel", "operation", "result"],
            registry=registry,
        )

        self.wires = Counter(
            "payment_wires_total",
            "Incoming wires by intake result (matched, queued, duplicate)",
            ["result"],
            registry=registry,
        )
        self.cash_receipts = Counter(
            "payment_cash_receipts_total",
            "Cash receipts recorded and reversed",
            ["result"],
            registry=registry,
        )
        self.offline_refunds = Counter(
            "payment_offline_refunds_total",
            "Offline refund payouts by result (completed, pending_approval, rejected)",
            ["result"],
            registry=registry,
        )
        self.pos_fetches = Counter(
            "payment_pos_fetches_total",
            "Terminal fetches of order QRs by result (reserved or the refusal code)",
            ["channel", "result"],
            registry=registry,
        )
        self.pos_parked = Counter(
            "payment_pos_parked_callbacks_total",
            "POS notifications parked for review by reason",
            ["channel", "reason"],
            registry=registry,
        )

    def callback(
        self, channel: ChannelCode, result: CallbackResult, reason: str | None = None
    ) -> None:
        """Count one notification."""
        self.callbacks.labels(channel, result).inc()
        if result == "rejected":
            self.callback_rejections.labels(channel, reason or "rejected").inc()


@dataclass
class Gateway:
    """Settings, policies, channels and plumbing the handlers share."""

    settings: GatewaySettings
    sessions: SessionFactory
    outbox: OutboxWriter
    routing: RoutingPolicy
    health: ChannelHealth
    protocols: Mapping[ChannelCode, ChannelProtocol]
    clients: Mapping[ChannelCode, ChannelClient]
    metrics: GatewayMetrics
    store: NotificationStore
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    registry: ChannelRegistry = REGISTRY

    def uow(self) -> GatewayUnitOfWork:
        """A fresh unit of work."""
        return GatewayUnitOfWork(self.sessions, self.outbox)

    def now(self) -> datetime:
        """The current time (UTC, aware)."""
        return self.clock()
