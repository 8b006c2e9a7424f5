"""What the wire claim queue and the cash pages show, gathered from the services' APIs."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import date
from typing import Any

from finance_console.adapters.services import ServiceApis
from finance_console.domain.amounts import age_days
from finance_console.domain.recon_day import business_today
from finance_console.errors import ServiceRefused
from finance_console.service_layer.views import utc_now

GATEWAY = "payment-gateway"
BILLING = "billing-service"
OPEN_BILLING_STATUSES = ("due", "partially_paid")
SUGGESTION_SCAN_LIMIT = 500
RECEIPTS_PAGE = 200


@dataclass(frozen=True)
class WireQueue:
    """The open transfers (with their age), suspense by age and the claims waiting."""

    wires: list[dict[str, Any]]
    total: int
    ageing: dict[str, Any]
    pending: list[dict[str, Any]]


def wire_age_days(wire: dict[str, Any], today: date | None = None) -> int:
    """Days since the transfer's value date (Asia/Shanghai today)."""
    return age_days(date.fromisoformat(wire["value_date"]), today or business_today(utc_now()))


async def wire_queue(apis: ServiceApis, role: str, params: dict[str, Any]) -> WireQueue:
    """The claim queue page's data."""
    listing, ageing, pending = await asyncio.gather(
        apis.get(role, GATEWAY, "/v1/wires", params),
        apis.get(role, GATEWAY, "/v1/wires/ageing"),
        apis.get(role, GATEWAY, "/v1/wire-claims", {"status": "pending_approval"}),
    )
    today = business_today(utc_now())
    wires = [{**w, "age_days": wire_age_days(w, today)} for w in listing["items"]]
    return WireQueue(wires=wires, total=int(listing["total"]), ageing=ageing, pending=pending)


@dataclass(frozen=True)
class BillingSearch:
    """Open billings found for a wire: by order, by customer, or owing exactly its amount."""

    how: str
    billings: list[dict[str, Any]]


async def billing_search(
    apis: ServiceApis, role: str, order_id: str, customer_id: str, unclaimed_fen: int
) -> BillingSearch:
    """Open billings (due or partly paid) of an order or a customer; without either, the due
    billings that owe exactly the wire's unclaimed amount (among the first 500 due)."""
    if order_id:
        try:
            fund = await apis.get(role, BILLING, f"/v1/orders/{order_id}/fund-order")
        except ServiceRefused as exc:
            if exc.status != 404:
                raise
            return BillingSearch(f"no order {order_id}", [])
        rows = [{**b, "customer_id": fund.get("customer_id")} for b in fund["billings"]]
        return BillingSearch(f"open billings of order {order_id}", _open(rows))
    if customer_id:
        found = await apis.get(
            role, BILLING, "/v1/billings", {"customer_id": customer_id, "limit": 100}
        )
        return BillingSearch(f"open billings of customer {customer_id}", _open(found["items"]))
    due = await apis.get(
        role, BILLING, "/v1/billings", {"status": "due", "limit": SUGGESTION_SCAN_LIMIT}
    )
    exact = [b for b in due["items"] if b["customer_payable_fen"] == unclaimed_fen]
    return BillingSearch("due billings owing exactly the unclaimed amount", exact)


def _open(billings: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [b for b in billings if b["status"] in OPEN_BILLING_STATUSES]


@dataclass(frozen=True)
class CashDay:
    """A store's cash day: receipts, the day close (None while open), payable billings."""

    store_id: str
    day: date
    receipts: list[dict[str, Any]]
    close: dict[str, Any] | None
    payable: list[dict[str, Any]] | None


async def cash_day(
    apis: ServiceApis, role: str, store_id: str, day: date, order_id: str
) -> CashDay:
    """The cash page's data; ``payable`` only when an order was looked up."""
    receipts, close, payable = await asyncio.gather(
        apis.get(
            role,
            GATEWAY,
            "/v1/cash-receipts",
            {"store_id": store_id, "date": day.isoformat(), "limit": RECEIPTS_PAGE},
        ),
        _day_close(apis, role, store_id, day),
        _payable(apis, role, order_id),
    )
    return CashDay(store_id, day, list(receipts), close, payable)


async def _day_close(
    apis: ServiceApis, role: str, store_id: str, day: date
) -> dict[str, Any] | None:
    try:
        found: dict[str, Any] = await apis.get(
            role, GATEWAY, f"/v1/cash-day-closes/{store_id}/{day.isoformat()}"
        )
    except ServiceRefused as exc:
        if exc.status == 404:
            return None
        raise
    return found


async def _payable(apis: ServiceApis, role: str, order_id: str) -> list[dict[str, Any]] | None:
    if not order_id:
        return None
    try:
        found = await apis.get(role, GATEWAY, f"/v1/orders/{order_id}/payable-billings")
    except ServiceRefused as exc:
        if exc.status not in (404, 422):
            raise
        return []
    return list(found)
