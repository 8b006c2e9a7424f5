"""Kafka topics: one per producing service, keyed by order id (partition key).

All events of one vehicle order land in one partition of their topic and stay in
order. A deployment may prefix every topic name (``KAFKA_TOPIC_PREFIX``) so that
tests and environments never share topics.
"""

from __future__ import annotations

from enum import StrEnum

PARTITIONS_PER_TOPIC = 6


class Topic(StrEnum):
    """Base topic names; the producing service owns its topic."""

    ORDERS = "otd.orders"
    BILLING = "otd.billing"
    PAYMENTS = "otd.payments"
    LEDGER = "otd.ledger"
    RECON = "otd.recon"


def topic_for(topic: Topic, prefix: str = "") -> str:
    """The full topic name for this deployment."""
    return f"{prefix}{topic.value}"
