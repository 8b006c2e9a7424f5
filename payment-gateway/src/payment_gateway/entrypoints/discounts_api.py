"""HTTP API of the random instant discount activities (thin: validate → command → handler).

Marketing creates and cancels activities; a finance approver approves one (its pool is dealt
then) and may cancel it; finance reads. Every change is guarded, so a repeated approve or
cancel is a 409 that changes nothing.
"""

from __future__ import annotations

import uuid
from datetime import date
from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from otd_shared.auth import Principal, Role, require_roles
from payment_gateway.domain.discounts import ActivityStatus
from payment_gateway.entrypoints.api import Gw
from payment_gateway.entrypoints.discount_schemas import (
    ActivityBody,
    ActivityOut,
    DealingOut,
    ReportOut,
)
from payment_gateway.service_layer import discounts

PAGE_SIZE_DEFAULT = 50
PAGE_SIZE_MAX = 200

router = APIRouter(prefix="/v1/discount-activities", tags=["discounts"])
Marketing = Annotated[Principal, Depends(require_roles(Role.MARKETING))]
Approver = Annotated[Principal, Depends(require_roles(Role.FINANCE_APPROVER))]
Canceller = Annotated[Principal, Depends(require_roles(Role.MARKETING, Role.FINANCE_APPROVER))]
Auditor = Annotated[Principal, Depends(require_roles(Role.FINANCE, Role.FINANCE_APPROVER))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.MARKETING, Role.FINANCE, Role.FINANCE_APPROVER))
]


@router.post(
    "", status_code=status.HTTP_201_CREATED, response_model=ActivityOut, responses={422: {}}
)
async def create_activity(body: ActivityBody, gw: Gw, principal: Marketing) -> ActivityOut:
    """Create an activity (pending approval). 422 ``invalid_discount_activity`` for a rule
    that cannot work (a discount reaching the threshold, a budget the caps can never spend …),
    422 ``activity_overlap`` when another activity covers the same scope."""
    activity = body.to_activity(actor=principal.subject)
    return ActivityOut.of(await discounts.create_activity(gw, activity))


@router.get("", response_model=list[ActivityOut])
async def list_activities(
    gw: Gw,
    _: Reader,
    status_: Annotated[ActivityStatus | None, Query(alias="status")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_SIZE_MAX)] = PAGE_SIZE_DEFAULT,
    offset: Annotated[int, Query(ge=0, le=10**6)] = 0,
) -> list[ActivityOut]:
    """Activities, newest first (``limit``/``offset`` pages)."""
    found = await discounts.list_activities(
        gw, status=status_.value if status_ else None, limit=limit, offset=offset
    )
    return [ActivityOut.of(a) for a in found]


@router.get("/{activity_id}", response_model=ActivityOut, responses={404: {}})
async def get_activity(activity_id: uuid.UUID, gw: Gw, _: Reader) -> ActivityOut:
    """One activity."""
    return ActivityOut.of(await discounts.get_activity(gw, activity_id))


@router.post("/{activity_id}/approve", response_model=ActivityOut, responses={404: {}, 409: {}})
async def approve_activity(activity_id: uuid.UUID, gw: Gw, principal: Approver) -> ActivityOut:
    """Approve a pending activity: its pool is dealt now with a fresh recorded seed."""
    return ActivityOut.of(await discounts.approve_activity(gw, activity_id, by=principal.subject))


@router.post("/{activity_id}/cancel", response_model=ActivityOut, responses={404: {}, 409: {}})
async def cancel_activity(activity_id: uuid.UUID, gw: Gw, principal: Canceller) -> ActivityOut:
    """Cancel an activity: undrawn cards are voided; discounts already drawn still settle."""
    return ActivityOut.of(await discounts.cancel_activity(gw, activity_id, by=principal.subject))


@router.get("/{activity_id}/dealing", response_model=DealingOut, responses={404: {}})
async def dealing(activity_id: uuid.UUID, gw: Gw, _: Auditor) -> DealingOut:
    """The seed and fingerprint of the dealing, re-dealt from the seed and compared with the
    cards in the pool (``verified``)."""
    return DealingOut.of(await discounts.audit_dealing(gw, activity_id))


@router.get("/{activity_id}/report", response_model=ReportOut, responses={404: {}})
async def report(
    activity_id: uuid.UUID,
    gw: Gw,
    _: Reader,
    from_: Annotated[date | None, Query(alias="from")] = None,
    to: Annotated[date | None, Query()] = None,
) -> ReportOut:
    """Per Asia/Shanghai day: drawn, confirmed, returned, reversed (count and fen); in total:
    budget spent, reserved and left."""
    found = await discounts.activity_report(gw, activity_id, since=from_, until=to)
    return ReportOut.of(found)
