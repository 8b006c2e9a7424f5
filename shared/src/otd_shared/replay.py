"""Replay a topic from an offset into one consumer of a service (operations).

Reads one partition from ``from_offset`` without a consumer group (nobody's committed
offsets move) and hands the records to that consumer's normal processing: the inbox skips
every event the consumer already applied, so a replay applies only what is missing, and
the dead-letter rules hold as in normal consumption. ``otd replay`` calls this.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from aiokafka import AIOKafkaConsumer, TopicPartition

from otd_shared.events import decode_envelope
from otd_shared.events.topics import PARTITIONS_PER_TOPIC
from otd_shared.runtime import ServiceRuntime

POLL_TIMEOUT_MS = 1_000
REPLAY_MAX_RECORDS = 100_000


@dataclass(frozen=True)
class ReplayResult:
    """What a replay read and what it applied for the first time."""

    consumer: str
    topic: str
    partition: int
    from_offset: int
    next_offset: int
    read: int
    applied: int


class ReplayError(ValueError):
    """A replay that cannot start (unknown consumer or topic, offset out of range)."""


class OffsetOutOfRange(ReplayError):
    """The offset lies past the end of the partition."""


async def replay_all(
    runtime: ServiceRuntime,
    consumer: str,
    topic: str,
    from_offset: int,
    max_records: int = REPLAY_MAX_RECORDS,
) -> list[ReplayResult]:
    """``replay`` of every partition of ``topic`` (every topic has PARTITIONS_PER_TOPIC) from
    the same offset; partitions shorter than the offset are left alone."""
    results = []
    for partition in range(PARTITIONS_PER_TOPIC):
        try:
            results.append(
                await replay(runtime, consumer, topic, partition, from_offset, max_records)
            )
        except OffsetOutOfRange:
            continue
    return results


async def replay(
    runtime: ServiceRuntime,
    consumer: str,
    topic: str,
    partition: int,
    from_offset: int,
    max_records: int = REPLAY_MAX_RECORDS,
) -> ReplayResult:
    """Feed ``topic[partition]`` from ``from_offset`` (up to the end, at most
    ``max_records``) into the named consumer of ``runtime``."""
    spec = next((c for c in runtime.consumers if c.name == consumer), None)
    if spec is None:
        known = ", ".join(c.name for c in runtime.consumers) or "none"
        raise ReplayError(f"no consumer {consumer!r} in {runtime.settings.service_name} ({known})")
    target = runtime.build_consumer(spec)
    if topic not in runtime.consumer_config(spec).topics:
        raise ReplayError(f"consumer {consumer!r} does not read {topic!r}")
    records = await _read(runtime, topic, partition, from_offset, max_records)
    fresh = await _not_yet_applied(runtime, consumer, records, set(spec.event_handlers()))
    if records:
        await target.process(records)
    next_offset = records[-1].offset + 1 if records else from_offset
    return ReplayResult(consumer, topic, partition, from_offset, next_offset, len(records), fresh)


async def _read(
    runtime: ServiceRuntime, topic: str, partition: int, from_offset: int, max_records: int
) -> list[Any]:
    kafka = AIOKafkaConsumer(
        bootstrap_servers=runtime.settings.kafka_bootstrap_servers,
        group_id=None,
        enable_auto_commit=False,
    )
    try:  # start inside: a failed or cancelled start must still close the client
        await kafka.start()
        tp = TopicPartition(topic, partition)
        kafka.assign([tp])
        end = (await kafka.end_offsets([tp]))[tp]
        if from_offset < 0 or from_offset > end:
            raise OffsetOutOfRange(f"offset {from_offset} outside 0..{end} of {topic}[{partition}]")
        kafka.seek(tp, from_offset)
        records: list[Any] = []
        while from_offset < end and len(records) < max_records:
            got = (await kafka.getmany(tp, timeout_ms=POLL_TIMEOUT_MS)).get(tp, [])
            if not got:
                break
            records.extend(got[: max_records - len(records)])
            if records[-1].offset + 1 >= end:
                break
        return records
    finally:
        await kafka.stop()


async def _not_yet_applied(
    runtime: ServiceRuntime, consumer: str, records: list[Any], handled: set[str]
) -> int:
    """How many of the records the consumer handles and has not applied yet (events of a
    type it does not handle are skipped by it, never recorded in its inbox)."""
    ids = []
    for record in records:
        try:
            envelope = decode_envelope(record.value)
        except ValueError:
            continue
        if envelope.event_type in handled:
            ids.append(envelope.event_id)
    if not ids:
        return 0
    inbox = runtime.tables.inbox
    async with runtime.sessions() as session:
        seen = await session.scalar(
            sa.select(sa.func.count())
            .select_from(inbox)
            .where(inbox.c.consumer == consumer, inbox.c.event_id.in_(ids))
        )
    return len(set(ids)) - int(seen or 0)
