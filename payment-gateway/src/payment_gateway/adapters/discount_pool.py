"""SQL for discount activities, the pre-dealt pool of cards and the draws.

A draw takes one available card of its pool with ``FOR UPDATE SKIP LOCKED`` inside the
payment's transaction: concurrent payments never take the same card, and a rolled-back payment
leaves its card in the pool. Cards are never created outside the dealing, so the caps and the
budget hold however many payments draw at once.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import RowMapping
from sqlalchemy.ext.asyncio import AsyncSession

from payment_gateway.adapters.repository import _guarded_transition
from payment_gateway.adapters.tables import discount_activities, discount_cards, discount_draws
from payment_gateway.domain.discounts import (
    Activity,
    ActivityStatus,
    Card,
    CardStatus,
    Dealing,
    DiscountRule,
    Draw,
    DrawStatus,
)

INSERT_CHUNK_ROWS: Final = 5_000
LIST_LIMIT_MAX: Final = 200
HOLDING_STATUSES: Final = (DrawStatus.RESERVED.value, DrawStatus.CONFIRMED.value)


def activity_from_row(row: RowMapping) -> Activity:
    """An activity from its row."""
    stores = row["store_ids"]
    return Activity(
        activity_id=row["activity_id"],
        name=row["name"],
        starts_at=row["starts_at"],
        ends_at=row["ends_at"],
        stages=tuple(row["stages"]),
        channels=tuple(row["channels"]),
        store_ids=None if stores is None else tuple(stores),
        threshold_fen=row["threshold_fen"],
        rule=DiscountRule.from_json(row["rule"]),
        cap_per_store_day=row["cap_per_store_day"],
        cap_per_customer=row["cap_per_customer"],
        cap_total=row["cap_total"],
        budget_fen=row["budget_fen"],
        refund_returns_to_budget=row["refund_returns_to_budget"],
        status=ActivityStatus(row["status"]),
        created_by=row["created_by"],
        created_at=row["created_at"],
        approved_by=row["approved_by"],
        approved_at=row["approved_at"],
        seed_hex=row["seed_hex"],
        dealt_cards=row["dealt_cards"],
        dealt_fen=row["dealt_fen"],
        dealing_sha256=row["dealing_sha256"],
    )


def draw_from_row(row: RowMapping) -> Draw:
    """A draw from its row."""
    return Draw(
        draw_id=row["draw_id"],
        activity_id=row["activity_id"],
        card_id=row["card_id"],
        payment_id=row["payment_id"],
        discount_payment_id=row["discount_payment_id"],
        order_id=row["order_id"],
        billing_id=row["billing_id"],
        customer_id=row["customer_id"],
        store_id=row["store_id"],
        amount_fen=row["amount_fen"],
        status=DrawStatus(row["status"]),
        drawn_at=row["drawn_at"],
        returned_to_budget=row["returned_to_budget"],
        confirmed_at=row["confirmed_at"],
        returned_at=row["returned_at"],
        reversed_at=row["reversed_at"],
    )


@dataclass(frozen=True)
class TakenCard:
    """A card a draw just took."""

    card_id: int
    amount_fen: int


@dataclass(frozen=True)
class DayFigures:
    """One activity day (Asia/Shanghai) of the report."""

    day: date
    drawn: int
    drawn_fen: int
    confirmed: int
    confirmed_fen: int
    returned: int
    returned_fen: int
    reversed: int
    reversed_fen: int
    shortfall: int
    shortfall_fen: int


class ActivityRepository:
    """Activities: insert, read, guarded status changes."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add(self, a: Activity, *, now: datetime) -> None:
        """Insert a new activity (pending approval)."""
        await self._session.execute(
            sa.insert(discount_activities).values(
                activity_id=a.activity_id,
                name=a.name,
                status=a.status.value,
                starts_at=a.starts_at,
                ends_at=a.ends_at,
                stages=list(a.stages),
                channels=list(a.channels),
                store_ids=None if a.store_ids is None else list(a.store_ids),
                threshold_fen=a.threshold_fen,
                rule=a.rule.as_json(),
                cap_per_store_day=a.cap_per_store_day,
                cap_per_customer=a.cap_per_customer,
                cap_total=a.cap_total,
                budget_fen=a.budget_fen,
                refund_returns_to_budget=a.refund_returns_to_budget,
                created_by=a.created_by,
                created_at=now,
                dealt_cards=0,
                dealt_fen=0,
                updated_at=now,
            )
        )

    async def get(self, activity_id: uuid.UUID, *, for_update: bool = False) -> Activity | None:
        """One activity, optionally row-locked."""
        query = sa.select(discount_activities).where(
            discount_activities.c.activity_id == activity_id
        )
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return activity_from_row(row) if row is not None else None

    async def page(self, *, status: str | None, limit: int, offset: int) -> list[Activity]:
        """Activities, newest first, one page."""
        query = sa.select(discount_activities).order_by(
            discount_activities.c.created_at.desc(), discount_activities.c.activity_id
        )
        if status is not None:
            query = query.where(discount_activities.c.status == status)
        query = query.limit(min(limit, LIST_LIMIT_MAX)).offset(offset)
        return [activity_from_row(r) for r in (await self._session.execute(query)).mappings()]

    async def live_in_window(self, starts_at: datetime, ends_at: datetime) -> list[Activity]:
        """Activities not cancelled whose window meets ``[starts_at, ends_at)``."""
        query = sa.select(discount_activities).where(
            discount_activities.c.status != ActivityStatus.CANCELLED.value,
            discount_activities.c.starts_at < ends_at,
            discount_activities.c.ends_at > starts_at,
        )
        return [activity_from_row(r) for r in (await self._session.execute(query)).mappings()]

    async def running(self, now: datetime) -> list[Activity]:
        """Approved activities whose window holds ``now``, oldest first."""
        query = (
            sa.select(discount_activities)
            .where(
                discount_activities.c.status == ActivityStatus.APPROVED.value,
                discount_activities.c.starts_at <= now,
                discount_activities.c.ends_at > now,
            )
            .order_by(discount_activities.c.starts_at, discount_activities.c.activity_id)
        )
        return [activity_from_row(r) for r in (await self._session.execute(query)).mappings()]

    async def lock_overlap_check(self) -> None:
        """Serialise creations so two overlapping activities cannot both pass the check."""
        await self._session.execute(
            sa.select(sa.func.pg_advisory_xact_lock(sa.func.hashtext("discount-activities")))
        )

    async def mark_approved(
        self, activity_id: uuid.UUID, *, by: str, now: datetime, dealing: Dealing
    ) -> Activity | None:
        """pending_approval → approved, with the seed and the dealing's totals."""
        row = await _guarded_transition(
            self._session,
            discount_activities.c.activity_id,
            activity_id,
            ActivityStatus.APPROVED.value,
            [ActivityStatus.PENDING_APPROVAL.value],
            now=now,
            values={
                "approved_by": by,
                "approved_at": now,
                "seed_hex": dealing.seed_hex,
                "dealt_cards": len(dealing.cards),
                "dealt_fen": dealing.total_fen,
                "dealing_sha256": dealing.sha256,
            },
        )
        return activity_from_row(row) if row is not None else None

    async def mark_cancelled(
        self, activity_id: uuid.UUID, *, by: str, now: datetime
    ) -> Activity | None:
        """pending_approval or approved → cancelled."""
        row = await _guarded_transition(
            self._session,
            discount_activities.c.activity_id,
            activity_id,
            ActivityStatus.CANCELLED.value,
            [ActivityStatus.PENDING_APPROVAL.value, ActivityStatus.APPROVED.value],
            now=now,
            values={"cancelled_by": by, "cancelled_at": now},
        )
        return activity_from_row(row) if row is not None else None


