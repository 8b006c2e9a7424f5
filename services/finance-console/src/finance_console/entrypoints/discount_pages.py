"""Discount report pages (issue 14): the activities, and per activity and day what was drawn,
confirmed, returned and reversed with the budget spent and left (an ECharts chart and a
table); a finance-approver approves a pending activity (its pool is dealt then), marketing or
a finance-approver cancels one. Activities are created through the gateway's API."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from finance_console.domain.access import APPROVER_ROLES, DISCOUNT_CANCEL_ROLES, page
from finance_console.domain.discount_report import chart_series, report_days
from finance_console.entrypoints.web import SignedIn, allow, apis_of, check_csrf, render
from finance_console.errors import InvalidForm

router = APIRouter(include_in_schema=False)
GATEWAY = "payment-gateway"
BASE = "/v1/discount-activities"
PAGE_SIZE = 50
STATUSES = ("pending_approval", "approved", "cancelled")
DECISIONS = {"approve": APPROVER_ROLES, "cancel": DISCOUNT_CANCEL_ROLES}


@router.get("/discounts")
async def activities(
    request: Request,
    session: SignedIn,
    status: Annotated[str, Query(pattern="^(|" + "|".join(STATUSES) + ")$")] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """The discount activities, newest first."""
    allow(session, page("/discounts").roles)
    params: dict[str, Any] = {"limit": PAGE_SIZE, "offset": offset}
    if status:
        params["status"] = status
    found = await apis_of(request).get(session.user.role.value, GATEWAY, BASE, params)
    return render(
        request,
        "discounts.html",
        {
            "activities": found,
            "status": status,
            "statuses": STATUSES,
            "offset": offset,
            "page_size": PAGE_SIZE,
            "can_approve": session.user.role in APPROVER_ROLES,
        },
    )


@router.get("/discounts/{activity_id}")
async def report_page(
    request: Request,
    session: SignedIn,
    activity_id: uuid.UUID,
    since: Annotated[date | None, Query(alias="from")] = None,
    until: Annotated[date | None, Query(alias="to")] = None,
) -> HTMLResponse:
    """One activity: its rule, the per-day report with the budget, the chart."""
    allow(session, page("/discounts").roles)
    if since and until and since > until:
        raise InvalidForm("from: the first day comes after the last")
    role = session.user.role.value
    params = {k: v.isoformat() for k, v in (("from", since), ("to", until)) if v is not None}
    activity, report = await asyncio.gather(
        apis_of(request).get(role, GATEWAY, f"{BASE}/{activity_id}"),
        apis_of(request).get(role, GATEWAY, f"{BASE}/{activity_id}/report", params),
    )
    days = report_days(report, bool(activity["refund_returns_to_budget"]))
    return render(
        request,
        "discount.html",
        {
            "a": activity,
            "report": report,
            "days": days,
            "chart": chart_series(days),
            "since": since,
            "until": until,
            "can_approve": session.user.role in APPROVER_ROLES,
            "can_cancel": session.user.role in DISCOUNT_CANCEL_ROLES,
        },
    )


@router.post("/discounts/{activity_id}/{decision}")
async def decide(
    request: Request,
    session: SignedIn,
    activity_id: uuid.UUID,
    decision: str,
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve (finance-approver: the pool is dealt now) or cancel an activity."""
    check_csrf(session, csrf_token)
    roles = DECISIONS.get(decision)
    if roles is None:
        raise InvalidForm(f"no decision {decision!r} on a discount activity")
    allow(session, roles)
    await apis_of(request).post(
        session.user.role.value, GATEWAY, f"{BASE}/{activity_id}/{decision}"
    )
    return RedirectResponse(f"/discounts/{activity_id}", status_code=303)
