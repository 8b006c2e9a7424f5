"""SQL of cash: receipts (unique receipt number per store), reversals and store day closes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.offline_tables import cash_day_closes, cash_receipts

LIST_LIMIT_MAX = 500


@dataclass(frozen=True, kw_only=True)
class CashReceipt:
    """A receipt the store cashier recorded against a billing."""

    receipt_id: uuid.UUID
    store_id: str
    receipt_no: str
    billing_id: uuid.UUID
    order_id: uuid.UUID
    payment_id: uuid.UUID
    out_trade_no: str
    amount_fen: int
    cashier: str
    business_date: date
    status: str
    created_at: datetime
    reversed_by: str | None = None
    reversal_reason: str | None = None
    reversal_id: uuid.UUID | None = None
    reversal_date: date | None = None
    reversed_at: datetime | None = None


@dataclass(frozen=True, kw_only=True)
class DayClose:
    """A store's closed cash day: what the deposit report says."""

    store_id: str
    business_date: date
    receipts_count: int
    receipts_fen: int
    reversals_count: int
    reversals_fen: int
    total_fen: int
    report_csv: str
    closed_by: str
    closed_at: datetime


def _receipt(row: Any) -> CashReceipt:
    return CashReceipt(**{f: row[f] for f in CashReceipt.__dataclass_fields__})


class CashRepository:
    """Receipts and day closes inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, receipt: CashReceipt) -> bool:
        """Insert a receipt; False when the store already has this receipt number."""
        values = {f: getattr(receipt, f) for f in CashReceipt.__dataclass_fields__}
        statement = (
            pg_insert(cash_receipts)
            .values(values)
            .on_conflict_do_nothing(constraint="uq_cash_receipts_store_receipt_no")
            .returning(cash_receipts.c.receipt_id)
        )
        return (await self._session.scalar(statement)) is not None

    async def by_number(self, store_id: str, receipt_no: str) -> CashReceipt | None:
        """A receipt by store and number."""
        t = cash_receipts
        query = sa.select(t).where(t.c.store_id == store_id, t.c.receipt_no == receipt_no)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _receipt(row)

    async def get(self, receipt_id: uuid.UUID, *, for_update: bool = False) -> CashReceipt | None:
        """One receipt, optionally row-locked."""
        query = sa.select(cash_receipts).where(cash_receipts.c.receipt_id == receipt_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _receipt(row)

    async def mark_reversed(
        self, receipt_id: uuid.UUID, *, actor: str, reason: str, day: date, now: datetime
    ) -> CashReceipt | None:
        """recorded → reversed (guarded); None when it was already reversed."""
        t = cash_receipts
        row = (
            (
                await self._session.execute(
                    sa.update(t)
                    .where(t.c.receipt_id == receipt_id, t.c.status == "recorded")
                    .values(
                        status="reversed",
                        reversed_by=actor,
                        reversal_reason=reason,
                        reversal_id=uuid.uuid4(),
                        reversal_date=day,
                        reversed_at=now,
                    )
                    .returning(t)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _receipt(row)

    async def of_day(self, store_id: str, day: date) -> list[CashReceipt]:
        """Receipts recorded on the day, and receipts reversed on the day, oldest first."""
        t = cash_receipts
        query = (
            sa.select(t)
            .where(
                t.c.store_id == store_id,
                sa.or_(t.c.business_date == day, t.c.reversal_date == day),
            )
            .order_by(t.c.created_at, t.c.receipt_no)
        )
        return [_receipt(r) for r in (await self._session.execute(query)).mappings()]

    async def list(
        self, *, store_id: str | None, day: date | None, limit: int, offset: int
    ) -> list[CashReceipt]:
        """Receipts by store and day, newest first."""
        t = cash_receipts
        query = sa.select(t).order_by(t.c.created_at.desc(), t.c.receipt_no)
        if store_id:
            query = query.where(t.c.store_id == store_id)
        if day is not None:
            query = query.where(t.c.business_date == day)
        query = query.limit(min(limit, LIST_LIMIT_MAX)).offset(offset)
        return [_receipt(r) for r in (await self._session.execute(query)).mappings()]

    async def add_close(self, close: DayClose) -> bool:
        """Record a day close; False when the store's day is already closed."""
        values = {f: getattr(close, f) for f in DayClose.__dataclass_fields__}
        statement = (
            pg_insert(cash_day_closes)
            .values(values)
            .on_conflict_do_nothing()
            .returning(cash_day_closes.c.store_id)
        )
        return (await self._session.scalar(statement)) is not None

    async def get_close(self, store_id: str, day: date) -> DayClose | None:
        """A store's day close."""
        t = cash_day_closes
        query = sa.select(t).where(t.c.store_id == store_id, t.c.business_date == day)
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        return DayClose(**{f: row[f] for f in DayClose.__dataclass_fields__})
