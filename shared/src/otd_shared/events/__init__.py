"""Events of the cluster: one envelope, one discriminated union of payloads."""

from otd_shared.events.envelope import (
    SCHEMA_VERSION,
    EventEnvelope,
    decode_envelope,
    new_envelope,
)
from otd_shared.events.payloads import *  # noqa: F403  (the payload classes are the public API)
from otd_shared.events.payloads import EventPayload
from otd_shared.events.payloads import __all__ as _payload_names
from otd_shared.events.topics import Topic, topic_for

__all__ = [
    "SCHEMA_VERSION",
    "EventEnvelope",
    "EventPayload",
    "Topic",
    "decode_envelope",
    "new_envelope",
    "topic_for",
    *_payload_names,
]
