"""SQL of adjustments, the audit chain and day closing."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from recon_service.adapters.tables import (
    adjustments,
    audit_log,
    day_closures,
    discrepancies,
    internal_records,
    recon_days,
    recon_results,
    statement_lines,
)
from recon_service.domain.adjustments import GENESIS_HASH, chain_hash

UNRESOLVED = ("open", "waiting", "pending_approval")
AUDIT_LOCK_KEY = "recon-audit-chain"


class AdjustmentRepository:
    """Discrepancy resolutions, approvals, the audit log and closures, in one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def discrepancy_for_update(self, discrepancy_id: uuid.UUID) -> dict[str, Any] | None:
        """The discrepancy, locked for the resolution."""
        row = (
            await self._session.execute(
                sa.select(discrepancies)
                .where(discrepancies.c.discrepancy_id == discrepancy_id)
                .with_for_update()
            )
        ).first()
        return None if row is None else dict(row._mapping)

    async def set_discrepancy_status(self, discrepancy_id: uuid.UUID, status: str) -> None:
        """Move a discrepancy to a resolution status."""
        await self._session.execute(
            sa.update(discrepancies)
            .where(discrepancies.c.discrepancy_id == discrepancy_id)
            .values(status=status, updated_at=sa.func.now())
        )

    async def add(self, values: dict[str, Any]) -> dict[str, Any]:
        """A new adjustment."""
        row = (
            await self._session.execute(
                sa.insert(adjustments).values(**values).returning(adjustments)
            )
        ).one()
        return dict(row._mapping)

    async def for_update(self, adjustment_id: uuid.UUID) -> dict[str, Any] | None:
        """An adjustment, locked."""
        row = (
            await self._session.execute(
                sa.select(adjustments)
                .where(adjustments.c.adjustment_id == adjustment_id)
                .with_for_update()
            )
        ).first()
        return None if row is None else dict(row._mapping)

    async def decide(
        self, adjustment_id: uuid.UUID, status: str, by: str, reason: str | None
    ) -> dict[str, Any]:
        """Approve (applied) or reject a pending adjustment (guarded: only from pending)."""
        row = (
            await self._session.execute(
                sa.update(adjustments)
                .where(
                    adjustments.c.adjustment_id == adjustment_id,
                    adjustments.c.status == "pending_approval",
                )
                .values(status=status, decided_by=by, decided_at=sa.func.now(),
                        decision_reason=reason)
                .returning(adjustments)
            )
        ).one()  # fmt: skip
        return dict(row._mapping)

    async def set_correction(
        self, adjustment_id: uuid.UUID, payment_id: str, correction_id: str
    ) -> dict[str, Any]:
        """Name the payment the gateway corrected for an accept_channel adjustment."""
        row = (
            await self._session.execute(
                sa.update(adjustments)
                .where(adjustments.c.adjustment_id == adjustment_id)
                .values(payment_id=payment_id, correction_id=correction_id)
                .returning(adjustments)
            )
        ).one()
        return dict(row._mapping)

    async def payment_of_refund(self, refund_id: str) -> str | None:
        """The payment of one of recon's refund records."""
        found = await self._session.scalar(
            sa.select(internal_records.c.payment_id).where(
                internal_records.c.kind == "refund", internal_records.c.ref_id == refund_id
            )
        )
        return None if found is None else str(found)

    async def line_of(
        self, statement_id: uuid.UUID | None, line_no: int | None
    ) -> dict[str, Any] | None:
        """The statement line a discrepancy was found on, if it has one."""
        if statement_id is None or line_no is None:
            return None
        row = (
            await self._session.execute(
                sa.select(statement_lines).where(
                    statement_lines.c.statement_id == statement_id,
                    statement_lines.c.line_no == line_no,
                )
            )
        ).first()
        return None if row is None else dict(row._mapping)

    async def page(
        self, *, status: str | None, discrepancy_id: uuid.UUID | None, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        """Adjustments, newest first."""
        t = adjustments
        conditions = [
            c == v for c, v in ((t.c.status, status), (t.c.discrepancy_id, discrepancy_id))
            if v is not None
        ]  # fmt: skip
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(t).where(*conditions)
        )
        rows = await self._session.execute(
            sa.select(t).where(*conditions).order_by(t.c.requested_at.desc()).limit(limit)
            .offset(offset)
        )  # fmt: skip
        return [dict(r._mapping) for r in rows], int(total or 0)

    # ------------------------------------------------------------ audit chain

    async def audit(
        self,
        *,
        actor: str,
        action: str,
        subject_kind: str,
        subject_id: str,
        reason: str | None,
        before: dict[str, Any] | None,
        after: dict[str, Any] | None,
    ) -> None:
        """Append one entry, chained to the last (appends are serialised by a lock)."""
        key = sa.func.hashtext(AUDIT_LOCK_KEY)
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))
        last = await self._session.scalar(
            sa.select(audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        )
        entry = {
            "at": datetime.now(UTC),
            "actor": actor,
            "action": action,
            "subject_kind": subject_kind,
            "subject_id": subject_id,
            "reason": reason,
            "before": _plain(before),
            "after": _plain(after),
        }
        prev = last or GENESIS_HASH
        await self._session.execute(
            sa.insert(audit_log).values(**entry, prev_hash=prev, hash=chain_hash(prev, entry))
        )

    async def audit_entries(
        self, *, subject_id: str | None, after_seq: int, limit: int
    ) -> list[dict[str, Any]]:
        """Entries in chain order (optionally of one subject)."""
        t = audit_log
        query = sa.select(t).where(t.c.seq > after_seq).order_by(t.c.seq).limit(limit)
        if subject_id is not None:
            query = query.where(t.c.subject_id == subject_id)
        return [dict(r._mapping) for r in await self._session.execute(query)]

    async def hash_before(self, seq: int) -> str:
        """The hash the entry after ``seq`` must chain to."""
        found = await self._session.scalar(
            sa.select(audit_log.c.hash).where(audit_log.c.seq == seq)
        )
        return str(found) if found else GENESIS_HASH

    # ------------------------------------------------------------ closing

    async def unresolved_count(self, source: str, day: date) -> int:
        """Discrepancies of the source-day not yet resolved or cleared."""
        d = discrepancies
        found = await self._session.scalar(
            sa.select(sa.func.count())
            .select_from(d)
            .where(d.c.source == source, d.c.recon_date == day, d.c.status.in_(UNRESOLVED))
        )
        return int(found or 0)

    async def closure(self, source: str, day: date) -> dict[str, Any] | None:
        """The closure row of a source-day."""
        t = day_closures
        row = (
            await self._session.execute(
                sa.select(t).where(t.c.source == source, t.c.recon_date == day).with_for_update()
            )
        ).first()
        return None if row is None else dict(row._mapping)

    async def close(self, source: str, day: date, by: str) -> dict[str, Any]:
        """Close (or close again after a reopen)."""
        t = day_closures
        insert = pg_insert(t).values(source=source, recon_date=day, status="closed", closed_by=by)
        row = (
            await self._session.execute(
                insert.on_conflict_do_update(
                    index_elements=[t.c.source, t.c.recon_date],
                    set_={"status": "closed", "closed_by": by, "closed_at": sa.func.now()},
                ).returning(t)
            )
        ).one()
        return dict(row._mapping)

    async def reopen(self, source: str, day: date, by: str, reason: str) -> dict[str, Any]:
        """Reopen a closed day."""
        t = day_closures
        row = (
            await self._session.execute(
                sa.update(t)
                .where(t.c.source == source, t.c.recon_date == day, t.c.status == "closed")
                .values(status="reopened", reopened_by=by, reopened_at=sa.func.now(),
                        reopen_reason=reason)
                .returning(t)
            )
        ).one()  # fmt: skip
        return dict(row._mapping)


def _plain(value: dict[str, Any] | None) -> dict[str, Any] | None:
    """JSON-native values (what JSONB gives back), so the hash is reproducible."""
    return None if value is None else json.loads(json.dumps(value, default=str))


def at_stake_sql() -> sa.ColumnElement[int]:
    """The money a discrepancy row puts at risk (``domain.adjustments.amount_at_stake_fen``)."""
    d = discrepancies
    line = sa.func.coalesce(d.c.line_amount_fen, 0)
    record = sa.func.coalesce(d.c.record_amount_fen, 0)
    fees = sa.func.coalesce(d.c.line_fee_fen, 0) - sa.func.coalesce(d.c.record_fee_fen, 0)
    return sa.case(
        (d.c.outcome == "fee_mismatch", sa.func.abs(fees)),
        (d.c.outcome == "channel_only", line),
        (d.c.outcome == "internal_only", record),
        (d.c.outcome == "status_mismatch", sa.func.greatest(line, record)),
        else_=sa.func.abs(line - record),
    )


class FiguresRepository:
    """The figures finance asks for first, over current runs and unresolved discrepancies."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def match_rates(
        self, source: str | None, date_from: date, date_to: date
    ) -> dict[str, int]:
        """Counted results of the days' current runs: all and matched, by count and money."""
        r = recon_results
        # A group's pairs each carry the whole of its one side (one line of several records,
        # or one record of several lines): the smaller amount of each pair is its share.
        amount = sa.case(
            (
                r.c.match_group.is_not(None),
                sa.func.least(r.c.line_amount_fen, r.c.record_amount_fen),
            ),
            else_=sa.func.coalesce(r.c.line_amount_fen, r.c.record_amount_fen, 0),
        )
        matched = r.c.outcome == "matched"
        counted = r.c.outcome.notin_(("carried_over", "unsettled"))
        conditions: list[sa.ColumnElement[bool]] = [
            counted,
            recon_days.c.recon_date.between(date_from, date_to),
        ]
        if source is not None:
            conditions.append(recon_days.c.source == source)
        row = (
            await self._session.execute(
                sa.select(
                    sa.func.count(),
                    sa.func.count().filter(matched),
                    sa.func.coalesce(sa.func.sum(amount), 0),
                    sa.func.coalesce(sa.func.sum(amount).filter(matched), 0),
                )
                .select_from(r.join(recon_days, recon_days.c.current_run_id == r.c.run_id))
                .where(*conditions)
            )
        ).one()
        return {
            "results": int(row[0]),
            "matched": int(row[1]),
            "amount_fen": int(row[2]),
            "matched_amount_fen": int(row[3]),
        }

    async def unresolved(self, source: str | None) -> list[dict[str, Any]]:
        """(recon_date, at stake) of every unresolved discrepancy, grouped by day."""
        d = discrepancies
        stake = at_stake_sql()
        conditions: list[sa.ColumnElement[bool]] = [d.c.status.in_(UNRESOLVED)]
        if source is not None:
            conditions.append(d.c.source == source)
        rows = await self._session.execute(
            sa.select(d.c.recon_date, stake.label("fen"), sa.func.count().label("n"))
            .where(*conditions)
            .group_by(d.c.recon_date, stake)
        )
        return [dict(r._mapping) for r in rows]
