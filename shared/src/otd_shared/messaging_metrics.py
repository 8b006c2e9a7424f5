"""Outbox backlog and age, and consumer lag per group, sampled when /metrics is scraped.

- ``outbox_unpublished`` / ``outbox_oldest_unpublished_age_seconds``: the service's
  unpublished outbox rows and how long the oldest one has waited (one indexed query on the
  partial index of unpublished rows);
- ``consumer_group_lag{group, topic}``: for each consumer of the service, the broker's end
  offsets minus the group's committed offsets, summed over partitions (what the group still
  has to read, also while every consumer of it is down).

Samples are cached for ``SAMPLE_TTL_S`` so frequent scrapes cost one query and one broker
round trip per interval; a failed sample leaves the last values and logs a warning.
"""

from __future__ import annotations

import logging
import time
import weakref
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from prometheus_client import CollectorRegistry, Gauge

from otd_shared.runtime import ServiceRuntime

log = logging.getLogger(__name__)
SAMPLE_TTL_S = 10.0
BROKER_TIMEOUT_MS = 3_000


_BY_REGISTRY: weakref.WeakKeyDictionary[CollectorRegistry, MessagingSampler] = (
    weakref.WeakKeyDictionary()
)


class MessagingSampler:
    """Samples the outbox and the consumer groups of one runtime into its registry."""

    def __init__(self, runtime: ServiceRuntime) -> None:
        self._runtime = runtime
        registry = runtime.metrics.registry
        self.unpublished = Gauge(
            "outbox_unpublished", "Outbox rows not yet published", registry=registry
        )
        self.oldest_age_s = Gauge(
            "outbox_oldest_unpublished_age_seconds",
            "Age of the oldest unpublished outbox row (0 when none)",
            registry=registry,
        )
        self.lag = Gauge(
            "consumer_group_lag",
            "Messages a consumer group has still to read (end offset − committed offset)",
            ["group", "topic"],
            registry=registry,
        )
        self._sampled_at = 0.0

    @classmethod
    def of(cls, runtime: ServiceRuntime) -> MessagingSampler:
        """The sampler of a runtime's registry, created once (apps built twice share it)."""
        found = _BY_REGISTRY.get(runtime.metrics.registry)
        if found is None:
            found = _BY_REGISTRY[runtime.metrics.registry] = cls(runtime)
        return found

    async def sample(self) -> None:
        """Refresh the gauges unless sampled within the last SAMPLE_TTL_S seconds."""
        now = time.monotonic()
        if now - self._sampled_at < SAMPLE_TTL_S:
            return
        self._sampled_at = now
        try:
            await self._sample_outbox()
        except Exception:  # noqa: BLE001  (a scrape must not fail with the database)
            log.warning("outbox sample failed", exc_info=True)
        if self._runtime.consumers:
            try:
                await self._sample_lag()
            except Exception:  # noqa: BLE001  (nor with the broker)
                log.warning("consumer lag sample failed", exc_info=True)

    async def _sample_outbox(self) -> None:
        outbox = self._runtime.tables.outbox
        query = sa.select(
            sa.func.count(),
            sa.func.coalesce(
                sa.func.extract("epoch", sa.func.now() - sa.func.min(outbox.c.created_at)), 0
            ),
        ).where(outbox.c.published_at.is_(None))
        async with self._runtime.engine.connect() as conn:
            count, age_s = (await conn.execute(query)).one()
        self.unpublished.set(int(count))
        self.oldest_age_s.set(float(age_s))

    async def _sample_lag(self) -> None:
        bootstrap = self._runtime.settings.kafka_bootstrap_servers
        admin = AIOKafkaAdminClient(
            bootstrap_servers=bootstrap, request_timeout_ms=BROKER_TIMEOUT_MS
        )
        ends = AIOKafkaConsumer(bootstrap_servers=bootstrap, request_timeout_ms=BROKER_TIMEOUT_MS)
        await admin.start()
        await ends.start()
        try:
            for spec in self._runtime.consumers:
                config = self._runtime.consumer_config(spec)
                committed: dict[Any, Any] = await admin.list_consumer_group_offsets(config.group_id)
                partitions = [
                    TopicPartition(topic, p)
                    for topic in config.topics
                    for p in sorted(ends.partitions_for_topic(topic) or ())
                ]
                end_offsets = await ends.end_offsets(partitions) if partitions else {}
                for topic in config.topics:
                    behind = sum(
                        max(end - _offset(committed.get(tp)), 0)
                        for tp, end in end_offsets.items()
                        if tp.topic == topic
                    )
                    self.lag.labels(config.group_id, topic).set(behind)
        finally:
            await ends.stop()
            await admin.close()


def _offset(meta: Any) -> int:
    """A committed offset (0 when the group never committed on the partition)."""
    offset = getattr(meta, "offset", -1) if meta is not None else -1
    return max(int(offset), 0)
