"""The messaging tables every service keeps in its own schema.

- ``outbox``: events written in the business transaction, published by the relay.
- ``inbox``: (consumer, event_id) of every event a consumer applied, written in the
  same transaction as the effect, so a redelivered event changes nothing.
- ``dead_letters``: events a consumer could not apply (malformed, or failing after
  the named number of attempts), with the error, kept until resolved.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import UUID


@dataclass(frozen=True)
class MessagingTables:
    """The three tables bound to one service schema."""

    outbox: sa.Table
    inbox: sa.Table
    dead_letters: sa.Table


def messaging_tables(metadata: sa.MetaData) -> MessagingTables:
    """Declare the tables in ``metadata`` (whose ``schema`` is the service schema).

    Idempotent: a second call on the same metadata returns the tables declared first.
    """
    prefix = f"{metadata.schema}." if metadata.schema else ""
    if f"{prefix}outbox" in metadata.tables:
        t = metadata.tables
        return MessagingTables(
            t[f"{prefix}outbox"], t[f"{prefix}inbox"], t[f"{prefix}dead_letters"]
        )
    outbox = sa.Table(
        "outbox",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), nullable=False, unique=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("partition_key", sa.Text, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("published_at", sa.DateTime(timezone=True)),
        sa.Column("attempts", sa.Integer, nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text),
        sa.Index("ix_outbox_unpublished", "id", postgresql_where=sa.text("published_at IS NULL")),
    )
    inbox = sa.Table(
        "inbox",
        metadata,
        sa.Column("consumer", sa.Text, primary_key=True),
        sa.Column("event_id", UUID(as_uuid=True), primary_key=True),
        sa.Column("event_type", sa.Text, nullable=False),
        sa.Column(
            "processed_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
    )
    dead_letters = sa.Table(
        "dead_letters",
        metadata,
        sa.Column("id", sa.BigInteger, sa.Identity(), primary_key=True),
        sa.Column("consumer", sa.Text, nullable=False),
        sa.Column("topic", sa.Text, nullable=False),
        sa.Column("kafka_partition", sa.Integer, nullable=False),
        sa.Column("kafka_offset", sa.BigInteger, nullable=False),
        sa.Column("event_id", UUID(as_uuid=True)),
        sa.Column("event_type", sa.Text),
        sa.Column("order_id", sa.Text),
        sa.Column("body", sa.LargeBinary, nullable=False),
        sa.Column("error", sa.Text, nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column(
            "parked_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column("resolved_at", sa.DateTime(timezone=True)),
        sa.UniqueConstraint(
            "consumer", "topic", "kafka_partition", "kafka_offset", name="uq_dead_letters_position"
        ),
        sa.Index(
            "ix_dead_letters_open_order",
            "consumer",
            "order_id",
            postgresql_where=sa.text("resolved_at IS NULL"),
        ),
    )
    return MessagingTables(outbox=outbox, inbox=inbox, dead_letters=dead_letters)
