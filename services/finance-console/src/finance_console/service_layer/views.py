"""What each page shows, gathered from the services' APIs (no data of the console's own)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from finance_console.adapters.services import ServiceApis
from finance_console.domain.recon_day import (
    Series,
    SourceDay,
    source_days,
    thirty_day_series,
)

PAGE_LIMIT = 500
MAX_ROWS = 5_000
PAGE_FETCH_CONCURRENCY = 4
CHART_DAYS = 30


async def paged(
    apis: ServiceApis, role: str, service: str, path: str, params: dict[str, Any]
) -> tuple[list[dict[str, Any]], bool]:
    """Every item of a ``{"items", "total"}`` listing up to MAX_ROWS (the pages after the
    first fetched PAGE_FETCH_CONCURRENCY at a time); True when cut."""
    first = await apis.get(role, service, path, {**params, "limit": PAGE_LIMIT, "offset": 0})
    items: list[dict[str, Any]] = list(first["items"])
    total = int(first["total"])
    offsets = list(range(PAGE_LIMIT, min(total, MAX_ROWS), PAGE_LIMIT))
    gate = asyncio.Semaphore(PAGE_FETCH_CONCURRENCY)

    async def fetch(offset: int) -> list[dict[str, Any]]:
        async with gate:
            page = await apis.get(
                role, service, path, {**params, "limit": PAGE_LIMIT, "offset": offset}
            )
        return list(page["items"])

    for rows in await asyncio.gather(*(fetch(o) for o in offsets)):
        items.extend(rows)
    return items, total > MAX_ROWS


@dataclass(frozen=True)
class Dashboard:
    """The recon dashboard of one day with the 30 days before it."""

    day: date
    rows: list[SourceDay]
    series: Series
    truncated: bool


async def dashboard(apis: ServiceApis, role: str, day: date, now: datetime) -> Dashboard:
    """The day's seven sources and the chart series of the 30 days ending on ``day``."""
    recon = "recon-service"
    open_only = {"status": "open"}
    fetched = await asyncio.gather(
        paged(apis, role, recon, "/v1/statements", {}),
        paged(apis, role, recon, "/v1/discrepancies", open_only),
        paged(apis, role, recon, "/v1/discrepancies", {**open_only, "date": day.isoformat()}),
        paged(apis, role, recon, "/v1/recon-runs", {}),
    )
    (statements, cut_s), (recent, cut_d), (of_day, cut_day), (runs, cut_r) = fetched
    days = [day - timedelta(days=n) for n in range(CHART_DAYS - 1, -1, -1)]
    return Dashboard(
        day=day,
        rows=source_days(day, statements, of_day, now, runs),
        series=thirty_day_series(days, statements, recent, now, runs),
        truncated=cut_s or cut_d or cut_day or cut_r,
    )


@dataclass(frozen=True)
class OrderView:
    """An order's money: fund order with billings, payments with refunds, ledger statement."""

    order_id: str
    fund_order: dict[str, Any]
    payments: list[dict[str, Any]]
    refunds: list[dict[str, Any]]
    ledger: dict[str, Any] | None


async def order_view(apis: ServiceApis, role: str, order_id: str) -> OrderView:
    """Everything the console shows about one vehicle order."""
    fund_order = await apis.get(role, "billing-service", f"/v1/orders/{order_id}/fund-order")
    billings = fund_order.get("billings", [])
    payment_lists = await asyncio.gather(
        *(
            apis.get(role, "payment-gateway", f"/v1/billings/{b['billing_id']}/payments")
            for b in billings
        )
    )
    payments = [p for plist in payment_lists for p in _items(plist)]
    refund_lists = await asyncio.gather(
        *(
            apis.get(role, "payment-gateway", f"/v1/payments/{p['payment_id']}/refunds")
            for p in payments
        )
    )
    refunds = [r for rlist in refund_lists for r in _items(rlist)]
    ledger = await apis.get(role, "ledger-service", f"/v1/orders/{order_id}/statement")
    return OrderView(order_id, fund_order, payments, refunds, ledger)


def _items(body: Any) -> list[dict[str, Any]]:
    """The rows of a list answer (a bare list, or a page with ``items``)."""
    rows = body.get("items", []) if isinstance(body, dict) else body
    return [dict(r) for r in rows or []]


@dataclass(frozen=True)
class LedgerView:
    """A day's trial balance and SAP documents."""

    day: date
    trial_balance: dict[str, Any]
    documents: list[dict[str, Any]]


async def ledger_view(apis: ServiceApis, role: str, day: date) -> LedgerView:
    """The trial balance as of ``day`` (with each account's balance) and the day's SAP
    documents with their posting status."""
    trial, documents = await asyncio.gather(
        apis.get(role, "ledger-service", "/v1/trial-balance", {"date": day.isoformat()}),
        apis.get(role, "ledger-service", "/v1/sap/documents", {"date": day.isoformat()}),
    )
    return LedgerView(day=day, trial_balance=trial, documents=list(documents or []))


def utc_now() -> datetime:
    """Now, aware."""
    return datetime.now(UTC)
