"""recon's projection of internal payments and refunds (``recon.internal_records``)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import date, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from otd_shared.set_sql import arrays, insert_rows
from recon_service.adapters.tables import internal_records


@dataclass(frozen=True, kw_only=True)
class InternalRecord:
    """One internal payment outcome or refund, as recon sees it."""

    kind: str
    ref_id: str
    payment_id: str
    refund_id: str | None
    order_id: str
    billing_id: str
    channel: str
    method: str
    status: str
    out_trade_no: str
    channel_txn_id: str | None
    amount_fen: int
    fee_fen: int | None
    completed_at: datetime
    business_date: date
    event_id: uuid.UUID


class ProjectionRepository:
    """Writes the projection inside the consumer's transaction."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def upsert(self, record: InternalRecord) -> None:
        """Insert or update one record. ``succeeded`` is final: a later ``failed`` for the same
        payment changes nothing, while a late success replaces a failure (money arrived)."""
        await self.upsert_many([record])

    async def upsert_many(self, records: Sequence[InternalRecord]) -> None:
        """``upsert`` of several records in order, in one statement: the records of one
        key are folded first by the same rule (PostgreSQL updates a row once per statement),
        so the rows end as after one ``upsert`` per record."""
        if not records:
            return
        rows = [_row(r) for r in fold_by_key(records)]
        await self._session.execute(_UPSERT, arrays(rows, _RECORD_FIELDS))

    async def correct(self, record: InternalRecord) -> None:
        """A payment corrected to the channel's figure: its status, amount and channel id
        replace ours (a record we had keeps its business day and completion time)."""
        values = _row(record)
        insert = pg_insert(internal_records).values(**values)
        corrected = ("status", "amount_fen", "channel_txn_id", "event_id")
        await self._session.execute(
            insert.on_conflict_do_update(
                index_elements=[internal_records.c.kind, internal_records.c.ref_id],
                set_={**{k: insert.excluded[k] for k in corrected}, "updated_at": sa.func.now()},
            )
        )


def fold_by_key(records: Sequence[InternalRecord]) -> list[InternalRecord]:
    """One record per (kind, ref_id), as applying them in order leaves it: a later record
    replaces an earlier one unless that one ``succeeded`` (final)."""
    folded: dict[tuple[str, str], InternalRecord] = {}
    for record in records:
        key = (record.kind, record.ref_id)
        kept = folded.get(key)
        if kept is None or kept.status != "succeeded":
            folded[key] = record
    return list(folded.values())


_RECORD_FIELDS: Final = tuple(f.name for f in fields(InternalRecord))


_UPSERT: Final = insert_rows(
    internal_records,
    _RECORD_FIELDS,
    suffix="ON CONFLICT (kind, ref_id) DO UPDATE SET "
    + ", ".join(f"{k} = EXCLUDED.{k}" for k in _RECORD_FIELDS if k not in ("kind", "ref_id"))
    + ", updated_at = now() WHERE internal_records.status <> 'succeeded'",
)
"""The records as arrays in one statement (one execution whatever their number)."""


def _row(record: InternalRecord) -> dict[str, object]:
    """The record's columns (a shallow copy: ``dataclasses.asdict`` deep-copies every value,
    which cost the projection consumer a twelfth of its CPU)."""
    return {name: getattr(record, name) for name in _RECORD_FIELDS}
