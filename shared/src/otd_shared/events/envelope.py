"""The event envelope (docs/service-guide.md): JSON with a typed payload.

``event_type`` at the top level always equals the payload's own ``event_type``; the
payload is a pydantic discriminated union, so a consumer gets a typed object or a
clear validation error (which it parks, never crashes on).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from otd_shared.events.payloads import EventPayload

SCHEMA_VERSION = 1
MAX_EVENT_BYTES = 1_000_000


class EventEnvelope(BaseModel):
    """One event on the wire."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: uuid.UUID
    event_type: str
    schema_version: int = SCHEMA_VERSION
    occurred_at: datetime
    producer: str
    correlation_id: str
    order_id: str | None = Field(
        default=None, description="Partition key: all events of one vehicle order stay in order."
    )
    payload: Annotated[EventPayload, Field(discriminator="event_type")]

    @model_validator(mode="after")
    def _type_matches_payload(self) -> Self:
        if self.event_type != self.payload.event_type:
            raise ValueError(
                f"event_type {self.event_type!r} does not match payload {self.payload.event_type!r}"
            )
        if self.occurred_at.tzinfo is None:
            raise ValueError("occurred_at must carry a timezone (UTC)")
        return self

    @property
    def partition_key(self) -> bytes:
        """The Kafka key: the order id, or the event id for events of no order."""
        return (self.order_id or str(self.event_id)).encode()

    def to_bytes(self) -> bytes:
        """Serialise for Kafka."""
        return self.model_dump_json().encode()


def new_envelope(
    payload: EventPayload,
    *,
    producer: str,
    correlation_id: str,
    order_id: str | None = None,
    occurred_at: datetime | None = None,
    event_id: uuid.UUID | None = None,
) -> EventEnvelope:
    """Wrap a payload; ``order_id`` defaults to the payload's own ``order_id`` field."""
    return EventEnvelope(
        event_id=event_id or uuid.uuid4(),
        event_type=payload.event_type,
        occurred_at=occurred_at or datetime.now(UTC),
        producer=producer,
        correlation_id=correlation_id,
        order_id=order_id if order_id is not None else getattr(payload, "order_id", None),
        payload=payload,
    )


def decode_envelope(raw: bytes) -> EventEnvelope:
    """Parse bytes from Kafka; raises ``ValueError`` (pydantic ValidationError) when malformed."""
    if len(raw) > MAX_EVENT_BYTES:
        raise ValueError(f"event of {len(raw)} bytes exceeds {MAX_EVENT_BYTES}")
    return EventEnvelope.model_validate_json(raw)
