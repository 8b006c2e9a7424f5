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
from collections.abc import Sequence

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from prometheus_client import CollectorRegistry, Gauge

from otd_shared.events.topics import PARTITIONS_PER_TOPIC
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
        for spec in self._runtime.consumers:
            config = self._runtime.consumer_config(spec)
            for topic, behind in (await self._group_lag(config.group_id, config.topics)).items():
                self.lag.labels(config.group_id, topic).set(behind)

    async def _group_lag(self, group_id: str, topics: Sequence[str]) -> dict[str, int]:
        """End offsets minus the group's committed offsets, per topic. A manually assigned
        consumer with the group's id reads the commits without joining the group."""
        reader = AIOKafkaConsumer(
            bootstrap_servers=self._runtime.settings.kafka_bootstrap_servers,
            group_id=group_id,
            enable_auto_commit=False,
            request_timeout_ms=BROKER_TIMEOUT_MS,
        )
        try:  # start inside: a failed or cancelled start must still close the client
            await reader.start()
            partitions = [TopicPartition(t, p) for t in topics for p in range(PARTITIONS_PER_TOPIC)]
            reader.assign(partitions)
            ends = await reader.end_offsets(partitions)
            lag = dict.fromkeys(topics, 0)
            for tp in partitions:
                committed = await reader.committed(tp)
                lag[tp.topic] += max(ends[tp] - (committed or 0), 0)
            return lag
        finally:
            await reader.stop()
