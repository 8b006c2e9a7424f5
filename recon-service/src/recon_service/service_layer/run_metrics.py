"""How long reconciliation runs take, per source (``recon_run_duration_seconds``)."""

from __future__ import annotations

import weakref

from prometheus_client import CollectorRegistry, Histogram

RUN_SECONDS_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300)
_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, RunMetrics] = weakref.WeakKeyDictionary()


class RunMetrics:
    """The run duration histogram of one registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.duration_s = Histogram(
            "recon_run_duration_seconds",
            "Reconciliation run duration (match and persist) by source",
            ["source"],
            buckets=RUN_SECONDS_BUCKETS,
            registry=registry,
        )

    @classmethod
    def of(cls, registry: CollectorRegistry) -> RunMetrics:
        """The metrics of a registry, created once."""
        found = _BY_REGISTRY.get(registry)
        if found is None:
            found = _BY_REGISTRY[registry] = cls(registry)
        return found
