"""Prometheus metrics of billing-service, registered in the service's own registry."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter


class BillingMetrics:
    """Payment outcomes by result, webhook attempts by result, reminders sent."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        registry = registry or CollectorRegistry()
        self.payment_outcomes = Counter(
            "billing_payment_outcomes_total",
            "PaymentCallback outcomes by what applying them did",
            ["outcome", "result"],
            registry=registry,
        )
        self.webhook_attempts = Counter(
            "billing_webhook_attempts_total",
            "Webhook attempts to the app backend by result",
            ["result"],
            registry=registry,
        )
        self.reminders = Counter(
            "billing_reminders_total", "Billing reminders emitted", ["stage"], registry=registry
        )