class DiscountPool:
    """The cards of every activity and the draws that hold them."""

    def __init__(self, session: AsyncSession) -> None:
        self._session = session

    async def add_cards(self, activity_id: uuid.UUID, cards: Sequence[Card], now: datetime) -> None:
        """Insert a dealing's cards (in chunks)."""
        rows = [
            {
                "activity_id": activity_id,
                "pool_key": c.pool_key,
                "seq": c.seq,
                "pool_day": c.pool_day,
                "store_id": c.store_id,
                "amount_fen": c.amount_fen,
                "status": CardStatus.AVAILABLE.value,
                "updated_at": now,
            }
            for c in cards
        ]
        for start in range(0, len(rows), INSERT_CHUNK_ROWS):
            await self._session.execute(
                sa.insert(discount_cards), rows[start : start + INSERT_CHUNK_ROWS]
            )

    async def cards(self, activity_id: uuid.UUID) -> list[Card]:
        """Every card of an activity as dealt (for the audit)."""
        query = sa.select(
            discount_cards.c.pool_key,
            discount_cards.c.seq,
            discount_cards.c.amount_fen,
            discount_cards.c.pool_day,
            discount_cards.c.store_id,
        ).where(discount_cards.c.activity_id == activity_id)
        rows = (await self._session.execute(query)).all()
        return [Card(r[0], r[1], r[2], r[3], r[4]) for r in rows]

    async def void_available(self, activity_id: uuid.UUID, now: datetime) -> int:
        """Take every undrawn card out of the pool (activity cancelled)."""
        result = await self._session.execute(
            sa.update(discount_cards)
            .where(
                discount_cards.c.activity_id == activity_id,
                discount_cards.c.status == CardStatus.AVAILABLE.value,
            )
            .values(status=CardStatus.VOID.value, updated_at=now)
        )
        return int(result.rowcount)  # type: ignore[attr-defined]  # CursorResult

    async def take(
        self, activity_id: uuid.UUID, pool_key: str, draw_id: uuid.UUID, now: datetime
    ) -> TakenCard | None:
        """Take the next available card of one pool (SKIP LOCKED), or None when it is empty."""
        return await self._take_first(
            [discount_cards.c.activity_id == activity_id, discount_cards.c.pool_key == pool_key],
            draw_id,
            now,
        )

    async def _take_first(
        self, where: list[sa.ColumnElement[bool]], draw_id: uuid.UUID, now: datetime
    ) -> TakenCard | None:
        """Take the first available card (by deal order) that meets ``where``, SKIP LOCKED."""
        free = (
            sa.select(discount_cards.c.card_id)
            .where(*where, discount_cards.c.status == CardStatus.AVAILABLE.value)
            .order_by(discount_cards.c.seq)
            .limit(1)
            .with_for_update(skip_locked=True)
            .cte("free")
        )
        statement = (
            sa.update(discount_cards)
            .where(discount_cards.c.card_id == free.c.card_id)
            .values(status=CardStatus.TAKEN.value, draw_id=draw_id, updated_at=now)
            .returning(discount_cards.c.card_id, discount_cards.c.amount_fen)
        )
        row = (await self._session.execute(statement)).first()
        return TakenCard(row[0], row[1]) if row is not None else None

    async def retake(self, card_id: int, draw_id: uuid.UUID, now: datetime) -> bool:
        """Take back a returned card for its own draw (a late success), if still free."""
        return await self._set_card(
            card_id, CardStatus.AVAILABLE, CardStatus.TAKEN, draw_id=draw_id, now=now
        )

    async def take_like(self, card_id: int, draw_id: uuid.UUID, now: datetime) -> int | None:
        """Take, for ``draw_id``, an available card of the same pool and amount as ``card_id``
        (a late success whose own card was drawn again); its id, or None when none is left.

        The replacement is a card dealt in advance like any other, so the caps and the budget
        still hold; SKIP LOCKED keeps it from a concurrent draw. It comes from the same
        activity: pools without a daily cap share the pool key ``*`` across activities, and
        another activity's card would spend another activity's budget."""
        c = discount_cards.c
        like = sa.select(c.activity_id, c.pool_key, c.amount_fen).where(c.card_id == card_id)
        row = (await self._session.execute(like)).first()
        if row is None:
            return None
        activity_id, pool_key, amount_fen = row
        where = [
            c.activity_id == activity_id,
            c.pool_key == pool_key,
            c.amount_fen == amount_fen,
        ]
        taken = await self._take_first(where, draw_id, now)
        if taken is None:
            return None
        await self._session.execute(
            sa.update(discount_draws)
            .where(discount_draws.c.draw_id == draw_id)
            .values(card_id=taken.card_id, updated_at=now)
        )
        return taken.card_id

    async def put_back(self, card_id: int, draw_id: uuid.UUID, now: datetime) -> bool:
        """Return a draw's card to the pool (payment failed, or refunded when the activity
        gives refunded discounts back to the budget)."""
        statement = (
            sa.update(discount_cards)
            .where(
                discount_cards.c.card_id == card_id,
                discount_cards.c.draw_id == draw_id,
                discount_cards.c.status == CardStatus.TAKEN.value,
            )
            .values(status=CardStatus.AVAILABLE.value, draw_id=None, updated_at=now)
        )
        result = await self._session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult

    async def _set_card(
        self,
        card_id: int,
        source: CardStatus,
        target: CardStatus,
        *,
        draw_id: uuid.UUID | None,
        now: datetime,
    ) -> bool:
        statement = (
            sa.update(discount_cards)
            .where(discount_cards.c.card_id == card_id, discount_cards.c.status == source.value)
            .values(status=target.value, draw_id=draw_id, updated_at=now)
        )
        result = await self._session.execute(statement)
        return bool(result.rowcount)  # type: ignore[attr-defined]  # CursorResult

    async def lock_customer(self, activity_id: uuid.UUID, customer_id: str) -> None:
        """Serialise one customer's draws of one activity (the per-customer cap)."""
        key = sa.func.hashtextextended(f"discount:{activity_id}:{customer_id}", 0)
        await self._session.execute(sa.select(sa.func.pg_advisory_xact_lock(key)))

    async def customer_holds(self, activity_id: uuid.UUID, customer_id: str) -> int:
        """How many discounts of the activity the customer holds (reserved or confirmed)."""
        query = sa.select(sa.func.count()).where(
            discount_draws.c.activity_id == activity_id,
            discount_draws.c.customer_id == customer_id,
            discount_draws.c.status.in_(HOLDING_STATUSES),
        )
        return int(await self._session.scalar(query) or 0)

    async def add_draw(self, d: Draw, *, now: datetime) -> None:
        """Record a new (reserved) draw."""
        await self._session.execute(
            sa.insert(discount_draws).values(
                draw_id=d.draw_id,
                activity_id=d.activity_id,
                card_id=d.card_id,
                payment_id=d.payment_id,
                discount_payment_id=d.discount_payment_id,
                order_id=d.order_id,
                billing_id=d.billing_id,
                customer_id=d.customer_id,
                store_id=d.store_id,
                amount_fen=d.amount_fen,
                status=d.status.value,
                drawn_at=d.drawn_at,
                updated_at=now,
            )
        )

    async def draw_of_payment(
        self, payment_id: uuid.UUID, *, for_update: bool = False
    ) -> Draw | None:
        """The draw of a channel payment."""
        query = sa.select(discount_draws).where(discount_draws.c.payment_id == payment_id)
        if for_update:
            query = query.with_for_update()
        row = (await self._session.execute(query)).mappings().first()
        return draw_from_row(row) if row is not None else None

    async def draws_of_payments(self, payment_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Draw]:
        """The draws of several channel payments, by payment id."""
        if not payment_ids:
            return {}
        query = sa.select(discount_draws).where(discount_draws.c.payment_id.in_(payment_ids))
        rows = (await self._session.execute(query)).mappings()
        return {r["payment_id"]: draw_from_row(r) for r in rows}

    async def move_draw(
        self,
        draw_id: uuid.UUID,
        target: DrawStatus,
        sources: Sequence[DrawStatus],
        *,
        now: datetime,
        values: dict[str, Any],
    ) -> Draw | None:
        """Guarded draw status change; the changed draw or None."""
        row = await _guarded_transition(
            self._session,
            discount_draws.c.draw_id,
            draw_id,
            target.value,
            [s.value for s in sources],
            now=now,
            values=values,
        )
        return draw_from_row(row) if row is not None else None

    async def totals(self, activity_id: uuid.UUID) -> dict[str, int]:
        """Reserved and spent (confirmed, or reversed but kept by the budget) amounts now."""
        d = discount_draws.c
        kept = sa.and_(d.status == DrawStatus.REVERSED.value, d.returned_to_budget.is_(False))
        spent = sa.or_(d.status == DrawStatus.CONFIRMED.value, kept)
        query = sa.select(
            _sum_where(d.status == DrawStatus.RESERVED.value),
            _sum_where(spent),
            _count_where(d.status == DrawStatus.RESERVED.value),
            _count_where(spent),
        ).where(d.activity_id == activity_id)
        row = (await self._session.execute(query)).one()
        available = await self._session.scalar(
            sa.select(sa.func.coalesce(sa.func.sum(discount_cards.c.amount_fen), 0)).where(
                discount_cards.c.activity_id == activity_id,
                discount_cards.c.status == CardStatus.AVAILABLE.value,
            )
        )
        return {
            "reserved_fen": int(row[0]),
            "spent_fen": int(row[1]),
            "reserved": int(row[2]),
            "spent": int(row[3]),
            "pool_available_fen": int(available or 0),
        }

    async def by_day(self, activity_id: uuid.UUID, tz: str) -> list[DayFigures]:
        """Drawn / confirmed / returned / reversed / shortfall per Asia/Shanghai day."""
        d = discount_draws.c
        figures: dict[date, dict[str, int]] = {}
        for kind, column in (
            ("drawn", d.drawn_at),
            ("confirmed", d.confirmed_at),
            ("returned", d.returned_at),
            ("reversed", d.reversed_at),
            ("shortfall", d.shortfall_at),
        ):
            day = sa.cast(sa.func.timezone(tz, column), sa.Date)
            query = (
                sa.select(day, sa.func.count(), sa.func.coalesce(sa.func.sum(d.amount_fen), 0))
                .where(d.activity_id == activity_id, column.is_not(None))
                .group_by(day)
            )
            for when, count, fen in (await self._session.execute(query)).all():
                row = figures.setdefault(when, {})
                row[kind], row[f"{kind}_fen"] = int(count), int(fen)
        return [
            DayFigures(
                day=when,
                drawn=v.get("drawn", 0),
                drawn_fen=v.get("drawn_fen", 0),
                confirmed=v.get("confirmed", 0),
                confirmed_fen=v.get("confirmed_fen", 0),
                returned=v.get("returned", 0),
                returned_fen=v.get("returned_fen", 0),
                reversed=v.get("reversed", 0),
                reversed_fen=v.get("reversed_fen", 0),
                shortfall=v.get("shortfall", 0),
                shortfall_fen=v.get("shortfall_fen", 0),
            )
            for when, v in sorted(figures.items())
        ]


def _sum_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.coalesce(
        sa.func.sum(sa.case((condition, discount_draws.c.amount_fen), else_=0)), 0
    )


def _count_where(condition: sa.ColumnElement[bool]) -> sa.ColumnElement[int]:
    return sa.func.count().filter(condition)
