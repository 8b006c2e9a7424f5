"""The daily job (14:30 Asia/Shanghai): fetch the previous day's statements from the channels
that have a download API, then reconcile every source of the day in the fixed order. The k8s
CronJob runs it once (``python -m recon_service recon-daily``); under ``make run`` the
``DailyScheduler`` background job runs the same function when it is due, and again every
``retry_s`` while a fetched source is still missing, until the day's deadline passes."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date

from recon_service.domain.errors import DayClosed, StatementMissing
from recon_service.domain.fetch import FetchPolicy, FetchStatus
from recon_service.domain.recon import ReconPolicy
from recon_service.domain.statement import sources_in_processing_order
from recon_service.service_layer.fetch import Clock, FetchDeps, fetch_day
from recon_service.service_layer.runs import run_recon
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

log = logging.getLogger(__name__)
REQUESTED_BY = "recon-daily"
DONE_FETCH_STATUSES = frozenset({FetchStatus.LOADED.value, FetchStatus.ALREADY_LOADED.value})


async def reconcile_day(
    uow: Callable[[], ReconUnitOfWork], policy: ReconPolicy, day: date
) -> list[dict[str, object]]:
    """Reconcile every source of one day in the fixed order; one report per source."""
    reports: list[dict[str, object]] = []
    for source in sources_in_processing_order():
        report: dict[str, object] = {"source": source.value, "date": day.isoformat()}
        try:
            run = await run_recon(uow(), source, day, policy, requested_by=REQUESTED_BY)
        except StatementMissing:
            report["status"] = "statement_missing"
        except DayClosed:
            report["status"] = "closed"
        else:
            report.update(status="reconciled", run_id=str(run.run_id), counts=run.counts)
        reports.append(report)
    return reports


async def daily_job(
    deps: FetchDeps, policy: ReconPolicy, day: date
) -> dict[str, list[dict[str, object]]]:
    """Fetch, then reconcile, one business day."""
    fetched = await fetch_day(deps, day)
    reconciled = await reconcile_day(deps.uow, policy, day)
    return {"fetched": fetched, "reconciled": reconciled}


@dataclass
class DailyScheduler:
    """Runs ``job(day)`` once the day is due, retrying while a fetch is missing."""

    job: Callable[[date], Awaitable[dict[str, list[dict[str, object]]]]]
    policy: FetchPolicy
    clock: Clock
    poll_s: float
    retry_s: float
    _done: date | None = None
    _next_try_s: float = 0.0

    async def run(self, stop: asyncio.Event) -> None:
        """Until ``stop``: check every ``poll_s`` whether the job is due."""
        while not stop.is_set():
            await self.tick()
            try:
                await asyncio.wait_for(stop.wait(), timeout=self.poll_s)
            except TimeoutError:
                continue

    async def tick(self) -> date | None:
        """Run the job if it is due now; returns the day it ran for."""
        now = self.clock.now()
        day = self.policy.due_day(now)
        if day is None or day == self._done or now.timestamp() < self._next_try_s:
            return None
        result = await self.job(day)
        missing = [r for r in result["fetched"] if r["status"] not in DONE_FETCH_STATUSES]
        late = self.policy.is_late(day, now)
        if not missing or late:
            self._done = day
        else:
            self._next_try_s = now.timestamp() + self.retry_s
        log.info(
            "daily job ran",
            extra={"day": day.isoformat(), "missing": [r["source"] for r in missing]},
        )
        return day
