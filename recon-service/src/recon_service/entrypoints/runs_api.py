"""HTTP API of recon-service (thin routers): reconciliation runs and discrepancies.

``POST /v1/recon-runs`` (finance; ``{"source", "date"}``) reconciles the latest statement of
the source and day → 201 ``{"run_id", "counts": {matched, amount_mismatch, status_mismatch,
fee_mismatch, channel_only, internal_only, carried_over}, …}``; 409 ``statement_missing``
when no statement is loaded; 422 for an unknown source.
"""

from __future__ import annotations

import time
import uuid
from datetime import date
from typing import Literal, get_args

from fastapi import APIRouter, Request, status

from recon_service.domain.recon import Outcome
from recon_service.domain.statement import statement_source
from recon_service.entrypoints.api import (
    PAGE_SIZE_DEFAULT,
    Finance,
    Limit,
    Offset,
    Reader,
    UoW,
    runtime_of,
    settings_of,
)
from recon_service.entrypoints.schemas import (
    DiscrepancyOut,
    DiscrepancyPageOut,
    ErrorOut,
    ReconResultOut,
    ReconResultPageOut,
    ReconRunIn,
    ReconRunOut,
    ReconRunPageOut,
)
from recon_service.entrypoints.sources import SourceQuery
from recon_service.service_layer import runs
from recon_service.service_layer.run_metrics import RunMetrics

router = APIRouter(prefix="/v1", tags=["recon"])
OutcomeParam = Literal[
    "matched", "amount_mismatch", "status_mismatch", "fee_mismatch", "channel_only",
    "internal_only", "carried_over", "unsettled",
]  # fmt: skip
assert set(get_args(OutcomeParam)) == {o.value for o in Outcome}


@router.post(
    "/recon-runs",
    response_model=ReconRunOut,
    status_code=status.HTTP_201_CREATED,
    responses={409: {"model": ErrorOut}, 422: {"model": ErrorOut}},
)
async def start_run(
    body: ReconRunIn, request: Request, uow: UoW, principal: Finance
) -> ReconRunOut:
    """Reconcile one source and day (re-running a day gives the same result)."""
    settings = settings_of(request)
    parsed = statement_source(body.source)
    started = time.perf_counter()
    run = await runs.run_recon(
        uow,
        parsed,
        body.date,
        settings.recon_policy(),
        requested_by=principal.subject,
    )
    registry = runtime_of(request).metrics.registry
    RunMetrics.of(registry).duration_s.labels(body.source).observe(time.perf_counter() - started)
    return ReconRunOut.of(run)


@router.get("/recon-runs", response_model=ReconRunPageOut)
async def list_runs(
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    date: date | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> ReconRunPageOut:
    """Runs, newest day first and the latest run of a day first; paginated."""
    items, total = await runs.list_runs(
        uow, source=source.value if source else None, recon_date=date, limit=limit, offset=offset
    )
    return ReconRunPageOut(
        items=[ReconRunOut.of(r) for r in items], total=total, limit=limit, offset=offset
    )


@router.get("/recon-runs/{run_id}", response_model=ReconRunOut)
async def get_run(run_id: uuid.UUID, uow: UoW, _: Reader) -> ReconRunOut:
    """One run with its counts."""
    return ReconRunOut.of(await runs.get_run(uow, run_id))


@router.get("/recon-runs/{run_id}/results", response_model=ReconResultPageOut)
async def run_results(
    run_id: uuid.UUID,
    uow: UoW,
    _: Reader,
    outcome: OutcomeParam | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> ReconResultPageOut:
    """What the run decided, line by line and record by record; paginated."""
    items, total = await runs.results(uow, run_id, outcome=outcome, limit=limit, offset=offset)
    return ReconResultPageOut(
        run_id=run_id,
        items=[ReconResultOut.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.get("/discrepancies", response_model=DiscrepancyPageOut)
async def list_discrepancies(
    request: Request,
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    date: date | None = None,
    status: Literal["open", "cleared", "waiting", "pending_approval", "resolved"] | None = "open",
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> DiscrepancyPageOut:
    """Discrepancies (差错), open ones by default, newest day first; paginated. Each carries
    ``amount_at_stake_fen``, ``age_days`` and its ageing ``priority``."""
    items, total = await runs.discrepancies(
        uow,
        source=source.value if source else None,
        recon_date=date,
        status=status,
        limit=limit,
        offset=offset,
        ageing=settings_of(request).ageing_policy(),
    )
    return DiscrepancyPageOut(
        items=[DiscrepancyOut.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )
