"""Kafka plumbing over aiokafka: producer, topic creation, broker readiness.

Idempotent producers and transactions are used only when configured (real Kafka);
correctness never depends on them: the outbox and the inbox make delivery
effectively exactly-once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterable

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import TopicAlreadyExistsError

from otd_shared.events.topics import PARTITIONS_PER_TOPIC, Topic, topic_for

PRODUCER_LINGER_MS = 2
PRODUCER_MAX_BATCH_BYTES = 1_048_576
READY_TIMEOUT_S = 2.0


class EventProducer:
    """A started aiokafka producer with a batch send that waits for every ack."""

    def __init__(self, bootstrap_servers: str, *, enable_idempotence: bool) -> None:
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
        """Send (topic, key, value) messages; returns when all are acknowledged."""
        futures = [
            await self._producer.send(topic, value=value.encode(), key=key.encode())
            for topic, key, value in messages
        ]
        await asyncio.gather(*futures)


async def ensure_topics(
    bootstrap_servers: str, prefix: str = "", partitions: int = PARTITIONS_PER_TOPIC
) -> list[str]:
    """Create every cluster topic that does not exist yet; returns the full names."""
    names = [topic_for(topic, prefix) for topic in Topic]
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers)
    await admin.start()
    try:
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(name=n, num_partitions=partitions, replication_factor=1)
            for n in names
            if n not in existing
        ]
        if missing:
            with contextlib.suppress(TopicAlreadyExistsError):  # a concurrent creator won
                await admin.create_topics(missing)
    finally:
        await admin.close()
    return names


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
