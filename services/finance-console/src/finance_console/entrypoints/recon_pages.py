"""Discrepancy queue pages: filter, open one (both sides, the statement line, adjustments and
the audit trail), resolve with a reason (finance), approve or reject as the second person
(finance-approver)."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from finance_console.domain.access import APPROVER_ROLES, RESOLVE_ROLES, page
from finance_console.domain.recon_day import SOURCE_LABELS, SOURCES, money_at_risk_fen
from finance_console.entrypoints.web import (
    SignedIn,
    allow,
    apis_of,
    check_csrf,
    redirect_back,
    render,
)
from finance_console.errors import ConsoleError

router = APIRouter(include_in_schema=False)
RECON = "recon-service"
ACTIONS = {
    "accept_channel": "accept the channel's side (correct our payment, post)",
    "accept_ours": "accept our side (post to reconciliation differences)",
    "write_off": "write off (post to reconciliation differences)",
    "link": "link to another record (give its reference)",
    "wait": "wait for a later statement",
}
PAGE_SIZE = 50
STATUSES = ("open", "pending_approval", "waiting", "resolved", "cleared")
STATUS_PATTERN = "^(" + "|".join(STATUSES) + ")$"
LINE_WINDOW = 5


class DiscrepancyNotFound(ConsoleError):
    """No discrepancy with this id on the given source and day."""

    status = 404
    code = "discrepancy_not_found"


@router.get("/discrepancies")
async def queue(
    request: Request,
    session: SignedIn,
    source: Annotated[str, Query(max_length=32)] = "",
    day: Annotated[date | None, Query(alias="date")] = None,
    status: Annotated[str, Query(pattern=STATUS_PATTERN)] = "open",
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> HTMLResponse:
    """The queue: newest day first, filtered by source, day and status."""
    allow(session, page("/discrepancies").roles)
    params: dict[str, Any] = {"status": status, "limit": PAGE_SIZE, "offset": offset}
    if source in SOURCES:
        params["source"] = source
    if day is not None:
        params["date"] = day.isoformat()
    listing = await apis_of(request).get(
        session.user.role.value, RECON, "/v1/discrepancies", params
    )
    for item in listing["items"]:
        item["at_risk_fen"] = money_at_risk_fen(item)
    return render(
        request,
        "discrepancies.html",
        {
            "listing": listing,
            "sources": SOURCES,
            "labels": SOURCE_LABELS,
            "source": source,
            "day": day,
            "status": status,
            "statuses": STATUSES,
            "offset": offset,
            "page_size": PAGE_SIZE,
        },
    )


@router.get("/discrepancies/{discrepancy_id}")
async def detail(
    request: Request,
    session: SignedIn,
    discrepancy_id: uuid.UUID,
    source: Annotated[str, Query(max_length=32)],
    day: Annotated[date, Query(alias="date")],
) -> HTMLResponse:
    """One discrepancy: both sides, the statement line, its adjustments, the audit trail."""
    allow(session, page("/discrepancies").roles)
    role = session.user.role.value
    apis = apis_of(request)
    found = await _find(request, role, discrepancy_id, source, day)
    line, adjustments, audit = await asyncio.gather(
        _statement_line(request, role, found),
        apis.get(role, RECON, "/v1/adjustments", {"discrepancy_id": str(discrepancy_id)}),
        apis.get(role, RECON, "/v1/audit-log", {"subject_id": str(discrepancy_id)}),
    )
    trails = await asyncio.gather(
        *(
            apis.get(role, RECON, "/v1/audit-log", {"subject_id": a["adjustment_id"]})
            for a in adjustments["items"]
        )
    )
    entries = sorted([*audit, *(e for t in trails for e in t)], key=lambda e: e["seq"])
    found["at_risk_fen"] = money_at_risk_fen(found)
    return render(
        request,
        "discrepancy.html",
        {
            "d": found,
            "line": line,
            "adjustments": adjustments["items"],
            "audit": entries,
            "actions": ACTIONS,
            "labels": SOURCE_LABELS,
            "can_resolve": session.user.role in RESOLVE_ROLES and found["status"] == "open",
            "can_approve": session.user.role in APPROVER_ROLES,
        },
    )


async def _find(
    request: Request, role: str, discrepancy_id: uuid.UUID, source: str, day: date
) -> dict[str, Any]:
    apis = apis_of(request)
    for status in STATUSES:
        offset = 0
        while True:
            listing = await apis.get(
                role,
                RECON,
                "/v1/discrepancies",
                {
                    "source": source,
                    "date": day.isoformat(),
                    "status": status,
                    "limit": 500,
                    "offset": offset,
                },
            )
            for item in listing["items"]:
                if item["discrepancy_id"] == str(discrepancy_id):
                    return dict(item)
            offset += 500
            if offset >= listing["total"]:
                break
    raise DiscrepancyNotFound(f"no discrepancy {discrepancy_id} on {source} {day}")


async def _statement_line(request: Request, role: str, d: dict[str, Any]) -> dict[str, Any] | None:
    """The statement line of the channel side, as recon normalised it with its raw refs."""
    if d.get("statement_id") is None or d.get("line_no") is None:
        return None
    lines = await apis_of(request).get(
        role,
        RECON,
        f"/v1/statements/{d['statement_id']}/lines",
        {"offset": max(int(d["line_no"]) - LINE_WINDOW, 0), "limit": 2 * LINE_WINDOW},
    )
    return next((ln for ln in lines["items"] if ln["line_no"] == d["line_no"]), None)


@router.post("/discrepancies/{discrepancy_id}/resolve")
async def resolve(
    request: Request,
    session: SignedIn,
    discrepancy_id: uuid.UUID,
    action: Annotated[str, Form(max_length=32)],
    reason: Annotated[str, Form(max_length=500)],
    source: Annotated[str, Form(max_length=32)],
    day: Annotated[date, Form(alias="date")],
    linked_ref: Annotated[str, Form(max_length=128)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Resolve with an action and a reason; above the threshold it waits for an approver."""
    check_csrf(session, csrf_token)
    allow(session, RESOLVE_ROLES)
    body: dict[str, Any] = {"action": action, "reason": reason}
    if linked_ref.strip():
        body["linked_ref"] = linked_ref.strip()
    await apis_of(request).post(
        session.user.role.value, RECON, f"/v1/discrepancies/{discrepancy_id}/resolve", body
    )
    return RedirectResponse(
        f"/discrepancies/{discrepancy_id}?source={source}&date={day.isoformat()}", status_code=303
    )


