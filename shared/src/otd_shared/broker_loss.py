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

- each topic's partition count: a topic with another count than ``PARTITIONS_PER_TOPIC``
  was made by someone else (a client that let the broker auto-create it with the broker's
  default count). Keys then map to other partitions than the producers' metadata says,
  and the bundled broker silently stores records for partitions the topic does not have,
  where no consumer reads them. Such a topic is deleted and created again with the right
  count, and counted as lost.

On a loss it repairs the topics (creates the missing ones, deletes and recreates the ones
with a wrong partition count) and marks unsent again every row published within
``outbox_republish_window_s``: the committed offsets are gone with the broker, so what the
consumer groups had not consumed is not knowable and the window bounds it (a consumer
further behind than the window is an incident on its own). It does both holding the relay's
advisory lock, so no relay batch is half-way (sent to the old log, not yet marked published)
while the rows are marked. The relay publishes them in id order; the consumers' inbox drops
what they had already applied. The retention job must keep published rows at least that long
(``outbox_republish_window_s`` is its floor). A topic of this service that is missing
while nothing was published to it is simply created (a fresh broker).

The watch never forgets the cluster id it saw last: after a repair the baseline is the
cluster the repair acted on, so a broker that restarts again right after (before the next
check saw it) is a loss too. A cluster id it cannot read stops the check (no decision).
And a missing topic is created only under the relay's lock, with the outbox counted again
there: the check reads the outbox before the broker, so between the two the relay may have
published rows (to a broker that then restarted, or to the missing topic itself: the
bundled broker acknowledges records for a topic it does not have and drops them). That
race matches the chaos run that lost 9 of 16 orders under load (two broker restarts: the
second one right after the first's repair, when a check counted 0 rows published and took
the topic it found missing for a fresh broker's); reproduced deterministically in
``shared/tests/test_shared_broker_loss_restarts.py``.

Deleting a topic is right for the bundled broker, whose topics only we make; on a real
Kafka cluster it is an operator's decision. With ``broker_loss_action="alert"``
(``BROKER_LOSS_ACTION=alert``, set in the Kubernetes config) the watch only reports: it
logs the loss at ERROR (once per distinct set of reasons) and counts it in
``broker_loss_alerts_total``; it creates, deletes and republishes nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError
from aiokafka.protocol.metadata import MetadataRequest
from prometheus_client import Counter
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from otd_shared.kafka import create_topics_exactly
from otd_shared.outbox import relay_lock_key

log = logging.getLogger(__name__)

BROKER_REQUEST_TIMEOUT_MS = 5_000
CHECK_FAILURES_BEFORE_WARNING = 20


@dataclass(frozen=True)
class BrokerSnapshot:
    """What the broker says now: its cluster id and each topic's partition end offsets."""

    cluster_id: str | None
    end_offsets: Mapping[str, Mapping[int, int]]

    def topic_total(self, topic: str) -> int:
        """Sum of a topic's end offsets (0 when the topic does not exist)."""
        return sum(self.end_offsets.get(topic, {}).values())

    def partition_count(self, topic: str) -> int | None:
        """How many partitions the topic has (None: missing, or its metadata unknown)."""
        return len(self.end_offsets.get(topic, {})) or None

    def wrong_partition_count(self, topic: str, expected: int) -> bool:
        """The topic exists with another partition count than ``expected``."""
        count = self.partition_count(topic)
        return count is not None and count != expected


@dataclass(frozen=True)
class LossVerdict:
    """Why the broker is judged to have lost messages of a topic (empty: it did not)."""

    reasons: dict[str, str] = field(default_factory=dict)


def judge(
    before: BrokerSnapshot | None,
    now: BrokerSnapshot,
    published: Mapping[str, int],
    *,
    expected_partitions: int = PARTITIONS_PER_TOPIC,
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
        if now.wrong_partition_count(topic, expected_partitions):
            reasons[topic] = (
                f"the topic has {now.partition_count(topic)} partitions, not {expected_partitions}"
            )
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


class BrokerProbe:
    """A long-lived client that reads broker snapshots: one metadata request (cluster id,
    topics, partitions) and one offsets request per snapshot, on connections kept open
    between checks (a watch that started a fresh admin client and consumer every second
    cost the broker and each service about 1 % of a core at idle). A failure closes the
    client; the next snapshot starts a new one (a restarted broker)."""

    def __init__(self, bootstrap_servers: str) -> None:
        self._bootstrap = bootstrap_servers
        self._consumer: AIOKafkaConsumer | None = None

    async def snapshot(self, topics: Sequence[str]) -> BrokerSnapshot:
        """Cluster id and end offsets of ``topics`` (a missing topic has none). A kept
        client whose connection broke (a restarted broker) is replaced and asked again."""
        if self._consumer is not None:
            try:
                return await self._snapshot(self._consumer, topics)
            except KafkaError:  # a broken connection: once more with a new client
                await self.close()
            except BaseException:
                await self.close()
                raise
        try:
            return await self._snapshot(await self._client(), topics)
        except BaseException:
            await self.close()
            raise

    async def close(self) -> None:
        """Close the client (the next snapshot opens a new one)."""
        consumer, self._consumer = self._consumer, None
        if consumer is None:
            return
        try:
            await consumer.stop()
        except asyncio.CancelledError:
            task = asyncio.current_task()
            if task is not None and task.cancelling():
                raise  # we are being cancelled ourselves
            # aiokafka's stop can end with its own task's CancelledError after a failed
            # request: the client is closed all the same, and the watch must go on
            log.debug("broker probe client closed with a CancelledError of its own")

    async def _client(self) -> AIOKafkaConsumer:
        if self._consumer is None:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._bootstrap, request_timeout_ms=BROKER_REQUEST_TIMEOUT_MS
            )
            try:  # a failed or cancelled start must still close the client
                await consumer.start()
            except BaseException:
                await consumer.stop()
                raise
            self._consumer = consumer
        return self._consumer

    @staticmethod
    async def _snapshot(consumer: AIOKafkaConsumer, topics: Sequence[str]) -> BrokerSnapshot:
        client = consumer._client  # noqa: SLF001  (aiokafka keeps the metadata there)
        node = client.get_random_node()
        if node is None:
            raise KafkaConnectionError("no broker known")
        response = await client.send(
            node, MetadataRequest(list(topics), allow_auto_topic_creation=False)
        )
        cluster = client.cluster  # refreshed with the answer: the offsets need the leaders
        cluster.update_metadata(response)
        found = getattr(response, "cluster_id", None)
        if not found:  # a cluster id we cannot read would hide a restarted broker
            raise KafkaConnectionError("the broker named no cluster id")
        offsets: dict[str, dict[int, int]] = {}
        partitions: list[TopicPartition] = []
        for topic in topics:
            numbers = cluster.partitions_for_topic(topic)
            if numbers:
                offsets[topic] = {}
                partitions += [TopicPartition(topic, p) for p in numbers]
        if partitions:
            for tp, end in (await consumer.end_offsets(partitions)).items():
                offsets[tp.topic][tp.partition] = end
        return BrokerSnapshot(str(found) if found else None, offsets)


async def read_snapshot(bootstrap_servers: str, topics: list[str]) -> BrokerSnapshot:
    """Cluster id and end offsets of ``topics`` (a missing topic has none), with a client
    of its own."""
    probe = BrokerProbe(bootstrap_servers)
    try:
        return await probe.snapshot(topics)
    finally:
        await probe.close()


class BrokerLossDetector:
    """Watches the broker for one service's outbox table (see the module)."""

    def __init__(
        self,
        engine: AsyncEngine,
        table: sa.Table,
        bootstrap_servers: str,
        *,
        republish_window_s: int,
        topics: Sequence[str] = (),
        partitions: int = PARTITIONS_PER_TOPIC,
        repair: bool = True,
        alerts: Counter | None = None,
        probe: BrokerProbe | None = None,
        counts_every: int = 1,
    ) -> None:
        self._engine = engine
        self._table = table
        self._bootstrap = bootstrap_servers
        self._window = timedelta(seconds=republish_window_s)
        self._topics = tuple(topics)
        """The topics this service's outbox writes (kept existing even before it wrote)."""
        self._partitions = partitions
        self._repair_enabled = repair
        """False: only alert (``broker_loss_action="alert"``, real Kafka)."""
        self._alerts = alerts
        self._alerted: dict[str, str] = {}
        self.alerts = 0
        """Losses reported without repair (alert mode)."""
        self._last: BrokerSnapshot | None = None
        self._probe = probe
        """The watch's long-lived client (None: a client of its own for every check)."""
        self._counts_every = counts_every
        """Read the published counts from the outbox every this many checks (a database
        round trip through the pool each time: the watch's main idle cost)."""
        self._kept_counts: dict[str, int] | None = None
        self._checks_since_counts = 0
        self.republished_rows = 0
        """Rows marked unsent again since this detector started (for tests and metrics)."""

    async def published_counts(self) -> dict[str, int]:
        """Rows marked published within the window, per topic (the rows a loss republishes,
        so after a republish the broker holds at least as many and the check is quiet)."""
        async with self._engine.connect() as conn:
            return await self._counts(conn)

    async def _counts(
        self, conn: AsyncConnection, topics: Sequence[str] | None = None
    ) -> dict[str, int]:
        t = self._table
        where = [self._in_window()] + ([t.c.topic.in_(topics)] if topics is not None else [])
        query = sa.select(t.c.topic, sa.func.count()).where(*where).group_by(t.c.topic)
        return {row[0]: int(row[1]) for row in await conn.execute(query)}

    def _in_window(self) -> sa.ColumnElement[bool]:
        published_at = self._table.c.published_at
        return sa.and_(published_at.is_not(None), published_at > sa.func.now() - self._window)

    async def check(self) -> int:
        """One comparison; on a loss repair the topics and mark the window unsent.
        Returns how many rows were marked unsent."""
        published = await self._published(fresh=False)
        if not published:
            return 0
        topics = sorted(published)
        if self._probe is not None:
            now = await self._probe.snapshot(topics)
        else:
            now = await read_snapshot(self._bootstrap, topics)
        verdict = judge(self._last, now, published, expected_partitions=self._partitions)
        if verdict.reasons and self._counts_every > 1:  # judged on kept counts: read them now
            published = await self._published(fresh=True)
            verdict = judge(self._last, now, published, expected_partitions=self._partitions)
        missing = sorted(t for t in published if t not in now.end_offsets)
        if not self._repair_enabled:
            self._alert(verdict)
        if not self._repair_enabled or not (verdict.reasons or missing):
            self._last = BrokerSnapshot(now.cluster_id or self._cluster_id(), now.end_offsets)
            return 0
        marked, reasons, repaired_on = await self._repair(verdict.reasons, missing)
        if reasons:
            log.warning(
                "broker lost messages; republishing from the outbox",
                extra={"reasons": reasons, "rows": marked},
            )
        else:
            log.info(
                "created missing topics; nothing was published to them", extra={"topics": missing}
            )
        self.republished_rows += marked
        # The next check starts over against the rebuilt topics, on the broker the repair
        # acted on: another cluster id next time is a loss again.
        self._last = BrokerSnapshot(repaired_on or self._cluster_id(), {})
        self._kept_counts = None
        return marked

    def _cluster_id(self) -> str | None:
        """The cluster id seen last (kept across repairs; None: never seen one)."""
        return self._last.cluster_id if self._last is not None else None

    def _alert(self, verdict: LossVerdict) -> None:
        """Alert mode: report a loss (each distinct set of reasons once); touch nothing."""
        if verdict.reasons and verdict.reasons != self._alerted:
            self.alerts += 1
            if self._alerts is not None:
                self._alerts.inc()
            log.error(
                "broker lost messages; alert only (BROKER_LOSS_ACTION=alert): nothing "
                "repaired or republished",
                extra={"reasons": verdict.reasons},
            )
        self._alerted = verdict.reasons

    async def _published(self, *, fresh: bool) -> dict[str, int]:
        """The published counts per topic (every topic of ``topics`` included), read from
        the outbox every ``counts_every`` checks: between two reads a loss still shows as
        an end offset going back against the previous snapshot; only rows published to an
        empty topic AND lost within one interval wait for the next read."""
        if fresh or self._kept_counts is None or self._checks_since_counts >= self._counts_every:
            self._kept_counts = dict.fromkeys(self._topics, 0) | await self.published_counts()
            self._checks_since_counts = 0
        self._checks_since_counts += 1
        return self._kept_counts

    async def _repair(
        self, reasons: Mapping[str, str], missing: list[str]
    ) -> tuple[int, dict[str, str], str | None]:
        """Under the relay's lock: delete the topics with a wrong partition count, create
        the missing ones, mark the window's rows of the lost topics unsent. Returns the rows
        marked, why, and the cluster id the repair acted on.

        The broker and the outbox are read again under the lock (no relay batch is then
        half-way): another replica's watch may have repaired the topics meanwhile, and a
        topic missing now with rows published within the window is a loss even if the
        check counted none (the relay published them since; the bundled broker acknowledges
        records for a topic it does not have). So a missing topic is created only here."""
        async with self._engine.begin() as conn:
            await conn.execute(
                sa.select(sa.func.pg_advisory_xact_lock(relay_lock_key(self._table)))
            )
            topics = sorted({*reasons, *missing})
            now = await read_snapshot(self._bootstrap, topics)
            published = await self._counts(conn, missing) if missing else {}
            lost = dict(reasons) | {
                t: f"the topic is missing, and we published {published[t]} rows to it"
                for t in missing
                if published.get(t) and t not in now.end_offsets and t not in reasons
            }
            wrong = [t for t in lost if now.wrong_partition_count(t, self._partitions)]
            await create_topics_exactly(
                self._bootstrap, topics, partitions=self._partitions, delete_first=wrong
            )
            marked = await self._mark_unsent(conn, sorted(lost)) if lost else 0
            return marked, lost, now.cluster_id

    async def _mark_unsent(self, conn: AsyncConnection, topics: list[str]) -> int:
        t = self._table
        result = await conn.execute(
            sa.update(t).where(t.c.topic.in_(topics), self._in_window()).values(published_at=None)
        )
        return int(result.rowcount or 0)


async def run_broker_loss_watch(
    detector: BrokerLossDetector, stop: asyncio.Event, *, interval_ms: int
) -> None:
    """Check every ``interval_ms`` until ``stop``; a broker that does not answer is retried
    (the relay reports that outage itself). A check that keeps failing is a warning every
    ``CHECK_FAILURES_BEFORE_WARNING`` rounds: the watch is blind meanwhile."""
    failures = 0
    while not stop.is_set():
        try:
            await detector.check()
            failures = 0
        except Exception:  # noqa: BLE001  (the broker may be down: try again next round)
            failures += 1
            warn = failures % CHECK_FAILURES_BEFORE_WARNING == 0
            log.log(
                logging.WARNING if warn else logging.DEBUG,
                "broker loss check failed %d times in a row",
                failures,
                exc_info=True,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=interval_ms / 1000)
