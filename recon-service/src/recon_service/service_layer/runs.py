"""Reconciliation runs: one (source, day) at a time, in one transaction (serialised per
source), emitting ReconCompleted with the counts. Re-running a day replaces the day's current
run; its discrepancies are found again, not created again. A re-run when nothing the current
run read has changed (statement, records, neighbouring days, policy: its inputs digest)
answers the current run, marked ``unchanged``, without redoing it."""

from __future__ import annotations

import logging
import uuid
from dataclasses import replace
from datetime import UTC, date, datetime

from otd_shared.events import ReconCompleted
from recon_service.adapters.run_repo import RunRecord
from recon_service.domain.adjustments import AgeingPolicy, amount_at_stake_fen
from recon_service.domain.errors import DayClosed, RunNotFound, StatementMissing
from recon_service.domain.recon import ReconPolicy, RunWindow, counts_of
from recon_service.domain.statement import Source, business_date_of, statement_source
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

log = logging.getLogger(__name__)


async def run_recon(
    uow: ReconUnitOfWork, source: Source, day: date, policy: ReconPolicy, *, requested_by: str
) -> RunRecord:
    """Reconcile the latest statement of (source, day); StatementMissing (409) without one,
    DayClosed (409) when the day is closed; UnknownSource (422) for a channel without
    statements."""
    statement_source(source.value)
    async with uow:
        await uow.runs.lock_source(source.value)
        closure = await uow.adjustments.closure(source.value, day)
        if closure is not None and closure["status"] == "closed":
            raise DayClosed(f"{source.value} {day.isoformat()} is closed; reopen it first")
        latest = await uow.runs.latest_statement(source.value, day)
        if latest is None:
            raise StatementMissing(f"no {source.value} statement is loaded for {day.isoformat()}")
        statement_id, version = latest
        run = RunRecord(
            run_id=uuid.uuid4(),
            source=source.value,
            recon_date=day,
            statement_id=statement_id,
            requested_by=requested_by,
            counts={},
            settled_fen=0,
            fee_fen=0,
        )
        window = RunWindow.of(day, policy, source.value)
        run = replace(run, inputs_digest=await uow.runs.inputs_digest(run, window))
        current = await uow.runs.current_run(source.value, day)
        if current is not None and current.inputs_digest == run.inputs_digest:
            # Nothing the current run read has changed: it is the answer (same results,
            # same discrepancies, its ReconCompleted already sent).
            log.info("recon run of %s %s unchanged: current run %s", source.value,
                     day.isoformat(), current.run_id)  # fmt: skip
            return replace(current, unchanged=True)
        found = await uow.runs.match(run, window)
        gross_fen, fee_fen = await uow.runs.settlement(statement_id)
        finished = await uow.runs.finish(
            replace(
                run,
                counts=counts_of(found),
                gross_fen=gross_fen,
                settled_fen=gross_fen - fee_fen,
                fee_fen=fee_fen,
                statement_version=version,
            )
        )
        await uow.emit(
            ReconCompleted(
                run_id=str(finished.run_id),
                source=source.value,
                recon_date=day,
                counts=finished.counts,
                settled_fen=finished.settled_fen,
                fee_fen=finished.fee_fen,
                gross_fen=finished.gross_fen,
                statement_id=str(finished.statement_id),
                statement_version=finished.statement_version,
            )
        )
        await uow.commit()
    return finished


async def get_run(uow: ReconUnitOfWork, run_id: uuid.UUID) -> RunRecord:
    """One run, or RunNotFound (404)."""
    async with uow:
        found = await uow.runs.get(run_id)
    if found is None:
        raise RunNotFound(f"reconciliation run {run_id} not found")
    return found


async def list_runs(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    recon_date: date | None,
    limit: int,
    offset: int,
) -> tuple[list[RunRecord], int]:
    """Runs by source and day, newest first."""
    async with uow:
        return await uow.runs.runs(source=source, recon_date=recon_date, limit=limit, offset=offset)


async def results(
    uow: ReconUnitOfWork, run_id: uuid.UUID, *, outcome: str | None, limit: int, offset: int
) -> tuple[list[dict[str, object]], int]:
    """A run's results, or RunNotFound (404)."""
    async with uow:
        if await uow.runs.get(run_id) is None:
            raise RunNotFound(f"reconciliation run {run_id} not found")
        return await uow.runs.results(run_id, outcome=outcome, limit=limit, offset=offset)


async def discrepancies(
    uow: ReconUnitOfWork,
    *,
    source: str | None,
    recon_date: date | None,
    status: str | None,
    limit: int,
    offset: int,
    ageing: AgeingPolicy | None = None,
    today: date | None = None,
) -> tuple[list[dict[str, object]], int]:
    """Discrepancies by source, day and status, each with its amount at stake, age and
    ageing priority."""
    async with uow:
        items, total = await uow.runs.discrepancies(
            source=source, recon_date=recon_date, status=status, limit=limit, offset=offset
        )
    policy = ageing or AgeingPolicy()
    day = today or business_date_of(datetime.now(UTC))
    for item in items:
        stake = amount_at_stake_fen(item)
        item.update(
            amount_at_stake_fen=stake,
            age_days=(day - item["recon_date"]).days,
            priority=policy.priority(stake, item["recon_date"], day).value,
        )
    return items, total
