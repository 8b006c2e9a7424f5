"""Leases: the job that moves schedules on, early payoff, and the schedule view.

``LeaseJob`` runs with billing's other jobs: every poll it finds leases with an installment
whose date came (→ BillingDue, pushed) or whose grace period ended unpaid (→
InstallmentOverdue, pushed) and advances each under its fund order row lock, so replicas
may run it side by side. ``pay_off`` is the app backend's early payoff.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from billing_service.adapters.fund_order_repo import FundOrderRepository, as_uuid
from billing_service.adapters.lease_repo import (
    CHANGES_LIMIT_MAX,
    LeaseRepository,
    ScheduleChangeRecord,
)
from billing_service.config import BillingSettings
from billing_service.domain import LeaseFundOrder, LeaseRules
from billing_service.domain.errors import FundOrderNotFound, IllegalTransition
from billing_service.service_layer.clock import utc_now
from billing_service.service_layer.event_handlers import ID_NAMESPACE
from billing_service.service_layer.jobs import sleep_or_stop
from billing_service.service_layer.messages import publish
from billing_service.service_layer.unit_of_work import BillingUnitOfWork
from otd_shared.db import SessionFactory
from otd_shared.outbox import OutboxWriter

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LeaseView:
    """A lease's fund order and its recorded schedule changes."""

    fund: LeaseFundOrder
    changes: list[ScheduleChangeRecord]


class LeaseJob:
    """Falls installments due on their dates and marks late ones overdue."""

    def __init__(
        self, sessions: SessionFactory, outbox: OutboxWriter, settings: BillingSettings
    ) -> None:
        self._sessions = sessions
        self._outbox = outbox
        self._settings = settings
        self._rules = settings.lease_rules()

    async def run(self, stop: asyncio.Event) -> None:
        """Advance leases until ``stop``, once per poll interval."""
        while not stop.is_set():
            await self.advance_due(now=utc_now())
            await sleep_or_stop(stop, self._settings.lease_poll_interval_s)

    async def advance_due(self, *, now: datetime) -> int:
        """One round: how many leases changed."""
        grace = timedelta(days=self._rules.grace_days)
        async with self._sessions() as session:
            order_ids = await LeaseRepository(session).leases_needing_attention(
                now=now, grace=grace, limit=self._settings.lease_batch_size
            )
        changed = 0
        for order_id in order_ids:
            async with self._sessions() as session, session.begin():
                changed += await self._advance(session, order_id, now)
        return changed

    async def _advance(self, session: AsyncSession, order_id: str, now: datetime) -> int:
        repo = FundOrderRepository(session, self._settings.reminder_schedule())
        fund = await repo.get_by_order(order_id, for_update=True)
        if not isinstance(fund, LeaseFundOrder) or not fund.needs_attention(
            at=now, rules=self._rules
        ):
            return 0
        fund.advance(at=now, rules=self._rules)
        await repo.save(fund, at=now)
        await publish(session, self._outbox, fund.pull_events(), fund=fund, at=now)
        return 1


async def pay_off(
    uow: BillingUnitOfWork, order_id: str, *, actor: str, at: datetime | None = None
) -> LeaseView:
    """Early payoff: the unpaid rest becomes one payoff billing due now (BillingDue)."""
    at = at or utc_now()
    async with uow:
        fund = await _lease(uow, order_id, for_update=True)
        payoff_id = str(uuid.uuid5(ID_NAMESPACE, f"{order_id}/payoff"))
        fund.pay_off(billing_id=payoff_id, at=at, actor=actor)
        await uow.fund_orders.save(fund, at=at)
        await uow.publish(fund.pull_events(), fund=fund, at=at)
        await uow.commit()
    return await lease_view(uow, order_id)


async def lease_view(uow: BillingUnitOfWork, order_id: str) -> LeaseView:
    """A lease with its schedule changes; 404 for an unknown order, 409 for a non-lease."""
    async with uow:
        fund = await _lease(uow, order_id, for_update=False)
        key = as_uuid(order_id)
        assert key is not None
        changes = await LeaseRepository(uow.session).changes(key, limit=CHANGES_LIMIT_MAX)
    return LeaseView(fund, changes)


async def _lease(uow: BillingUnitOfWork, order_id: str, *, for_update: bool) -> LeaseFundOrder:
    fund = await uow.fund_orders.get_by_order(order_id, for_update=for_update)
    if fund is None:
        raise FundOrderNotFound(order_id)
    if not isinstance(fund, LeaseFundOrder):
        raise IllegalTransition(fund.ENTITY, fund.id, "not a lease", "lease", "not a lease")
    return fund


__all__ = ["LeaseJob", "LeaseRules", "LeaseView", "lease_view", "pay_off"]
