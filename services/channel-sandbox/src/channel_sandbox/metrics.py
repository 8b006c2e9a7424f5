"""Prometheus metrics of the sandbox, on top of the shared HTTP metrics."""

from __future__ import annotations

from prometheus_client import Counter

from otd_shared.observability import ServiceMetrics


class SandboxMetrics(ServiceMetrics):
    """HTTP request metrics (shared) plus what the sandbox does as a channel."""

    def __init__(self) -> None:
        super().__init__("channel-sandbox")
        self.channel_api_calls = Counter(
            "sandbox_channel_api_calls_total",
            "Channel API calls received, by channel, API and result",
            ["channel", "api", "result"],
            registry=self.registry,
        )
        self.notification_attempts = Counter(
            "sandbox_notification_attempts_total",
            "Notification POSTs, by channel and result (accepted, rejected, error)",
            ["channel", "result"],
            registry=self.registry,
        )
        self.control_actions = Counter(
            "sandbox_control_actions_total",
            "Control actions accepted, by channel and action",
            ["channel", "action"],
            registry=self.registry,
        )
        self.sap_documents = Counter(
            "sandbox_sap_documents_total",
            "SAP documents received, by outcome (acknowledged, duplicate, rejected)",
            ["outcome"],
            registry=self.registry,
        )