@router.get("/approvals")
async def approvals(request: Request, session: SignedIn) -> HTMLResponse:
    """Adjustments waiting for the second person."""
    allow(session, page("/approvals").roles)
    pending = await apis_of(request).get(
        session.user.role.value,
        RECON,
        "/v1/adjustments",
        {"status": "pending_approval", "limit": 200},
    )
    return render(
        request,
        "approvals.html",
        {
            "pending": pending,
            "labels": SOURCE_LABELS,
            "can_approve": session.user.role in APPROVER_ROLES,
        },
    )


@router.post("/adjustments/{adjustment_id}/{decision}")
async def decide(
    request: Request,
    session: SignedIn,
    adjustment_id: uuid.UUID,
    decision: str,
    reason: Annotated[str, Form(max_length=500)] = "",
    back: Annotated[str, Form(max_length=300)] = "/approvals",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve or reject a pending adjustment (finance-approver, never its requester)."""
    check_csrf(session, csrf_token)
    allow(session, APPROVER_ROLES)
    if decision not in ("approve", "reject"):
        raise DiscrepancyNotFound(f"no decision {decision!r}")
    await apis_of(request).post(
        session.user.role.value,
        RECON,
        f"/v1/adjustments/{adjustment_id}/{decision}",
        {"reason": reason.strip() or None},
    )
    return redirect_back(back, "/approvals")
