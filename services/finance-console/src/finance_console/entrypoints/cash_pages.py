"""Cash pages: the cashier records a receipt against a billing (found by order id), the day's
receipts of a store, a reversal (finance-approver, with a reason), the store's day close and
its deposit report (CSV, fetched server-side: the browser never holds a service token)."""

from __future__ import annotations

import re
import uuid
from datetime import date
from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from finance_console.domain.access import (
    CASH_RECORD_ROLES,
    CASH_REVERSE_ROLES,
    DAY_CLOSE_ROLES,
    page,
)
from finance_console.domain.amounts import AmountError, yuan_to_fen
from finance_console.domain.recon_day import business_today
from finance_console.entrypoints.web import SignedIn, allow, apis_of, check_csrf, render
from finance_console.errors import InvalidForm
from finance_console.service_layer import offline_views
from finance_console.service_layer.views import utc_now

router = APIRouter(include_in_schema=False)
GATEWAY = "payment-gateway"
STORE_PATTERN = r"^[A-Za-z0-9_\-]{1,32}$"
StoreQuery = Annotated[str, Query(pattern=r"^[A-Za-z0-9_\-]{0,32}$")]
StoreForm = Annotated[str, Form(pattern=STORE_PATTERN)]
Csrf = Annotated[str, Form(max_length=200)]


@router.get("/cash")
async def cash_page(
    request: Request,
    session: SignedIn,
    store_id: StoreQuery = "",
    day: Annotated[date | None, Query(alias="date")] = None,
    order_id: Annotated[str, Query(max_length=100)] = "",
    recorded: Annotated[str, Query(max_length=32)] = "",
) -> HTMLResponse:
    """A store's cash day: record a receipt, the receipts, reversals, the day close."""
    allow(session, page("/cash").roles)
    role = session.user.role
    chosen = day or business_today(utc_now())
    can_record = role in CASH_RECORD_ROLES
    view = await offline_views.cash_day(
        apis_of(request),
        role.value,
        store_id,
        chosen,
        order_id.strip() if can_record else "",
    )
    return render(
        request,
        "cash.html",
        {
            "view": view,
            "order_id": order_id,
            "recorded": recorded,
            "can_record": can_record,
            "can_reverse": role in CASH_REVERSE_ROLES,
            "can_close": role in DAY_CLOSE_ROLES,
        },
    )


@router.post("/cash/receipts")
async def record_receipt(
    request: Request,
    session: SignedIn,
    billing_id: Annotated[str, Form(max_length=64)],
    amount: Annotated[str, Form(max_length=20)],
    receipt_no: Annotated[str, Form(max_length=32)],
    store_id: StoreForm,
    csrf_token: Csrf = "",
) -> Response:
    """Record the receipt (the payment succeeds at once); back to the store's day."""
    check_csrf(session, csrf_token)
    allow(session, CASH_RECORD_ROLES)
    try:
        billing = uuid.UUID(billing_id.strip())
        amount_fen = yuan_to_fen(amount, "amount")
    except AmountError as exc:
        raise InvalidForm(str(exc)) from exc
    except ValueError as exc:
        raise InvalidForm(f"billing id: {billing_id.strip()!r} is not a billing id") from exc
    receipt = await apis_of(request).post(
        session.user.role.value,
        GATEWAY,
        "/v1/cash-receipts",
        {
            "billing_id": str(billing),
            "amount_fen": amount_fen,
            "receipt_no": receipt_no.strip(),
            "store_id": store_id,
        },
    )
    query = {"store_id": store_id, "date": receipt["business_date"], "recorded": receipt_no}
    return RedirectResponse(f"/cash?{urlencode(query)}", status_code=303)


@router.post("/cash/receipts/{receipt_id}/reversal")
async def reverse_receipt(
    request: Request,
    session: SignedIn,
    receipt_id: uuid.UUID,
    reason: Annotated[str, Form(min_length=1, max_length=500)],
    store_id: StoreForm,
    day: Annotated[date, Form(alias="date")],
    csrf_token: Csrf = "",
) -> Response:
    """Reverse a wrong receipt (finance-approver, with a reason)."""
    check_csrf(session, csrf_token)
    allow(session, CASH_REVERSE_ROLES)
    await apis_of(request).post(
        session.user.role.value,
        GATEWAY,
        f"/v1/cash-receipts/{receipt_id}/reversal",
        {"reason": reason.strip()},
    )
    return _back(store_id, day)


@router.post("/cash/day-closes")
async def close_day(
    request: Request,
    session: SignedIn,
    store_id: StoreForm,
    day: Annotated[date, Form(alias="date")],
    csrf_token: Csrf = "",
) -> Response:
    """Close the store's cash day (receipts frozen, the deposit report kept)."""
    check_csrf(session, csrf_token)
    allow(session, DAY_CLOSE_ROLES)
    await apis_of(request).post(
        session.user.role.value,
        GATEWAY,
        "/v1/cash-day-closes",
        {"store_id": store_id, "date": day.isoformat()},
    )
    return _back(store_id, day)


@router.get("/cash/day-closes/{store_id}/{day}/report.csv")
async def day_report(request: Request, session: SignedIn, store_id: str, day: date) -> Response:
    """The closed day's cash deposit report (recon's cash layout), as a download."""
    allow(session, page("/cash").roles)
    if not _store_ok(store_id):
        raise InvalidForm(f"store id: {store_id!r} is not a store id")
    text = await apis_of(request).get_text(
        session.user.role.value,
        GATEWAY,
        f"/v1/cash-day-closes/{store_id}/{day.isoformat()}/report.csv",
    )
    filename = f"cash-{store_id}-{day.isoformat()}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def _store_ok(store_id: str) -> bool:
    return re.fullmatch(STORE_PATTERN, store_id) is not None


def _back(store_id: str, day: date) -> RedirectResponse:
    query = urlencode({"store_id": store_id, "date": day.isoformat()})
    return RedirectResponse(f"/cash?{query}", status_code=303)
