"""HTTP API of ledger-service: accounts and journals (thin: validate → command → response).

Posting a journal answers 201 when it was created and 200 when its source id had been posted
before (the body is then the FIRST journal, whatever this request said); both carry
``journal_id`` and ``created``. Every endpoint is for the finance roles.
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime
from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from fastapi.responses import JSONResponse

from ledger_service.adapters.journal_repo import JournalFilter
from ledger_service.domain.business_date import business_date_of
from ledger_service.domain.chart import deposits_account
from ledger_service.domain.errors import InvalidJournal
from ledger_service.domain.events import CashDeposited
from ledger_service.domain.memory import PostResult
from ledger_service.entrypoints.deps import Commands, Finance, Queries
from ledger_service.entrypoints.schemas import (
    AccountBalanceOut,
    AccountIn,
    AccountOut,
    BatchIn,
    BatchOut,
    CashDepositIn,
    JournalIn,
    JournalOut,
    JournalPageOut,
    ReversalIn,
    batch_body,
    draft_or_error,
)

router = APIRouter(prefix="/v1", tags=["ledger"])
PAGE_SIZE_DEFAULT = 100


@router.post("/accounts", status_code=status.HTTP_201_CREATED, response_model=AccountOut)
async def open_account(body: AccountIn, commands: Commands, _: Finance) -> AccountOut:
    """Open an account (201). Opening the same code, type and currency again is idempotent
    (201, ``created: false``); another type or currency is 409."""
    account, created = await commands.open_account(body.to_account())
    return AccountOut.of(account, created)


@router.get("/accounts", response_model=list[AccountOut])
async def list_accounts(
    queries: Queries,
    _: Finance,
    family: str | None = None,
    currency: str | None = None,
    after: Annotated[str, Query(description="Last code of the previous page.")] = "",
    limit: Annotated[int, Query(ge=1, le=1000)] = PAGE_SIZE_DEFAULT,
) -> list[AccountOut]:
    """Open accounts sorted by code (the chart as data)."""
    found = await queries.accounts(family=family, currency=currency, after=after, limit=limit)
    return [AccountOut.of(account) for account in found]


@router.get("/accounts/{code:path}", response_model=AccountBalanceOut)
async def get_account(
    code: str,
    queries: Queries,
    _: Finance,
    date_: Annotated[date | None, Query(alias="date", description="Balance as of.")] = None,
) -> AccountBalanceOut:
    """An account with its balance up to `date` inclusive (everything when omitted)."""
    return AccountBalanceOut.of_balance(await queries.account(code, date_))


@router.post(
    "/journals",
    status_code=status.HTTP_201_CREATED,
    response_model=JournalOut,
    responses={200: {"model": JournalOut, "description": "The source id was posted before."}},
)
async def post_journal(
    body: JournalIn, response: Response, commands: Commands, _: Finance
) -> JournalOut:
    """Post a balanced manual journal: 201 created; 200 with the first journal when the
    source id is known; 422 when unbalanced or a line names an account that is not open."""
    result = await commands.post_journal(body.to_draft())
    return _posted(result, response)


@router.post("/journals/batch", response_model=BatchOut)
async def post_batch(body: BatchIn, commands: Commands, _: Finance) -> Response:
    """Post many journals in one transaction; each is created, a duplicate (its source id is
    known) or rejected with its own error, and the others go on. Always 200."""
    limit = commands.context.settings.batch_max_journals
    if len(body.journals) > limit:
        raise InvalidJournal(f"a batch holds at most {limit} journals", field="journals")
    outcomes = await commands.post_batch([draft_or_error(raw) for raw in body.journals])
    # Plain dicts in the BatchOut shape: a model per item costs more than the posting itself.
    return JSONResponse(batch_body(outcomes))


@router.post(
    "/journals/{journal_id}/reversal",
    status_code=status.HTTP_201_CREATED,
    response_model=JournalOut,
    responses={200: {"model": JournalOut, "description": "This reversal was posted before."}},
)
async def reverse_journal(
    journal_id: uuid.UUID, body: ReversalIn, response: Response, commands: Commands, _: Finance
) -> JournalOut:
    """Correct a journal by a reversing journal (journals are never updated). 404 unknown
    journal; 409 already reversed, a reversal itself, or the source id used elsewhere."""
    day = body.business_date or _today()
    result = await commands.reverse(str(journal_id), body.source_id, day, body.reason)
    return _posted(result, response)


@router.get("/journals", response_model=JournalPageOut)
async def list_journals(
    queries: Queries,
    _: Finance,
    source_id: str | None = None,
    account: str | None = None,
    order_id: str | None = None,
    date_from: date | None = None,
    date_to: date | None = None,
    after: Annotated[int, Query(ge=0, description="`next_after` of the previous page.")] = 0,
    limit: Annotated[int, Query(ge=1, le=500)] = PAGE_SIZE_DEFAULT,
) -> JournalPageOut:
    """Journals by source event, account, order and business date, in posting order."""
    if order_id is not None:
        if account is not None and account != deposits_account(order_id):
            return JournalPageOut(journals=[], next_after=None)
        account = deposits_account(order_id)
    where = JournalFilter(source_id, account, date_from, date_to, after)
    page = await queries.journals(where, limit)
    return JournalPageOut(
        journals=[JournalOut.of(s.journal, stored=s) for s in page],
        next_after=page[-1].seq if len(page) == limit else None,
    )


@router.get("/journals/{journal_id}", response_model=JournalOut)
async def get_journal(journal_id: uuid.UUID, queries: Queries, _: Finance) -> JournalOut:
    """One journal, with the id of the journal reversing it (if any)."""
    found = await queries.journal(str(journal_id))
    return JournalOut.of(found.stored.journal, stored=found.stored, reversed_by=found.reversed_by)


@router.post(
    "/cash-deposits",
    status_code=status.HTTP_201_CREATED,
    response_model=JournalOut,
    responses={200: {"model": JournalOut, "description": "This deposit was posted before."}},
)
async def record_cash_deposit(
    body: CashDepositIn, response: Response, commands: Commands, _: Finance
) -> JournalOut:
    """A store's cash reached the bank: Dr bank / Cr cash on hand (idempotent by deposit id)."""
    event = CashDeposited(
        event_id=f"cash-deposit:{body.deposit_id}",
        store_id=body.store_id,
        bank_account_id=body.bank_account_id,
        amount_fen=body.amount_fen,
        occurred_at=body.deposited_at,
        deposit_id=body.deposit_id,
    )
    result = await commands.post_event(event, kind="CashDeposited")
    assert result is not None  # a positive cash deposit always proposes a journal
    return _posted(result, response)


def _posted(result: PostResult, response: Response) -> JournalOut:
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return JournalOut.of(result.journal, created=result.created)


def _today() -> date:
    return business_date_of(datetime.now(UTC))
