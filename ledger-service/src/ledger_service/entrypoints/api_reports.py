"""HTTP API of ledger-service: trial balance, order statements, exports, data checks."""

from __future__ import annotations

from datetime import date
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import PlainTextResponse, StreamingResponse

from ledger_service.adapters.journal_repo import JournalFilter
from ledger_service.domain.chart import deposits_account
from ledger_service.domain.money import DEFAULT_CURRENCY
from ledger_service.entrypoints.deps import Finance, Queries
from ledger_service.entrypoints.schemas import (
    IntegrityOut,
    StatementOut,
    TrialBalanceOut,
    TrialBalanceRowOut,
    UnpostedOut,
)
from ledger_service.service_layer.queries import trial_balance_csv

router = APIRouter(prefix="/v1", tags=["ledger reports"])
CSV = "text/csv; charset=utf-8"


class CsvResponse(PlainTextResponse):
    """A CSV answer (documented as ``text/csv`` in the OpenAPI)."""

    media_type = "text/csv"


DateParam = Annotated[date, Query(alias="date", description="Business date, YYYY-MM-DD.")]


@router.get("/trial-balance", response_model=TrialBalanceOut)
async def trial_balance(
    date_: DateParam, queries: Queries, _: Finance, currency: str = DEFAULT_CURRENCY
) -> TrialBalanceOut:
    """Every open account's net balance up to `date` inclusive; debits equal credits."""
    tb = await queries.trial_balance(date_, currency)
    return TrialBalanceOut(
        date=tb.as_of,
        currency=tb.currency,
        accounts=[
            TrialBalanceRowOut(account=r.account, debit_fen=r.debit_fen, credit_fen=r.credit_fen)
            for r in tb.rows
        ],
        total_debit_fen=tb.total_debit_fen,
        total_credit_fen=tb.total_credit_fen,
    )


@router.get("/orders/{order_id}/statement", response_model=StatementOut)
async def order_statement(order_id: str, queries: Queries, _: Finance) -> StatementOut:
    """The order's journal lines (every line of every journal touching its deposits) and
    what the customer paid, got refunded, what is held and what was recognised as revenue.
    An order the ledger has not seen has an empty statement."""
    statement = await queries.order_statement(order_id)
    return StatementOut.of(statement, deposits_account(order_id))


@router.get("/export/journal-lines.csv", response_class=CsvResponse)
async def export_journal_lines(
    queries: Queries,
    _: Finance,
    date_from: date | None = None,
    date_to: date | None = None,
    account: str | None = None,
) -> StreamingResponse:
    """Journal lines with their journal header as CSV, in posting order (streamed)."""
    where = JournalFilter(account=account, date_from=date_from, date_to=date_to)
    return StreamingResponse(
        queries.journal_lines_csv(where),
        media_type=CSV,
        headers={"Content-Disposition": 'attachment; filename="journal-lines.csv"'},
    )


@router.get("/export/trial-balance.csv", response_class=CsvResponse)
async def export_trial_balance(
    date_: DateParam, queries: Queries, _: Finance, currency: str = DEFAULT_CURRENCY
) -> PlainTextResponse:
    """The trial balance as CSV with a TOTAL row."""
    tb = await queries.trial_balance(date_, currency)
    return PlainTextResponse(
        trial_balance_csv(tb),
        media_type=CSV,
        headers={"Content-Disposition": f'attachment; filename="trial-balance-{date_}.csv"'},
    )


@router.get("/unposted-events", response_model=list[UnpostedOut])
async def unposted_events(
    queries: Queries, _: Finance, limit: Annotated[int, Query(ge=1, le=500)] = 100
) -> list[UnpostedOut]:
    """Consumed events that posted nothing because they broke a posting rule, newest first."""
    return [
        UnpostedOut(
            event_id=str(e.event_id),
            event_type=e.event_type,
            order_id=e.order_id,
            code=e.code,
            reason=e.reason,
            recorded_at=e.recorded_at,
        )
        for e in await queries.unposted(limit)
    ]


@router.get("/integrity", response_model=IntegrityOut)
async def integrity(queries: Queries, _: Finance) -> IntegrityOut:
    """The books' invariants, checked over the stored data (balanced, sourced, folded)."""
    report = await queries.integrity()
    return IntegrityOut(ok=report.ok, violations=report.violations)
