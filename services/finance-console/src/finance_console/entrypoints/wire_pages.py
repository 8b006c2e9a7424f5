"""Wire claim queue pages: the unmatched transfers with their age and the ageing of suspense,
one transfer with its claims, a billing search, the wire confirmation (one billing or a split
over several), approve or reject above the threshold (finance-approver) and unclaim.

Every action is the payment-gateway's: its claim API takes several allocations (the split),
holds a claim above its threshold for a finance-approver who is not the claimer, and
refuses what does not fit (the wire's unclaimed amount, what is left on a billing).
"""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from finance_console.domain.access import (
    APPROVER_ROLES,
    WIRE_CLAIM_ROLES,
    WIRE_UNCLAIM_ROLES,
    page,
)
from finance_console.domain.amounts import AmountError, yuan_to_fen
from finance_console.entrypoints.web import SignedIn, allow, apis_of, check_csrf, render
from finance_console.errors import InvalidForm
from finance_console.service_layer import offline_views

router = APIRouter(include_in_schema=False)
GATEWAY = "payment-gateway"
PAGE_SIZE = 50
DECISIONS = {"approve": APPROVER_ROLES, "reject": APPROVER_ROLES, "unclaim": WIRE_UNCLAIM_ROLES}
TEXT = Annotated[str, Query(max_length=100)]


@router.get("/wires")
async def queue(
    request: Request,
    session: SignedIn,
    payer_last4: Annotated[str, Query(pattern=r"^(\d{4})?$")] = "",
    amount: TEXT = "",
    bank_reference: Annotated[str, Query(max_length=64)] = "",
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> HTMLResponse:
    """The claim queue (oldest first), the ageing of suspense and the claims waiting."""
    allow(session, page("/wires").roles)
    params: dict[str, Any] = {"state": "open", "limit": PAGE_SIZE, "offset": offset}
    if payer_last4:
        params["payer_last4"] = payer_last4
    if amount.strip():
        params["amount_fen"] = _fen(amount, "amount")
    if bank_reference.strip():
        params["bank_reference"] = bank_reference.strip()
    board = await offline_views.wire_queue(apis_of(request), session.user.role.value, params)
    return render(
        request,
        "wires.html",
        {
            "board": board,
            "filters": {
                "payer_last4": payer_last4,
                "amount": amount,
                "bank_reference": bank_reference,
            },
            "offset": offset,
            "page_size": PAGE_SIZE,
            "can_approve": session.user.role in APPROVER_ROLES,
        },
    )


@router.get("/wires/{wire_id}")
async def wire_page(
    request: Request,
    session: SignedIn,
    wire_id: uuid.UUID,
    order_id: TEXT = "",
    customer_id: Annotated[str, Query(max_length=64)] = "",
) -> HTMLResponse:
    """One transfer with its claims; finance searches billings and confirms the match."""
    allow(session, page("/wires").roles)
    role = session.user.role.value
    apis = apis_of(request)
    wire = await apis.get(role, GATEWAY, f"/v1/wires/{wire_id}")
    can_claim = session.user.role in WIRE_CLAIM_ROLES and wire["unclaimed_fen"] > 0
    search = None
    if can_claim:
        search = await offline_views.billing_search(
            apis, role, order_id.strip(), customer_id.strip(), wire["unclaimed_fen"]
        )
    return render(
        request,
        "wire.html",
        {
            "w": wire,
            "search": search,
            "order_id": order_id,
            "customer_id": customer_id,
            "age_days": offline_views.wire_age_days(wire),
            "can_claim": can_claim,
            "can_approve": session.user.role in APPROVER_ROLES,
            "can_unclaim": session.user.role in WIRE_UNCLAIM_ROLES,
        },
    )


@router.post("/wires/{wire_id}/claims")
async def claim(
    request: Request,
    session: SignedIn,
    wire_id: uuid.UUID,
    billing_id: Annotated[list[str], Form(max_length=20)],
    amount: Annotated[list[str], Form(max_length=20)],
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Confirm the wire for one billing or split it over several (rows with an amount)."""
    check_csrf(session, csrf_token)
    allow(session, WIRE_CLAIM_ROLES)
    allocations = _allocations(billing_id, amount)
    await apis_of(request).post(
        session.user.role.value,
        GATEWAY,
        f"/v1/wires/{wire_id}/claims",
        {"allocations": allocations},
    )
    return RedirectResponse(f"/wires/{wire_id}", status_code=303)


@router.post("/wire-claims/{claim_id}/{decision}")
async def decide(
    request: Request,
    session: SignedIn,
    claim_id: uuid.UUID,
    decision: str,
    wire_id: Annotated[uuid.UUID, Form()],
    reason: Annotated[str, Form(max_length=500)] = "",
    csrf_token: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Approve or reject a claim above the threshold (finance-approver), or unclaim a wrong
    one with a reason (finance, finance-approver); back to the wire."""
    check_csrf(session, csrf_token)
    roles = DECISIONS.get(decision)
    if roles is None:
        raise InvalidForm(f"no decision {decision!r} on a wire claim")
    allow(session, roles)
    if decision != "approve" and not reason.strip():
        raise InvalidForm(f"reason: say why you {decision} this claim")
    body = None if decision == "approve" else {"reason": reason.strip()}
    await apis_of(request).post(
        session.user.role.value, GATEWAY, f"/v1/wire-claims/{claim_id}/{decision}", body
    )
    return RedirectResponse(f"/wires/{wire_id}", status_code=303)


def _fen(text: str, field: str) -> int:
    try:
        return yuan_to_fen(text, field)
    except AmountError as exc:
        raise InvalidForm(str(exc)) from exc


def _allocations(billing_ids: list[str], amounts: list[str]) -> list[dict[str, Any]]:
    """The rows of the claim form that carry an amount, as the gateway's allocations."""
    if len(billing_ids) != len(amounts):
        raise InvalidForm("the claim form is malformed: reload the page")
    allocations: list[dict[str, Any]] = []
    for n, (raw_id, raw_amount) in enumerate(zip(billing_ids, amounts, strict=True), start=1):
        if not raw_amount.strip():
            continue
        try:
            billing = uuid.UUID(raw_id.strip())
        except ValueError as exc:
            raise InvalidForm(f"row {n}: {raw_id.strip()!r} is not a billing id") from exc
        allocations.append(
            {"billing_id": str(billing), "amount_fen": _fen(raw_amount, f"row {n} amount")}
        )
    if not allocations:
        raise InvalidForm("give an amount for at least one billing")
    return allocations
