"""Kafka plumbing over aiokafka: producer, topic creation, broker readiness.

Idempotent producers and transactions are used only when configured (real Kafka);
correctness never depends on them: the outbox and the inbox make delivery
effectively exactly-once.

Topics are created only explicitly (``ensure_topics``, the broker-loss watch), always with
``PARTITIONS_PER_TOPIC`` partitions: no client of ours lets the broker auto-create one
(``forbid_topic_auto_creation``, applied when this module is imported). aiokafka's metadata
requests ask for auto-creation by default, and a broker that allows it makes the topic with
ITS default count: the bundled Tansu, restarted empty, made our topics with 4 partitions
on the first consumer's metadata request, while the producers, whose metadata still said
6, went on writing to partitions 4 and 5, which Tansu accepts silently and no consumer (or
end-offset check) ever reads. That lost acknowledged money in the chaos run.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

import aiokafka.admin.client
import aiokafka.client
from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError
from aiokafka.protocol.metadata import MetadataRequest

from otd_shared.events.topics import PARTITIONS_PER_TOPIC, Topic, topic_for

PRODUCER_LINGER_MS = 2
PRODUCER_MAX_BATCH_BYTES = 1_048_576
READY_TIMEOUT_S = 2.0


class ExplicitTopicsMetadataRequest(MetadataRequest):  # type: ignore[misc]  # untyped
    """A metadata request that never asks the broker to create the topics it names."""

    def __init__(
        self, topics: list[str] | None = None, allow_auto_topic_creation: bool = False
    ) -> None:
        super().__init__(topics, allow_auto_topic_creation=allow_auto_topic_creation)


def forbid_topic_auto_creation() -> None:
    """Make every aiokafka client of this process (consumers, producers, admin clients)
    send metadata requests that do not auto-create topics (see the module). Idempotent.

    aiokafka has no setting for it: its client and admin client build the request from
    the ``MetadataRequest`` name of their modules, which this replaces."""
    aiokafka.client.MetadataRequest = ExplicitTopicsMetadataRequest
    aiokafka.admin.client.MetadataRequest = ExplicitTopicsMetadataRequest


forbid_topic_auto_creation()


class TopicNotReady(Exception):
    """The broker's metadata shows the topic missing or with another partition count than
    the cluster's: nothing is sent (keys would map to other partitions; the bundled broker
    accepts records for partitions a topic does not have and nobody reads them)."""


class EventProducer:
    """A started aiokafka producer with a batch send that waits for every ack."""

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        enable_idempotence: bool,
        partitions: int = PARTITIONS_PER_TOPIC,
    ) -> None:
        forbid_topic_auto_creation()
        self._partitions = partitions
        self._producer = AIOKafkaProducer(
            bootstrap_servers=bootstrap_servers,
            acks="all",
            enable_idempotence=enable_idempotence,
            linger_ms=PRODUCER_LINGER_MS,
            max_batch_size=PRODUCER_MAX_BATCH_BYTES,
        )

    async def start(self) -> None:
        """Connect to the broker."""
        await self._producer.start()

    async def stop(self) -> None:
        """Flush and disconnect."""
        await self._producer.stop()

    async def send_many(self, messages: Iterable[tuple[str, str, str]]) -> None:
        """Send (topic, key, value) messages; returns when all are acknowledged. Raises
        ``TopicNotReady`` (sending nothing) when a topic is not there as it should be."""
        batch = list(messages)
        for topic in sorted({topic for topic, _, _ in batch}):
            await self._check_partitions(topic)
        futures = [
            await self._producer.send(topic, value=value.encode(), key=key.encode())
            for topic, key, value in batch
        ]
        await asyncio.gather(*futures)

    async def _check_partitions(self, topic: str) -> None:
        """The producer's metadata must show the topic with the cluster's partition count;
        if not, refresh it once (a topic recreated since) before refusing."""
        client = self._producer.client
        if len(client.cluster.partitions_for_topic(topic) or ()) == self._partitions:
            return
        await client.add_topic(topic)
        await client.force_metadata_update()
        count = len(client.cluster.partitions_for_topic(topic) or ())
        if count != self._partitions:
            raise TopicNotReady(
                f"topic {topic} has {count} partitions on the broker, not {self._partitions}"
            )


async def ensure_topics(
    bootstrap_servers: str, prefix: str = "", partitions: int = PARTITIONS_PER_TOPIC
) -> list[str]:
    """Create every cluster topic that does not exist yet; returns the full names."""
    names = [topic_for(topic, prefix) for topic in Topic]
    await create_topics_exactly(bootstrap_servers, names, partitions=partitions)
    return names


async def create_topics_exactly(
    bootstrap_servers: str,
    topics: Iterable[str],
    *,
    partitions: int = PARTITIONS_PER_TOPIC,
    delete_first: Iterable[str] = (),
) -> list[str]:
    """Delete the topics ``delete_first`` (a wrong partition count), then create every topic
    of ``topics`` that is missing with ``partitions`` partitions; returns the ones created.

    A concurrent creator may win (fine: it created it the same way); a deletion the broker
    has not finished yet leaves the topic missing, and the next call creates it."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        doomed = sorted(set(delete_first))
        if doomed:
            await admin.delete_topics(doomed)
        existing = set(await admin.list_topics())
        missing = sorted({t for t in topics if t not in existing})
        if missing:
            new = [NewTopic(t, num_partitions=partitions, replication_factor=1) for t in missing]
            with contextlib.suppress(TopicAlreadyExistsError):
                await admin.create_topics(new)
    finally:
        await admin.close()
    return missing


async def broker_ready(bootstrap_servers: str) -> bool:
    """True when the broker answers a metadata request within the timeout."""
    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap_servers, request_timeout_ms=int(READY_TIMEOUT_S * 1000)
    )
    try:
        await asyncio.wait_for(admin.start(), READY_TIMEOUT_S)
        await asyncio.wait_for(admin.list_topics(), READY_TIMEOUT_S)
    except Exception:  # noqa: BLE001  (readiness reports any failure as not ready)
        return False
    finally:
        await admin.close()
    return True
