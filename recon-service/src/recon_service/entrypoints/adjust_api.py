"""HTTP API of recon-service (thin routers): adjustments (调差) with the second approver,
the audit log and its verification, closing and reopening a source-day, the figures.

| endpoint | roles |
|---|---|
| ``POST /v1/discrepancies/{id}/resolve`` ``{"action","reason","linked_ref"?}`` | finance |
| ``GET /v1/adjustments?status=&discrepancy_id=`` | finance, finance-approver |
| ``POST /v1/adjustments/{id}/approve`` / ``…/reject`` ``{"reason"?}`` | finance-approver |
| ``GET /v1/audit-log?subject_id=&after_seq=&limit=``, ``GET /v1/audit-log/verify`` | both |
| ``POST /v1/recon-days/{source}/{date}/close`` | finance |
| ``POST /v1/recon-days/{source}/{date}/reopen`` ``{"reason"}`` | finance-approver |
| ``GET /v1/recon-figures?source=&date_from=&date_to=`` | both |
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request, status

from otd_shared.auth import Principal, Role, require_roles
from recon_service.adapters.gateway_client import GatewayCorrections
from recon_service.domain.adjustments import Action
from recon_service.domain.statement import business_date_of
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
    AdjustmentOut,
    AdjustmentPageOut,
    AuditEntryOut,
    AuditVerifyOut,
    DayClosureOut,
    DecisionIn,
    ErrorOut,
    FiguresOut,
    ReopenIn,
    ResolveIn,
    SettlementOut,
)
from recon_service.entrypoints.sources import SourcePath, SourceQuery
from recon_service.service_layer import adjustments
from recon_service.service_layer.figures import figures
from recon_service.service_layer.metrics import ReconMetrics
from recon_service.service_layer.settlements import settlements

router = APIRouter(prefix="/v1", tags=["recon adjustments"])


def corrector_of(request: Request) -> adjustments.PaymentCorrector:
    """The gateway's payment corrections, with recon's service token (a dependency, so a
    test may put a fake gateway in its place)."""
    settings = settings_of(request)
    return GatewayCorrections(
        settings.gateway_base_url(),
        settings.gateway_bearer(),
        timeout_s=settings.gateway_timeout_s,
    )


Corrector = Annotated[adjustments.PaymentCorrector, Depends(corrector_of)]


Approver = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER))]
FIGURES_DAYS_DEFAULT = 30
ERRORS: dict[int | str, dict[str, object]] = {
    403: {"model": ErrorOut, "description": "Wrong role, or the approver is the requester."},
    404: {"model": ErrorOut},
    409: {
        "model": ErrorOut,
        "description": "Not open / not pending / the day is closed / no payment or refund to"
        " correct / a refund line of 0 fen / the gateway refused the correction.",
    },
    422: {"model": ErrorOut},
    503: {"model": ErrorOut, "description": "The gateway did not answer: nothing changed."},
}


@router.post(
    "/discrepancies/{discrepancy_id}/resolve",
    response_model=AdjustmentOut,
    status_code=status.HTTP_201_CREATED,
    responses=ERRORS,
)
async def resolve(
    discrepancy_id: uuid.UUID,
    body: ResolveIn,
    request: Request,
    uow: UoW,
    who: Finance,
    corrector: Corrector,
) -> AdjustmentOut:
    """Resolve with a reason and an action; above the approval threshold the adjustment waits
    for a finance-approver (``pending_approval``), else it is applied (and posted) at once."""
    found = await adjustments.resolve(
        uow,
        adjustments.Resolution(
            discrepancy_id=discrepancy_id,
            action=Action(body.action),
            reason=body.reason,
            requested_by=who.subject,
            linked_ref=body.linked_ref,
        ),
        approval_threshold_fen=settings_of(request).adjustment_approval_threshold_fen,
        corrector=corrector,
    )
    return AdjustmentOut.model_validate(found)


@router.get("/adjustments", response_model=AdjustmentPageOut)
async def list_adjustments(
    uow: UoW,
    _: Reader,
    status: Literal["pending_approval", "applied", "rejected"] | None = None,
    discrepancy_id: uuid.UUID | None = None,
    limit: Limit = PAGE_SIZE_DEFAULT,
    offset: Offset = 0,
) -> AdjustmentPageOut:
    """Adjustments, newest first (``status=pending_approval``: the approver's queue)."""
    async with uow:
        items, total = await uow.adjustments.page(
            status=status, discrepancy_id=discrepancy_id, limit=limit, offset=offset
        )
    return AdjustmentPageOut(
        items=[AdjustmentOut.model_validate(i) for i in items],
        total=total,
        limit=limit,
        offset=offset,
    )


@router.post("/adjustments/{adjustment_id}/approve", response_model=AdjustmentOut, responses=ERRORS)
async def approve(
    adjustment_id: uuid.UUID, body: DecisionIn, uow: UoW, who: Approver, corrector: Corrector
) -> AdjustmentOut:
    """Approve a pending adjustment (never by its requester): applied and posted (an
    accept_channel corrects the payment through the gateway)."""
    found = await adjustments.decide(
        uow,
        adjustment_id,
        approve=True,
        approver=who.subject,
        reason=body.reason,
        corrector=corrector,
    )
    return AdjustmentOut.model_validate(found)


@router.post("/adjustments/{adjustment_id}/reject", response_model=AdjustmentOut, responses=ERRORS)
async def reject(
    adjustment_id: uuid.UUID, body: DecisionIn, uow: UoW, who: Approver, corrector: Corrector
) -> AdjustmentOut:
    """Reject a pending adjustment: the discrepancy is open again."""
    found = await adjustments.decide(
        uow,
        adjustment_id,
        approve=False,
        approver=who.subject,
        reason=body.reason,
        corrector=corrector,
    )
    return AdjustmentOut.model_validate(found)


@router.get("/audit-log", response_model=list[AuditEntryOut])
async def audit_log(
    uow: UoW,
    _: Reader,
    subject_id: str | None = Query(default=None, max_length=128),
    after_seq: Annotated[int, Query(ge=0)] = 0,
    limit: Limit = PAGE_SIZE_DEFAULT,
) -> list[AuditEntryOut]:
    """Audit entries in chain order; page on with ``after_seq`` = the last ``seq``."""
    async with uow:
        entries = await uow.adjustments.audit_entries(
            subject_id=subject_id, after_seq=after_seq, limit=limit
        )
    return [AuditEntryOut.model_validate(e) for e in entries]


@router.get("/audit-log/verify", response_model=AuditVerifyOut)
async def verify_audit_log(uow: UoW, _: Reader) -> AuditVerifyOut:
    """Recompute the chain from the first entry: ``ok`` false names the first broken seq."""
    return AuditVerifyOut(**await adjustments.verify_audit(uow))


@router.post("/recon-days/{source}/{day}/close", response_model=DayClosureOut, responses=ERRORS)
async def close_day(source: SourcePath, day: date, uow: UoW, who: Finance) -> DayClosureOut:
    """Close a source-day: 409 ``day_has_open_discrepancies`` while anything is unresolved."""
    return DayClosureOut.model_validate(
        await adjustments.close_day(uow, source.value, day, who.subject)
    )


@router.post("/recon-days/{source}/{day}/reopen", response_model=DayClosureOut, responses=ERRORS)
async def reopen_day(
    source: SourcePath, day: date, body: ReopenIn, uow: UoW, who: Approver
) -> DayClosureOut:
    """Reopen a closed day (finance-approver only, with a reason)."""
    return DayClosureOut.model_validate(
        await adjustments.reopen_day(uow, source.value, day, who.subject, body.reason)
    )


@router.get("/recon-figures", response_model=FiguresOut)
async def recon_figures(
    request: Request,
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    date_from: date | None = None,
    date_to: date | None = None,
) -> FiguresOut:
    """Match rate by count and by money over the days' current runs, money at risk, open
    discrepancies by priority and older than 7 days (default: the last 30 days)."""
    today = business_date_of(datetime.now(UTC))
    last = date_to or today
    first = date_from or last - timedelta(days=FIGURES_DAYS_DEFAULT)
    found = await figures(
        uow,
        source=source.value if source else None,
        date_from=first,
        date_to=last,
        today=today,
        ageing=settings_of(request).ageing_policy(),
        metrics=ReconMetrics.of(runtime_of(request).metrics.registry),
    )
    return FiguresOut(**found)


@router.get("/settlements", response_model=list[SettlementOut], tags=["recon statements"])
async def list_settlements(
    request: Request,
    uow: UoW,
    _: Reader,
    source: SourceQuery,
    date_from: date | None = None,
    date_to: date | None = None,
) -> list[SettlementOut]:
    """Per source and statement day (latest version): counts and sums of settled payments,
    refunds and fees, the net to our bank, and the bank statement's credits from the
    channel matched against it (default: the last 30 days)."""
    settings = settings_of(request)
    last = date_to or business_date_of(datetime.now(UTC))
    first = date_from or last - timedelta(days=FIGURES_DAYS_DEFAULT)
    rows = await settlements(
        uow,
        source=source.value if source else None,
        date_from=first,
        date_to=last,
        payer_names=settings.settlement_payer_names,
        lag_days=settings.settlement_lag_days,
    )
    return [SettlementOut.model_validate(r) for r in rows]
