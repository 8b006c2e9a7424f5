"""Noticing that the broker lost messages, and republishing them from the outbox.

The bundled broker keeps messages in memory: a restart loses every event and every consumer
group's committed offset, while the outbox has already marked those rows published. An
external Kafka can lose them too (a topic deleted and recreated, a cluster rebuilt). The
relay would never send them again, so money acknowledged to a channel could never reach
billing or the ledger.

``BrokerLossDetector.check`` runs beside the relay (``run_broker_loss_watch``, every
``broker_watch_interval_ms``) and compares, for every topic this service's outbox writes:

- the broker's cluster id with the one seen before;
- each partition's high-water mark with the one seen before (it never goes backwards on a
  broker that kept its log);
- what we published: a topic with rows marked published within the republish window must
  exist on the broker and hold something. This check needs no memory, so it also catches a
  loss that happened while this process was down. (It cannot be "the end offsets sum to at
  least the rows we published": the bundled Tansu reports a partition's end offset as its
  last record batch's base offset + 1, fewer than the records it holds.)

On a loss it recreates the topics and marks unsent again every row published within
``outbox_republish_window_s``: the committed offsets are gone with the broker, so what the
consumer groups had not consumed is not knowable and the window bounds it (a consumer
further behind than the window is an incident on its own). The relay publishes them in id
order; the consumers' inbox drops what they had already applied. The retention job must keep
published rows at least that long (``outbox_republish_window_s`` is its floor).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.events.topics import PARTITIONS_PER_TOPIC

log = logging.getLogger(__name__)

BROKER_REQUEST_TIMEOUT_MS = 5_000


@dataclass(frozen=True)
class BrokerSnapshot:
    """What the broker says now: its cluster id and each topic's partition end offsets."""

    cluster_id: str | None
    end_offsets: Mapping[str, Mapping[int, int]]

    def topic_total(self, topic: str) -> int:
        """Sum of a topic's end offsets (0 when the topic does not exist)."""
        return sum(self.end_offsets.get(topic, {}).values())


@dataclass(frozen=True)
class LossVerdict:
    """Why the broker is judged to have lost messages of a topic (empty: it did not)."""

    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def lost_topics(self) -> list[str]:
        """The topics to republish, sorted."""
        return sorted(self.reasons)


def judge(
    before: BrokerSnapshot | None, now: BrokerSnapshot, published: Mapping[str, int]
) -> LossVerdict:
    """Pure: compare two snapshots and the published counts per topic."""
    reasons: dict[str, str] = {}
    changed_cluster = (
        before is not None
        and before.cluster_id is not None
        and now.cluster_id is not None
        and before.cluster_id != now.cluster_id
    )
    for topic, count in published.items():
        if changed_cluster:
            reasons[topic] = f"cluster id changed from {before.cluster_id} to {now.cluster_id}"  # type: ignore[union-attr]
            continue
        if count > 0 and now.topic_total(topic) == 0:
            reasons[topic] = f"the topic is missing or empty, and we published {count} rows to it"
            continue
        for partition, seen in (before.end_offsets.get(topic, {}) if before else {}).items():
            current = now.end_offsets.get(topic, {}).get(partition, 0)
            if current < seen:
                reasons[topic] = f"partition {partition} end offset went from {seen} to {current}"
                break
    return LossVerdict(reasons)


async def read_snapshot(bootstrap_servers: str, topics: list[str]) -> BrokerSnapshot:
    """Cluster id and end offsets of ``topics`` (a missing topic has none)."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=BROKER_REQUEST_TIMEOUT_MS
    )
    await admin.start()
    try:
        cluster_id: str | None = None
        with contextlib.suppress(Exception):
            cluster_id = (await admin.describe_cluster()).get("cluster_id")
        existing = set(await admin.list_topics())
    finally:
        await admin.close()
    present = [t for t in topics if t in existing]
    offsets: dict[str, dict[int, int]] = {t: {} for t in present}
    if present:
        consumer = AIOKafkaConsumer(
            bootstrap_servers=bootstrap_servers, request_timeout_ms=BROKER_REQUEST_TIMEOUT_MS
        )
        try:  # start inside: a failed or cancelled start must still close the client
            await consumer.start()
            await consumer._client.force_metadata_update()  # noqa: SLF001  (fresh partitions)
            partitions = [
                TopicPartition(t, p)
                for t in present
                for p in consumer.partitions_for_topic(t) or ()
            ]
            for tp, end in (await consumer.end_offsets(partitions)).items():
                offsets[tp.topic][tp.partition] = end
        finally:
            await consumer.stop()
    return BrokerSnapshot(cluster_id, offsets)


async def recreate_topics(bootstrap_servers: str, topics: list[str]) -> None:
    """Create the topics that are missing (a memory broker comes back without them)."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        missing = [t for t in topics if t not in set(await admin.list_topics())]
        if missing:
            new = [
                NewTopic(t, num_partitions=PARTITIONS_PER_TOPIC, replication_factor=1)
                for t in missing
            ]
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()


class BrokerLossDetector:
    """Watches the broker for one service's outbox table (see the module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        bootstrap_servers: str,
        *,
        republish_window_s: int,
    ) -> None:
        self._engine = engine
        self._table = table
        self._bootstrap = bootstrap_servers
        self._window = timedelta(seconds=republish_window_s)
        self._last: BrokerSnapshot | None = None
        self.republished_rows = 0
        """Rows marked unsent again since this detector started (for tests and metrics)."""

    async def published_counts(self) -> dict[str, int]:
        """Rows marked published within the window, per topic (the rows a loss republishes,
        so after a republish the broker holds at least as many and the check is quiet)."""
        t = self._table
        query = sa.select(t.c.topic, sa.func.count()).where(self._in_window()).group_by(t.c.topic)
        async with self._engine.connect() as conn:
            return {row[0]: int(row[1]) for row in await conn.execute(query)}

    def _in_window(self) -> sa.ColumnElement[bool]:
        published_at = self._table.c.published_at
        return sa.and_(published_at.is_not(None), published_at > sa.func.now() - self._window)

    async def check(self) -> int:
        """One comparison; on a loss recreate the topics and mark the window unsent.
        Returns how many rows were marked unsent."""
        published = await self.published_counts()
        if not published:
            return 0
        now = await read_snapshot(self._bootstrap, sorted(published))
        verdict = judge(self._last, now, published)
        if not verdict.reasons:
            self._last = now
            return 0
        await recreate_topics(self._bootstrap, verdict.lost_topics)
        marked = await self._mark_unsent(verdict.lost_topics)
        log.warning(
            "broker lost messages; republishing from the outbox",
            extra={"reasons": verdict.reasons, "rows": marked},
        )
        self.republished_rows += marked
        self._last = None  # the next check starts over against the rebuilt topics
        return marked

    async def _mark_unsent(self, topics: list[str]) -> int:
        t = self._table
        async with self._engine.begin() as conn:
            result = await conn.execute(
                sa.update(t)
                .where(t.c.topic.in_(topics), self._in_window())
                .values(published_at=None)
            )
        return int(result.rowcount or 0)


async def run_broker_loss_watch(
    detector: BrokerLossDetector, stop: asyncio.Event, *, interval_ms: int
) -> None:
    """Check every ``interval_ms`` until ``stop``; a broker that does not answer is retried
    (the relay reports that outage itself)."""
    while not stop.is_set():
        try:
            await detector.check()
        except Exception:  # noqa: BLE001  (the broker may be down: try again next round)
            log.debug("broker loss check failed", exc_info=True)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_ms / 1000)
