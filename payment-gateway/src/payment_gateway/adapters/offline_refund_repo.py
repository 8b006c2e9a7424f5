"""SQL of the offline refunds queue: one item per manual refund, guarded status moves."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import date, datetime, time, timedelta
from typing import Final

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import RowMapping
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.offline_tables import cash_receipts, offline_refunds
from payment_gateway.adapters.tables import payments
from payment_gateway.domain.offline_refund import OfflineRefund, OfflineRefundStatus, PayoutMethod
from payment_gateway.domain.payment import CHANNEL_TZ

LIST_LIMIT_MAX = 200
_FIELDS = tuple(f.name for f in fields(OfflineRefund))


@dataclass(frozen=True)
class OfflineRefundSearch:
    """Filters of the queue (all optional), paged."""

    status: OfflineRefundStatus | None = None
    channel: str | None = None
    owner: str | None = None
    store_id: str | None = None
    order_id: uuid.UUID | None = None
    billing_id: uuid.UUID | None = None
    limit: int = 50
    offset: int = 0


class ReferenceTaken(Exception):
    """The payout reference already pays another refund (unique index)."""


def _item(row: RowMapping) -> OfflineRefund:
    values = {name: row[name] for name in _FIELDS}
    values["status"] = OfflineRefundStatus(row["status"])
    values["payout_method"] = PayoutMethod(row["payout_method"])
    return OfflineRefund(**values)


CHANNEL_COMPLETER: Final = "channel"
"""``completed_by`` of an item the channel refunded itself."""


class OfflineRefundRepository:
    """The queue's rows."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, item: OfflineRefund, *, now: datetime) -> bool:
        """Queue an item; False when its refund is queued already (redelivery)."""
        values = {name: getattr(item, name) for name in _FIELDS}
        values["status"] = item.status.value
        values["payout_method"] = item.payout_method.value
        statement = (
            pg_insert(offline_refunds)
            .values(**values, updated_at=now)
            .on_conflict_do_nothing()
            .returning(offline_refunds.c.offline_refund_id)
        )
        return (await self._session.execute(statement)).first() is not None

    async def get(self, item_id: uuid.UUID, *, for_update: bool = False) -> OfflineRefund | None:
        """One item."""
        query = sa.select(offline_refunds).where(offline_refunds.c.offline_refund_id == item_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return _item(row) if row is not None else None

    async def search(self, f: OfflineRefundSearch) -> tuple[list[OfflineRefund], int]:
        """Items by the filters, oldest first, and how many match in all."""
        t = offline_refunds.c
        conditions = [
            column == value
            for column, value in (
                (t.status, f.status.value if f.status else None),
                (t.channel, f.channel),
                (t.owner, f.owner),
                (t.store_id, f.store_id),
                (t.order_id, f.order_id),
                (t.billing_id, f.billing_id),
            )
            if value is not None
        ]
        where = sa.and_(sa.true(), *conditions)
        total = await self._session.scalar(
            sa.select(sa.func.count()).select_from(offline_refunds).where(where)
        )
        query = (
            sa.select(offline_refunds)
            .where(where)
            .order_by(t.created_at, t.offline_refund_id)
            .limit(min(f.limit, LIST_LIMIT_MAX))
            .offset(f.offset)
        )
        rows = (await self._session.execute(query)).mappings()
        return [_item(r) for r in rows], int(total or 0)

    async def move(
        self,
        item_id: uuid.UUID,
        source: OfflineRefundStatus,
        target: OfflineRefundStatus,
        *,
        now: datetime,
        values: Mapping[str, object] | None = None,
    ) -> OfflineRefund | None:
        """Guarded status change; None when the item was not in ``source``. A payout reference
        that already pays another refund raises ReferenceTaken."""
        statement = (
            sa.update(offline_refunds)
            .where(
                offline_refunds.c.offline_refund_id == item_id,
                offline_refunds.c.status == source.value,
            )
            .values(status=target.value, updated_at=now, **dict(values or {}))
            .returning(*offline_refunds.c)
        )
        try:
            async with self._session.begin_nested():
                row = (await self._session.execute(statement)).mappings().first()
        except IntegrityError as exc:
            raise ReferenceTaken(str(exc.orig)) from exc
        return _item(row) if row is not None else None

    async def close_by_channel(
        self, refund_id: uuid.UUID, *, now: datetime, reason: str
    ) -> OfflineRefund | None:
        """The channel refunded the queued refund itself: its item (open or waiting for
        approval) is completed by ``channel`` with the reason; the item as it was before, or
        None."""
        query = (
            sa.select(offline_refunds)
            .where(
                offline_refunds.c.refund_id == refund_id,
                offline_refunds.c.status != OfflineRefundStatus.COMPLETED.value,
            )
            .with_for_update()
        )
        row = (await self._session.execute(query)).mappings().first()
        if row is None:
            return None
        before = _item(row)
        await self._session.execute(
            sa.update(offline_refunds)
            .where(offline_refunds.c.offline_refund_id == before.offline_refund_id)
            .values(
                status=OfflineRefundStatus.COMPLETED.value,
                completed_by=CHANNEL_COMPLETER,
                completed_at=now,
                closed_reason=reason,
                updated_at=now,
            )
        )
        return before

    async def assign(self, item_id: uuid.UUID, owner: str, *, now: datetime) -> bool:
        """Give an item that is not completed to another owner."""
        statement = (
            sa.update(offline_refunds)
            .where(
                offline_refunds.c.offline_refund_id == item_id,
                offline_refunds.c.status != OfflineRefundStatus.COMPLETED.value,
            )
            .values(owner=owner, updated_at=now)
        )
        result = await self._session.execute(statement)
        return bool(getattr(result, "rowcount", 0))

    async def cash_store_of(self, payment_id: uuid.UUID) -> str | None:
        """The store whose till took the cash payment (its receipt), if it was a receipt."""
        return await self._session.scalar(
            sa.select(cash_receipts.c.store_id).where(cash_receipts.c.payment_id == payment_id)
        )

    async def cash_payouts_of_day(
        self, store_id: str, day: date
    ) -> list[tuple[OfflineRefund, str]]:
        """Cash paid back at the store's till on its business day (Asia/Shanghai), each with
        the out_trade_no of the payment it refunds."""
        start = datetime.combine(day, time.min, tzinfo=CHANNEL_TZ)
        t = offline_refunds.c
        query = (
            sa.select(offline_refunds, payments.c.out_trade_no.label("payment_out_trade_no"))
            .join(payments, payments.c.payment_id == t.payment_id)
            .where(
                t.store_id == store_id,
                t.payout_method == PayoutMethod.CASH.value,
                t.status == OfflineRefundStatus.COMPLETED.value,
                t.completed_at >= start,
                t.completed_at < start + timedelta(days=1),
            )
            .order_by(t.completed_at)
        )
        rows = (await self._session.execute(query)).mappings()
        return [(_item(r), str(r["payment_out_trade_no"])) for r in rows]
