"""SQL of the app-backend webhook: deliveries (an outbox of pushes) and their attempts.

A delivery row is written in the same transaction as the event it pushes (BillingDue,
BillingReminderDue, BillingAmountChanged), so a push exists iff its change committed.
Senders claim due rows with ``FOR UPDATE SKIP LOCKED`` and push ``next_attempt_at`` one
lease ahead, so several senders never post the same row at once, and a sender that dies
mid-post leaves the row to be retried after the lease. Every attempt is a row.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.tables import webhook_attempts, webhook_deliveries
from otd_shared.events import EventEnvelope
from otd_shared.set_sql import arrays, insert_rows

PENDING, DELIVERED, FAILED, SKIPPED = "pending", "delivered", "failed", "skipped"
DELIVERY_STATUSES = (PENDING, DELIVERED, FAILED, SKIPPED)
MAX_ERROR_CHARS = 500


@dataclass(frozen=True, kw_only=True)
class Delivery:
    """One push of one event to the app backend."""

    id: int
    event_id: uuid.UUID
    event_type: str
    order_id: str | None
    billing_id: str | None
    body: str
    status: str
    attempts: int
    next_attempt_at: datetime
    last_status_code: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None


@dataclass(frozen=True, kw_only=True)
class Attempt:
    """One HTTP attempt of a delivery."""

    attempted_at: datetime
    url: str | None
    status_code: int | None
    error: str | None
    duration_ms: int


@dataclass(frozen=True, kw_only=True)
class AttemptResult:
    """What one attempt ended in; ``retry_at`` None with ``delivered`` False means give up."""

    delivered: bool
    status_code: int | None
    error: str | None
    duration_ms: int
    url: str | None
    retry_at: datetime | None


def webhook_body(envelope: EventEnvelope) -> str:
    """The JSON body pushed for an event: its identity and its payload as ``data``."""
    return json.dumps(
        {
            "event_id": str(envelope.event_id),
            "event_type": envelope.event_type,
            "occurred_at": envelope.occurred_at.isoformat(),
            "order_id": envelope.order_id,
            "data": envelope.payload.model_dump(mode="json"),
        },
        separators=(",", ":"),
        sort_keys=True,
    )


class WebhookRepository:
    """Deliveries and attempts inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def enqueue(self, envelopes: Sequence[EventEnvelope], *, at: datetime) -> None:
        """Add one pending delivery per event (idempotent by event id)."""
        await self.enqueue_each([(e, at) for e in envelopes])

    async def enqueue_each(self, items: Sequence[tuple[EventEnvelope, datetime]]) -> None:
        """One pending delivery per (event, when it was recorded), in one statement."""
        rows = [
            {
                "event_id": e.event_id,
                "event_type": e.event_type,
                "order_id": e.order_id,
                "billing_id": getattr(e.payload, "billing_id", None),
                "body": webhook_body(e),
                "status": PENDING,
                "attempts": 0,
                "next_attempt_at": at,
                "created_at": at,
            }
            for e, at in items
        ]
        if rows:
            columns = tuple(rows[0])
            await self._session.execute(
                insert_rows(webhook_deliveries, columns, suffix="ON CONFLICT DO NOTHING"),
                arrays(rows, columns),
            )

    async def claim(self, *, now: datetime, limit: int, lease_s: float) -> list[Delivery]:
        """Take up to ``limit`` due pending deliveries for one lease."""
        t = webhook_deliveries
        due = _due(now, limit)
        rows = await self._session.execute(
            sa.update(t)
            .where(t.c.id.in_(due.scalar_subquery()))
            .values(next_attempt_at=now + timedelta(seconds=lease_s))
            .returning(*t.c)
        )
        return sorted((_delivery(r) for r in rows.mappings()), key=lambda d: d.id)

    async def skip_due(self, *, now: datetime, limit: int, error: str) -> int:
        """Move up to ``limit`` due pending deliveries to skipped, each with its attempt row
        (no URL to push to), in one statement whatever their number; returns how many."""
        d, a = webhook_deliveries, webhook_attempts
        due = _due(now, limit).cte("due")
        moved = (
            sa.update(d)
            .where(d.c.id.in_(sa.select(due.c.id)))
            .values(
                status=SKIPPED,
                attempts=d.c.attempts + 1,
                next_attempt_at=now,
                last_status_code=None,
                last_error=error[:MAX_ERROR_CHARS],
            )
            .returning(d.c.id)
            .cte("moved")
        )
        attempt_rows = sa.select(
            moved.c.id,
            sa.literal(now, sa.DateTime(timezone=True)),
            sa.null(),
            sa.null(),
            sa.literal(error[:MAX_ERROR_CHARS]),
            sa.literal(0),
        )
        recorded = await self._session.execute(
            sa.insert(a)
            .from_select(
                ["delivery_id", "attempted_at", "url", "status_code", "error", "duration_ms"],
                attempt_rows,
            )
            .returning(a.c.delivery_id)
        )
        return len(recorded.all())

    async def next_due(self) -> datetime | None:
        """When the earliest pending delivery is due (None: nothing pending)."""
        t = webhook_deliveries
        found: datetime | None = await self._session.scalar(
            sa.select(sa.func.min(t.c.next_attempt_at)).where(t.c.status == PENDING)
        )
        return found

    async def record_many(self, attempts: Sequence[tuple[int, AttemptResult, datetime]]) -> None:
        """Record attempts (delivery id, result, when) and move each delivery on: one
        statement for the attempt rows and one for the deliveries, whatever their number."""
        if not attempts:
            return
        await self._session.execute(
            sa.insert(webhook_attempts),
            [
                {
                    "delivery_id": delivery_id,
                    "attempted_at": at,
                    "url": result.url,
                    "status_code": result.status_code,
                    "error": _error_text(result),
                    "duration_ms": result.duration_ms,
                }
                for delivery_id, result, at in attempts
            ],
        )
        t = webhook_deliveries
        await self._session.execute(
            sa.update(t)
            .where(t.c.id == sa.bindparam("delivery_id"))
            .values(
                status=sa.bindparam("new_status"),
                attempts=t.c.attempts + 1,
                next_attempt_at=sa.bindparam("next_at"),
                last_status_code=sa.bindparam("status_code"),
                last_error=sa.bindparam("error"),
                delivered_at=sa.bindparam("delivered_at"),
            )
            .execution_options(synchronize_session=False),
            [_moved_on(delivery_id, result, at) for delivery_id, result, at in attempts],
        )

    async def get(self, delivery_id: int) -> Delivery | None:
        """One delivery, or None."""
        row = (
            (
                await self._session.execute(
                    sa.select(webhook_deliveries).where(webhook_deliveries.c.id == delivery_id)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _delivery(row)

    async def attempts(self, delivery_id: int) -> list[Attempt]:
        """The attempts of a delivery, oldest first."""
        t = webhook_attempts
        rows = await self._session.execute(
            sa.select(t).where(t.c.delivery_id == delivery_id).order_by(t.c.id)
        )
        return [
            Attempt(
                attempted_at=r.attempted_at,
                url=r.url,
                status_code=r.status_code,
                error=r.error,
                duration_ms=r.duration_ms,
            )
            for r in rows
        ]

    async def page(
        self, *, status: str | None, order_id: str | None, limit: int, offset: int
    ) -> tuple[list[Delivery], int]:
        """Deliveries, newest first, filtered; with the total count."""
        t = webhook_deliveries
        conditions = []
        if status is not None:
            conditions.append(t.c.status == status)
        if order_id is not None:
            conditions.append(t.c.order_id == order_id)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(t).where(*conditions).order_by(t.c.id.desc()).limit(limit).offset(offset)
        )
        return [_delivery(r) for r in rows.mappings()], int(total or 0)

    async def resend(self, delivery_id: int, *, at: datetime) -> Delivery | None:
        """Queue a delivery again now (a new round of attempts); None when unknown."""
        t = webhook_deliveries
        row = (
            (
                await self._session.execute(
                    sa.update(t)
                    .where(t.c.id == delivery_id)
                    .values(status=PENDING, attempts=0, next_attempt_at=at, delivered_at=None)
                    .returning(*t.c)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _delivery(row)


def _delivery(r: sa.RowMapping) -> Delivery:
    return Delivery(
        id=r["id"],
        event_id=r["event_id"],
        event_type=r["event_type"],
        order_id=r["order_id"],
        billing_id=r["billing_id"],
        body=r["body"],
        status=r["status"],
        attempts=r["attempts"],
        next_attempt_at=r["next_attempt_at"],
        last_status_code=r["last_status_code"],
        last_error=r["last_error"],
        created_at=r["created_at"],
        delivered_at=r["delivered_at"],
    )


def _due(now: datetime, limit: int) -> sa.Select[tuple[int]]:
    """The ids of up to ``limit`` due pending deliveries, locked (others skip them)."""
    t = webhook_deliveries
    return (
        sa.select(t.c.id)
        .where(t.c.status == PENDING, t.c.next_attempt_at <= now)
        .order_by(t.c.next_attempt_at, t.c.id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )


def _error_text(result: AttemptResult) -> str | None:
    return result.error[:MAX_ERROR_CHARS] if result.error else None


def _moved_on(delivery_id: int, result: AttemptResult, at: datetime) -> dict[str, object]:
    """The delivery's new state after one attempt: delivered, pending for a retry, or
    failed for good (skipped ones are moved by ``skip_due``)."""
    if result.delivered:
        status, next_at = DELIVERED, at
    elif result.retry_at is not None:
        status, next_at = PENDING, result.retry_at
    else:
        status, next_at = FAILED, at
    return {
        "delivery_id": delivery_id,
        "new_status": status,
        "next_at": next_at,
        "status_code": result.status_code,
        "error": _error_text(result),
        "delivered_at": at if result.delivered else None,
    }
