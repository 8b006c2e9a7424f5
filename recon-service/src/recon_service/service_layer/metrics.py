"""recon-service's own metrics, in the service's registry (one set per registry)."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Counter, Gauge

_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, ReconMetrics] = (
    weakref.WeakKeyDictionary()
)


class ReconMetrics:
    """Fetches, late statements, open discrepancies by priority."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.fetches = Counter(
            "recon_statement_fetches_total",
            "Statement downloads by source and outcome",
            ["source", "status"],
            registry=registry,
        )
        self.statement_late = Gauge(
            "recon_statement_late",
            "1 while the source's statement of the last fetched day is late (past the deadline)",
            ["source"],
            registry=registry,
        )
        self.discrepancies_open = Gauge(
            "recon_discrepancies_open",
            "Open discrepancies by priority",
            ["priority"],
            registry=registry,
        )
        self.money_at_risk_fen = Gauge(
            "recon_money_at_risk_fen",
            "Amount of open discrepancies (fen)",
            registry=registry,
        )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> ReconMetrics:
        """The metrics of a registry, created once."""
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = cls(registry)
        return found
