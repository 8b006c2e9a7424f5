"""Discount activities: create (marketing), approve and deal the pool (finance approver),
cancel, read, audit the dealing, and report per day.

The seed is drawn from the operating system's CSPRNG at approval and stored with the
activity; the audit deals again from it and compares the fingerprint with the stored one and
with the cards in the pool.
"""

from __future__ import annotations

import logging
import secrets
import uuid
from dataclasses import dataclass
from datetime import date

from payment_gateway.adapters.discount_pool import DayFigures
from payment_gateway.domain.discounts import (
    SEED_BYTES,
    Activity,
    ActivityStatus,
    deal,
    dealing_digest,
    overlaps,
    validate_activity,
)
from payment_gateway.errors import (
    ActivityOverlap,
    ActivityStateConflict,
    DiscountRuleInvalid,
    UnknownActivity,
)
from payment_gateway.service_layer.context import Gateway
from payment_gateway.service_layer.unit_of_work import GatewayUnitOfWork

log = logging.getLogger(__name__)
REPORT_TZ = "Asia/Shanghai"


async def create_activity(gw: Gateway, activity: Activity) -> Activity:
    """Validate and record an activity (pending approval); overlapping ones are refused."""
    now = gw.now()
    startable = {c.value: r.methods for c, r in gw.routing.rules.channels.items() if r.startable}
    validate_activity(activity, now=now, startable=startable)
    async with gw.uow() as uow:
        await uow.activities.lock_overlap_check()
        for other in await uow.activities.live_in_window(activity.starts_at, activity.ends_at):
            if overlaps(activity, other):
                raise ActivityOverlap(
                    f"activity {other.activity_id} ({other.name!r}) already covers the same "
                    "window, stage, channel and store",
                    field="channels",
                )
        await uow.activities.add(activity, now=now)
        await uow.commit()
    log.info("discount activity created", extra={"activity_id": str(activity.activity_id)})
    return await get_activity(gw, activity.activity_id)


async def approve_activity(gw: Gateway, activity_id: uuid.UUID, *, by: str) -> Activity:
    """Approve a pending activity and deal its pool (one transaction)."""
    now = gw.now()
    async with gw.uow() as uow:
        activity = await _locked(uow, activity_id)
        if activity.status is not ActivityStatus.PENDING_APPROVAL:
            raise ActivityStateConflict(f"activity {activity_id} is {activity.status}")
        if activity.ends_at <= now:
            raise ActivityStateConflict(f"activity {activity_id} has already ended")
        if activity.created_by == by:
            raise ActivityStateConflict("the approver must not be the activity's creator")
        dealing = deal(activity, secrets.token_bytes(SEED_BYTES), since=now)
        if not dealing.cards:
            raise DiscountRuleInvalid("the budget deals no discount at all", field="budget_fen")
        await uow.discount_pool.add_cards(activity_id, dealing.cards, now)
        approved = await uow.activities.mark_approved(activity_id, by=by, now=now, dealing=dealing)
        assert approved is not None, "the row is locked"
        await uow.commit()
    log.info(
        "discount activity approved and dealt",
        extra={
            "activity_id": str(activity_id),
            "cards": len(dealing.cards),
            "dealt_fen": dealing.total_fen,
            "sha256": dealing.sha256,
        },
    )
    return approved


async def cancel_activity(gw: Gateway, activity_id: uuid.UUID, *, by: str) -> Activity:
    """Cancel an activity: its undrawn cards are voided; reserved draws still settle."""
    now = gw.now()
    async with gw.uow() as uow:
        activity = await _locked(uow, activity_id)
        cancelled = await uow.activities.mark_cancelled(activity_id, by=by, now=now)
        if cancelled is None:
            raise ActivityStateConflict(f"activity {activity_id} is {activity.status}")
        await uow.discount_pool.void_available(activity_id, now)
        await uow.commit()
    return cancelled


async def _locked(uow: GatewayUnitOfWork, activity_id: uuid.UUID) -> Activity:
    activity = await uow.activities.get(activity_id, for_update=True)
    if activity is None:
        raise UnknownActivity(f"discount activity {activity_id} not found")
    return activity


async def get_activity(gw: Gateway, activity_id: uuid.UUID) -> Activity:
    """One activity, or UnknownActivity."""
    async with gw.uow() as uow:
        activity = await uow.activities.get(activity_id)
    if activity is None:
        raise UnknownActivity(f"discount activity {activity_id} not found")
    return activity


async def list_activities(
    gw: Gateway, *, status: str | None, limit: int, offset: int
) -> list[Activity]:
    """One page of activities, newest first."""
    async with gw.uow() as uow:
        return await uow.activities.page(status=status, limit=limit, offset=offset)


@dataclass(frozen=True)
class DealingAudit:
    """The recorded dealing, dealt again from its seed."""

    activity: Activity
    cards: int
    dealt_fen: int
    recorded_sha256: str | None
    pool_sha256: str
    redealt_sha256: str | None

    @property
    def verified(self) -> bool:
        """The pool holds exactly the cards the recorded seed deals."""
        return self.recorded_sha256 == self.pool_sha256 == self.redealt_sha256


async def audit_dealing(gw: Gateway, activity_id: uuid.UUID) -> DealingAudit:
    """Recompute the dealing from the seed and compare it with the stored pool."""
    async with gw.uow() as uow:
        activity = await uow.activities.get(activity_id)
        if activity is None:
            raise UnknownActivity(f"discount activity {activity_id} not found")
        cards = await uow.discount_pool.cards(activity_id)
    redealt = None
    if activity.seed_hex is not None and activity.approved_at is not None:
        redealt = deal(activity, bytes.fromhex(activity.seed_hex), since=activity.approved_at)
    return DealingAudit(
        activity=activity,
        cards=len(cards),
        dealt_fen=sum(c.amount_fen for c in cards),
        recorded_sha256=activity.dealing_sha256,
        pool_sha256=dealing_digest(cards),
        redealt_sha256=redealt.sha256 if redealt is not None else None,
    )


@dataclass(frozen=True)
class ActivityReport:
    """Per day and in total: drawn, confirmed, returned, reversed; budget spent and left."""

    activity: Activity
    days: list[DayFigures]
    reserved_fen: int
    spent_fen: int
    pool_available_fen: int

    @property
    def budget_left_fen(self) -> int:
        """What the budget can still pay (reserved draws count as taken)."""
        return self.activity.budget_fen - self.spent_fen - self.reserved_fen


async def activity_report(
    gw: Gateway, activity_id: uuid.UUID, *, since: date | None, until: date | None
) -> ActivityReport:
    """The report of one activity (days in Asia/Shanghai, optionally bounded)."""
    async with gw.uow() as uow:
        activity = await uow.activities.get(activity_id)
        if activity is None:
            raise UnknownActivity(f"discount activity {activity_id} not found")
        days = await uow.discount_pool.by_day(activity_id, REPORT_TZ)
        totals = await uow.discount_pool.totals(activity_id)
    days = [
        d for d in days if (since is None or d.day >= since) and (until is None or d.day <= until)
    ]
    return ActivityReport(
        activity=activity,
        days=days,
        reserved_fen=totals["reserved_fen"],
        spent_fen=totals["spent_fen"],
        pool_available_fen=totals["pool_available_fen"],
    )
