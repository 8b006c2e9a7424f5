"""Retention of the messaging tables: old inbox, published outbox and resolved dead letters.

What may go, and why it is safe:

- ``inbox`` rows older than ``RETENTION_INBOX_DAYS``. The inbox is what makes a redelivery
  change nothing, so it must outlive every way an event can come again: the broker's topic
  retention (Kafka's default is 7 days; a consumer group reset replays at most that far) and
  the outbox retention below (a republish). Keep it longer than both.
- ``outbox`` rows PUBLISHED more than ``RETENTION_OUTBOX_DAYS`` ago. Unpublished rows are
  never deleted. Published rows are kept that long so that after a broker loses messages the
  relay can publish them again (the relay's checks, ``RelayCheck``); consumers' inboxes
  absorb the copies.
- ``dead_letters`` RESOLVED more than ``RETENTION_DEAD_LETTERS_DAYS`` ago (open ones stay).

Rows go in batches of ``RETENTION_BATCH_ROWS`` (one short transaction each), oldest first,
so the job never holds long locks and can run while the service is busy. It runs as
``python -m <service> retention`` (a daily CronJob in ``deploy/k8s``).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from otd_shared.messaging_tables import MessagingTables
from otd_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

MAX_BATCHES_PER_TABLE = 10_000
"""Bound on one run (at the default batch size: 50 million rows per table)."""


@dataclass(frozen=True)
class RetentionPolicy:
    """How long each messaging table keeps its rows."""

    inbox_days: int
    outbox_days: int
    dead_letters_days: int
    batch_rows: int

    @classmethod
    def from_settings(cls, settings: ServiceSettings) -> RetentionPolicy:
        """The policy of the named retention settings."""
        return cls(
            inbox_days=settings.retention_inbox_days,
            outbox_days=settings.retention_outbox_days,
            dead_letters_days=settings.retention_dead_letters_days,
            batch_rows=settings.retention_batch_rows,
        )


@dataclass(frozen=True)
class RetentionResult:
    """Rows deleted (or, in a dry run, that would be) per table."""

    inbox: int
    outbox: int
    dead_letters: int
    dry_run: bool

    def as_dict(self) -> dict[str, int | bool]:
        """For the command's JSON output."""
        return {
            "inbox": self.inbox,
            "outbox": self.outbox,
            "dead_letters": self.dead_letters,
            "dry_run": self.dry_run,
        }


def _expired(tables: MessagingTables, policy: RetentionPolicy, now: datetime) -> list[_Expiry]:
    """What expires in each table, and the key its rows are deleted by."""
    ib, ob, dl = tables.inbox, tables.outbox, tables.dead_letters
    return [
        _Expiry(
            "inbox",
            ib,
            sa.tuple_(ib.c.consumer, ib.c.event_id),
            (ib.c.consumer, ib.c.event_id),
            ib.c.processed_at < now - timedelta(days=policy.inbox_days),
        ),
        _Expiry(
            "outbox",
            ob,
            ob.c.id,
            (ob.c.id,),
            sa.and_(
                ob.c.published_at.is_not(None),
                ob.c.created_at < now - timedelta(days=policy.outbox_days),
            ),
        ),
        _Expiry(
            "dead_letters",
            dl,
            dl.c.id,
            (dl.c.id,),
            sa.and_(
                dl.c.resolved_at.is_not(None),
                dl.c.resolved_at < now - timedelta(days=policy.dead_letters_days),
            ),
        ),
    ]


@dataclass(frozen=True)
class _Expiry:
    name: str
    table: sa.Table
    key: sa.ColumnElement[Any]
    key_columns: tuple[sa.Column[Any], ...]
    condition: sa.ColumnElement[bool]


async def purge(
    engine: AsyncEngine,
    tables: MessagingTables,
    policy: RetentionPolicy,
    *,
    now: datetime,
    dry_run: bool = False,
) -> RetentionResult:
    """Delete what the policy lets go (``dry_run``: only count it)."""
    counts: dict[str, int] = {}
    for expiry in _expired(tables, policy, now):
        counts[expiry.name] = await _purge_table(engine, expiry, policy.batch_rows, dry_run)
    result = RetentionResult(dry_run=dry_run, **counts)
    log.info("retention run", extra=result.as_dict())
    return result


async def _purge_table(engine: AsyncEngine, expiry: _Expiry, batch_rows: int, dry_run: bool) -> int:
    if dry_run:
        async with engine.connect() as conn:
            count = await conn.scalar(
                sa.select(sa.func.count()).select_from(expiry.table).where(expiry.condition)
            )
        return int(count or 0)
    oldest = sa.select(*expiry.key_columns).where(expiry.condition).limit(batch_rows)
    delete = sa.delete(expiry.table).where(expiry.key.in_(oldest))
    total = 0
    for _ in range(MAX_BATCHES_PER_TABLE):
        async with engine.begin() as conn:
            result = await conn.execute(delete)
        deleted = int(result.rowcount)
        total += deleted
        if deleted < batch_rows:
            break
    return total
