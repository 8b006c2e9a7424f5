"""Kafka records of envelopes, as a consumer's poll returns them, and a statement counter:
for tests and benchmarks that drive ``EventConsumer.process`` without a broker."""

from __future__ import annotations

from collections.abc import Sequence

from aiokafka.structs import ConsumerRecord
from sqlalchemy import event
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.events import EventEnvelope


def consumer_record(
    envelope: EventEnvelope, offset: int, *, topic: str, partition: int = 0
) -> ConsumerRecord[bytes, bytes]:
    """The record a poll returns for ``envelope`` at ``offset`` of one partition."""
    value = envelope.model_dump_json().encode()
    return ConsumerRecord(
        topic=topic,
        partition=partition,
        offset=offset,
        timestamp=0,
        timestamp_type=0,
        key=None,
        value=value,
        checksum=None,
        serialized_key_size=0,
        serialized_value_size=len(value),
        headers=[],
    )


def partition_records(
    envelopes: Sequence[EventEnvelope], *, topic: str, first_offset: int = 0
) -> list[ConsumerRecord[bytes, bytes]]:
    """One partition's records of the envelopes, in order from ``first_offset``."""
    return [
        consumer_record(envelope, offset, topic=topic)
        for offset, envelope in enumerate(envelopes, start=first_offset)
    ]


def count_statements(engine: AsyncEngine) -> list[int]:
    """A one-item list counting the statements the engine executes from now on."""
    counter = [0]

    def count(*_: object) -> None:
        counter[0] += 1

    event.listen(engine.sync_engine, "before_cursor_execute", count)
    return counter
