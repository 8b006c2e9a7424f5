"""SQL of wires: payer accounts, transfers, claims, the claim queue and its ageing."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.offline_tables import payer_accounts, wire_claims, wires
from payment_gateway.adapters.tables import payable_billings, payments
from payment_gateway.domain.masking import MaskedAccount
from payment_gateway.domain.wires import Candidate, ClaimStatus

LIST_LIMIT_MAX = 200


@dataclass(frozen=True, kw_only=True)
class Wire:
    """One incoming transfer as stored (payer account masked)."""

    wire_id: uuid.UUID
    bank_reference: str
    bank_account: str
    payer_name: str
    payer_account_masked: str
    payer_last4: str
    amount_fen: int
    allocated_fen: int
    value_date: date
    memo: str
    source: str
    match_rule: str | None
    queue_reason: str | None
    received_at: datetime

    @property
    def unallocated_fen(self) -> int:
        """What no claim (claimed or waiting for approval) holds yet."""
        return self.amount_fen - self.allocated_fen


@dataclass(frozen=True, kw_only=True)
class WireClaim:
    """(Part of) a wire claimed for one billing."""

    claim_id: uuid.UUID
    wire_id: uuid.UUID
    billing_id: uuid.UUID
    order_id: uuid.UUID
    amount_fen: int
    status: ClaimStatus
    rule: str
    payment_id: uuid.UUID | None
    claimed_by: str
    approved_by: str | None
    decided_reason: str | None
    unclaimed_by: str | None
    unclaim_reason: str | None
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class WireSearch:
    """Filters of the claim queue."""

    open_only: bool = True
    payer_last4: str | None = None
    amount_fen: int | None = None
    bank_reference: str | None = None
    value_date_to: date | None = None
    limit: int = 50
    offset: int = 0


def _wire(row: Any) -> Wire:
    return Wire(**{f: row[f] for f in Wire.__dataclass_fields__})


def _claim(row: Any) -> WireClaim:
    values = {f: row[f] for f in WireClaim.__dataclass_fields__}
    values["status"] = ClaimStatus(row["status"])
    return WireClaim(**values)


class WireRepository:
    """Payer accounts, wires and claims inside one session."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    # --- payer accounts -----------------------------------------------------------------

    async def replace_payer_accounts(
        self, customer_id: str, accounts: Sequence[MaskedAccount], *, actor: str, now: datetime
    ) -> None:
        """The customer's registered accounts become exactly ``accounts``."""
        t = payer_accounts
        await self._session.execute(sa.delete(t).where(t.c.customer_id == customer_id))
        rows = [
            {
                "customer_id": customer_id,
                "masked": a.masked,
                "bin": a.bin,
                "last4": a.last4,
                "registered_by": actor,
                "created_at": now,
            }
            for a in {a.masked: a for a in accounts}.values()
        ]
        if rows:
            await self._session.execute(sa.insert(t), rows)

    async def payer_accounts(self, customer_id: str) -> list[str]:
        """The customer's registered accounts, masked."""
        t = payer_accounts
        query = sa.select(t.c.masked).where(t.c.customer_id == customer_id).order_by(t.c.masked)
        return list((await self._session.scalars(query)).all())

    # --- wires --------------------------------------------------------------------------

    async def add(self, wire: Wire, *, now: datetime) -> bool:
        """Insert a transfer; False when its bank reference is already known (a duplicate)."""
        values = {f: getattr(wire, f) for f in Wire.__dataclass_fields__}
        values["updated_at"] = now
        statement = (
            pg_insert(wires)
            .values(values)
            .on_conflict_do_nothing(index_elements=[wires.c.bank_reference])
            .returning(wires.c.wire_id)
        )
        return (await self._session.scalar(statement)) is not None

    async def by_reference(self, bank_reference: str) -> Wire | None:
        """A transfer by its bank reference."""
        query = sa.select(wires).where(wires.c.bank_reference == bank_reference)
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _wire(row)

    async def get(self, wire_id: uuid.UUID, *, for_update: bool = False) -> Wire | None:
        """One transfer, optionally row-locked."""
        query = sa.select(wires).where(wires.c.wire_id == wire_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _wire(row)

    async def allocate(
        self, wire_id: uuid.UUID, delta_fen: int, *, now: datetime, **values: object
    ) -> bool:
        """Move what claims hold by ``delta_fen`` (guarded to stay within the amount)."""
        t = wires
        result = await self._session.execute(
            sa.update(t)
            .where(
                t.c.wire_id == wire_id,
                t.c.allocated_fen + delta_fen >= 0,
                t.c.allocated_fen + delta_fen <= t.c.amount_fen,
            )
            .values(allocated_fen=t.c.allocated_fen + delta_fen, updated_at=now, **values)
        )
        return bool(getattr(result, "rowcount", 0) == 1)

    async def set_queue_reason(self, wire_id: uuid.UUID, reason: str, *, now: datetime) -> None:
        """Why the transfer waits in the claim queue."""
        await self._session.execute(
            sa.update(wires)
            .where(wires.c.wire_id == wire_id)
            .values(queue_reason=reason[:200], updated_at=now)
        )

    async def search(self, search: WireSearch) -> tuple[list[Wire], int]:
        """Transfers by the filters, oldest first, with the total count."""
        t = wires
        conditions: list[Any] = []
        if search.open_only:
            conditions.append(t.c.allocated_fen < t.c.amount_fen)
        if search.payer_last4:
            conditions.append(t.c.payer_last4 == search.payer_last4)
        if search.amount_fen is not None:
            conditions.append(t.c.amount_fen == search.amount_fen)
        if search.bank_reference:
            conditions.append(t.c.bank_reference == search.bank_reference)
        if search.value_date_to is not None:
            conditions.append(t.c.value_date <= search.value_date_to)
        where = sa.and_(sa.true(), *conditions)
        total = int(await self._session.scalar(sa.select(sa.func.count()).where(where)) or 0)
        query = (
            sa.select(t)
            .where(where)
            .order_by(t.c.received_at, t.c.wire_id)
            .limit(min(search.limit, LIST_LIMIT_MAX))
            .offset(search.offset)
        )
        rows = (await self._session.execute(query)).mappings()
        return [_wire(r) for r in rows], total

    async def open_by_value_date(self) -> list[tuple[date, int, int]]:
        """(value date, count, unclaimed fen) of every transfer not fully claimed."""
        t = wires
        query = (
            sa.select(
                t.c.value_date,
                sa.func.count(),
                sa.func.sum(t.c.amount_fen - t.c.allocated_fen),
            )
            .where(t.c.allocated_fen < t.c.amount_fen)
            .group_by(t.c.value_date)
        )
        rows = (await self._session.execute(query)).all()
        return [(r[0], int(r[1]), int(r[2])) for r in rows]

    # --- candidates ---------------------------------------------------------------------

    async def candidates(self, payer_last4: str, order_ids: Sequence[uuid.UUID]) -> list[Candidate]:
        """Due billings of customers with a registered account ending in ``payer_last4``, and
        due billings of the named orders, with what is left to pay on each."""
        b, p, a = payable_billings, payments, payer_accounts
        registered = sa.exists().where(a.c.customer_id == b.c.customer_id, a.c.last4 == payer_last4)
        succeeded_since = (
            sa.select(sa.func.coalesce(sa.func.sum(p.c.amount_fen), 0))
            .where(
                p.c.billing_id == b.c.billing_id,
                p.c.status == "succeeded",
                p.c.completed_at > b.c.updated_at,
            )
            .scalar_subquery()
        )
        query = sa.select(
            b.c.billing_id,
            b.c.order_id,
            (b.c.outstanding_fen - succeeded_since).label("left_fen"),
            registered.label("last4_registered"),
        ).where(b.c.status == "due", sa.or_(registered, b.c.order_id.in_(list(order_ids))))
        rows = (await self._session.execute(query.order_by(b.c.due_at))).mappings()
        return [
            Candidate(r["billing_id"], r["order_id"], int(r["left_fen"]), r["last4_registered"])
            for r in rows
        ]

    # --- claims -------------------------------------------------------------------------

    async def add_claim(self, claim: WireClaim) -> None:
        """Insert a claim."""
        values = {f: getattr(claim, f) for f in WireClaim.__dataclass_fields__}
        values["status"] = claim.status.value
        await self._session.execute(sa.insert(wire_claims).values(values))

    async def get_claim(self, claim_id: uuid.UUID, *, for_update: bool = False) -> WireClaim | None:
        """One claim, optionally row-locked."""
        query = sa.select(wire_claims).where(wire_claims.c.claim_id == claim_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return None if row is None else _claim(row)

    async def move_claim(
        self,
        claim_id: uuid.UUID,
        source: ClaimStatus,
        target: ClaimStatus,
        *,
        now: datetime,
        **values: object,
    ) -> WireClaim | None:
        """Guarded claim status change; None when the claim was not in ``source``."""
        t = wire_claims
        row = (
            (
                await self._session.execute(
                    sa.update(t)
                    .where(t.c.claim_id == claim_id, t.c.status == source.value)
                    .values(status=target.value, updated_at=now, **values)
                    .returning(t)
                )
            )
            .mappings()
            .first()
        )
        return None if row is None else _claim(row)

    async def claims_of(
        self, *, wire_id: uuid.UUID | None = None, status: ClaimStatus | None = None
    ) -> list[WireClaim]:
        """Claims of one wire, or all claims in one status, oldest first."""
        t = wire_claims
        query = sa.select(t).order_by(t.c.created_at, t.c.claim_id).limit(LIST_LIMIT_MAX)
        if wire_id is not None:
            query = query.where(t.c.wire_id == wire_id)
        if status is not None:
            query = query.where(t.c.status == status.value)
        return [_claim(r) for r in (await self._session.execute(query)).mappings()]
