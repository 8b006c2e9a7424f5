"""HTTP bodies of ledger-service (pydantic; not rows, not domain objects). Money is integer fen."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ledger_service.adapters.journal_repo import StoredJournal
from ledger_service.adapters.sap_repo import SapDocumentRecord
from ledger_service.domain.accounts import Account, AccountType
from ledger_service.domain.balances import normal_balance_fen
from ledger_service.domain.errors import InvalidJournal
from ledger_service.domain.journal import (
    MAX_DESCRIPTION_CHARS,
    MAX_LEGS_PER_JOURNAL,
    MAX_SOURCE_ID_CHARS,
    Journal,
    JournalDraft,
    Leg,
)
from ledger_service.domain.money import DEFAULT_CURRENCY
from ledger_service.service_layer.books import ItemOutcome
from ledger_service.service_layer.queries import AccountBalance, OrderStatement
from otd_shared.errors import DomainError

Fen = Annotated[int, Field(strict=True, ge=0, description="Integer fen (分), never a float.")]
PositiveFen = Annotated[int, Field(strict=True, gt=0)]
Currency = Annotated[str, Field(pattern=r"^[A-Z]{3}$", description="ISO 4217, e.g. CNY.")]
MAX_BATCH_ERROR_CHARS = 500


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class AccountIn(_In):
    """Open an account. The code is ``family`` or ``family:owner`` (``bank:ICBC-001``)."""

    code: str = Field(min_length=1, max_length=120)
    type: str = Field(description="asset, liability, equity, revenue or expense")
    currency: Currency = DEFAULT_CURRENCY

    def to_account(self) -> Account:
        """The domain account (422 on a bad code, type or chart clash)."""
        return Account(code=self.code, type=AccountType.parse(self.type), currency=self.currency)


class AccountOut(BaseModel):
    """An open account."""

    code: str
    type: str
    currency: str
    family: str
    owner: str | None
    created: bool | None = Field(
        default=None, description="On open: false when the same account was already open."
    )

    @classmethod
    def of(cls, account: Account, created: bool | None = None) -> AccountOut:
        """From the domain account."""
        return cls(
            code=account.code,
            type=account.type.value,
            currency=account.currency,
            family=account.family,
            owner=account.owner,
            created=created,
        )


class AccountBalanceOut(AccountOut):
    """An account with its balance up to `as_of` (everything posted when null)."""

    as_of: date | None
    debit_fen: int = Field(description="Debit turnover.")
    credit_fen: int = Field(description="Credit turnover.")
    net_debit_fen: int = Field(description="debit_fen - credit_fen.")
    balance_fen: int = Field(description="Balance on the account's normal side (usually >= 0).")

    @classmethod
    def of_balance(cls, found: AccountBalance) -> AccountBalanceOut:
        """From a balance query."""
        a, b = found.account, found.balance
        return cls(
            **AccountOut.of(a).model_dump(),
            as_of=found.as_of,
            debit_fen=b.debit_fen,
            credit_fen=b.credit_fen,
            net_debit_fen=b.net_debit_fen,
            balance_fen=normal_balance_fen(b, a.type),
        )


class LineIn(_In):
    """One line: exactly one of debit_fen / credit_fen is > 0."""

    account: str = Field(min_length=1, max_length=120)
    debit_fen: Fen = 0
    credit_fen: Fen = 0
    currency: Currency = DEFAULT_CURRENCY


class JournalIn(_In):
    """A manual journal; `source_id` makes posting it idempotent."""

    source_id: str = Field(min_length=1, max_length=MAX_SOURCE_ID_CHARS)
    business_date: date = Field(description="Asia/Shanghai business date, YYYY-MM-DD.")
    description: str = Field(default="", max_length=MAX_DESCRIPTION_CHARS)
    lines: list[LineIn] = Field(min_length=2, max_length=MAX_LEGS_PER_JOURNAL)

    def to_draft(self) -> JournalDraft:
        """The domain draft (422 when unbalanced or malformed)."""
        return JournalDraft(
            source_id=self.source_id,
            business_date=self.business_date,
            description=self.description,
            legs=tuple(
                Leg(line.account, line.debit_fen, line.credit_fen, line.currency)
                for line in self.lines
            ),
        )


def draft_or_error(raw: object) -> JournalDraft | DomainError:
    """Validate one batch item on its own: a draft, or the error that rejects it."""
    try:
        return JournalIn.model_validate(raw).to_draft()
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        message = f"{where}: {first['msg']}" if where else first["msg"]
        return InvalidJournal(message[:MAX_BATCH_ERROR_CHARS], field=where or None)
    except DomainError as exc:
        return exc


class BatchIn(_In):
    """Many journals; each is validated, accepted or rejected on its own."""

    journals: list[dict[str, Any]] = Field(
        min_length=1,
        json_schema_extra={"items": {"$ref": "#/components/schemas/JournalIn"}},
    )


class ReversalIn(_In):
    """Reverse a journal: a new journal with every line on the other side."""

    source_id: str = Field(min_length=1, max_length=MAX_SOURCE_ID_CHARS)
    business_date: date | None = Field(default=None, description="Default: today in Asia/Shanghai.")
    reason: str = Field(min_length=1, max_length=300)


class CashDepositIn(_In):
    """A store's cash taken to the bank (Dr bank / Cr cash on hand)."""

    deposit_id: str = Field(min_length=1, max_length=100)
    store_id: str = Field(min_length=1, max_length=100)
    bank_account_id: str = Field(min_length=1, max_length=100)
    amount_fen: PositiveFen
    deposited_at: datetime


class LineOut(BaseModel):
    """A posted line."""

    line_no: int
    account: str
    debit_fen: int
    credit_fen: int
    currency: str


class JournalOut(BaseModel):
    """A posted journal. `created` is false when the source id had been posted before."""

    journal_id: str
    source_id: str
    business_date: date
    description: str
    reverses_journal_id: str | None
    reversed_by: str | None = None
    source_kind: str | None = None
    posted_at: datetime | None = None
    total_debit_fen: int
    total_credit_fen: int
    lines: list[LineOut]
    created: bool | None = None

    @classmethod
    def of(
        cls,
        journal: Journal,
        *,
        created: bool | None = None,
        stored: StoredJournal | None = None,
        reversed_by: str | None = None,
    ) -> JournalOut:
        """From a domain journal (and its stored metadata when at hand)."""
        return cls(
            journal_id=journal.journal_id,
            source_id=journal.source_id,
            business_date=journal.business_date,
            description=journal.description,
            reverses_journal_id=journal.reverses_journal_id,
            reversed_by=reversed_by,
            source_kind=None if stored is None else stored.source_kind,
            posted_at=None if stored is None else stored.posted_at,
            total_debit_fen=sum(leg.debit_fen for leg in journal.legs),
            total_credit_fen=sum(leg.credit_fen for leg in journal.legs),
            lines=[
                LineOut(
                    line_no=n,
                    account=leg.account,
                    debit_fen=leg.debit_fen,
                    credit_fen=leg.credit_fen,
                    currency=leg.currency,
                )
                for n, leg in enumerate(journal.legs, start=1)
            ],
            created=created,
        )


class ErrorOut(BaseModel):
    """Why one batch item was rejected."""

    detail: str
    code: str
    field: str | None = None


class BatchItemOut(BaseModel):
    """The fate of one batch item, by its index in the request."""

    index: int
    status: Literal["created", "duplicate", "rejected"]
    source_id: str | None
    journal_id: str | None
    error: ErrorOut | None = None

    @classmethod
    def of(cls, outcome: ItemOutcome) -> BatchItemOut:
        """From the service's outcome."""
        error = outcome.error
        return cls(
            index=outcome.index,
            status=outcome.status,
            source_id=outcome.source_id,
            journal_id=outcome.journal_id,
            error=None
            if error is None
            else ErrorOut(detail=error.message, code=error.code, field=error.field),
        )


class BatchOut(BaseModel):
    """Per-item results, in request order, and the counts."""

    results: list[BatchItemOut]
    created: int
    duplicates: int
    rejected: int


def batch_body(outcomes: list[ItemOutcome]) -> dict[str, object]:
    """The BatchOut JSON as plain data (the batch path's response, built without models)."""
    results: list[dict[str, object]] = []
    counts = dict.fromkeys(("created", "duplicate", "rejected"), 0)
    for outcome in outcomes:
        counts[outcome.status] += 1
        error = outcome.error
        results.append(
            {
                "index": outcome.index,
                "status": outcome.status,
                "source_id": outcome.source_id,
                "journal_id": outcome.journal_id,
                "error": None
                if error is None
                else {"detail": error.message, "code": error.code, "field": error.field},
            }
        )
    return {
        "results": results,
        "created": counts["created"],
        "duplicates": counts["duplicate"],
        "rejected": counts["rejected"],
    }


class JournalPageOut(BaseModel):
    """A page of journals; pass `next_after` as `after` for the next page (null: last page)."""

    journals: list[JournalOut]
    next_after: int | None


class TrialBalanceRowOut(BaseModel):
    """One account's net balance, in the debit or the credit column."""

    account: str
    debit_fen: int
    credit_fen: int


class TrialBalanceOut(BaseModel):
    """Cumulative balances of every open account up to `date` inclusive."""

    date: date
    currency: str
    accounts: list[TrialBalanceRowOut]
    total_debit_fen: int
    total_credit_fen: int


class StatementLineOut(BaseModel):
    """One line of a journal touching the order's deposits."""

    journal_id: str
    source_id: str
    source_kind: str
    business_date: date
    description: str
    line_no: int
    account: str
    debit_fen: int
    credit_fen: int
    currency: str


class StatementSummaryOut(BaseModel):
    """What the customer paid, got back, what is held and what became revenue."""

    paid_fen: int
    refunded_fen: int
    recognised_fen: int
    reversed_fen: int
    held_fen: int


class StatementOut(BaseModel):
    """An order's account statement: all lines of the journals touching its deposits."""

    order_id: str
    account: str
    lines: list[StatementLineOut]
    summary: StatementSummaryOut

    @classmethod
    def of(cls, statement: OrderStatement, account: str) -> StatementOut:
        """From the statement query."""
        lines = [
            StatementLineOut(
                journal_id=s.journal.journal_id,
                source_id=s.journal.source_id,
                source_kind=s.source_kind,
                business_date=s.journal.business_date,
                description=s.journal.description,
                line_no=n,
                account=leg.account,
                debit_fen=leg.debit_fen,
                credit_fen=leg.credit_fen,
                currency=leg.currency,
            )
            for s in statement.journals
            for n, leg in enumerate(s.journal.legs, start=1)
        ]
        summary = statement.summary
        return cls(
            order_id=statement.order_id,
            account=account,
            lines=lines,
            summary=StatementSummaryOut(
                paid_fen=summary.paid_fen,
                refunded_fen=summary.refunded_fen,
                recognised_fen=summary.recognised_fen,
                reversed_fen=summary.reversed_fen,
                held_fen=summary.held_fen,
            ),
        )


class UnpostedOut(BaseModel):
    """A consumed event that posted nothing, and why."""

    event_id: str
    event_type: str
    order_id: str | None
    code: str
    reason: str
    recorded_at: datetime


class IntegrityOut(BaseModel):
    """The invariant checks: `ok`, and per check a sample of offending rows."""

    ok: bool
    violations: dict[str, list[str]]


class SapRunIn(_In):
    """Post one business date to SAP."""

    date: date


class SapLineOut(BaseModel):
    """One SAP line item (sum of one side on one G/L account)."""

    line_no: int
    posting_key: str
    gl_account: str
    side: str
    amount_fen: int


class SapDocumentOut(BaseModel):
    """An accounting document and where it stands with SAP."""

    reference: str
    company_code: str
    posting_date: date
    currency: str
    status: str
    journal_count: int
    total_debit_fen: int
    total_credit_fen: int
    connector: str | None
    attempts: int
    reason: str | None
    last_error: str | None
    sap_document_number: str | None
    created_at: datetime
    sent_at: datetime | None
    acknowledged_at: datetime | None
    rejected_at: datetime | None
    lines: list[SapLineOut]

    @classmethod
    def of(cls, d: SapDocumentRecord) -> SapDocumentOut:
        """From the stored record."""
        return cls(
            reference=d.reference,
            company_code=d.company_code,
            posting_date=d.posting_date,
            currency=d.currency,
            status=d.status,
            journal_count=d.journal_count,
            total_debit_fen=d.total_debit_fen,
            total_credit_fen=d.total_credit_fen,
            connector=d.connector,
            attempts=d.attempts,
            reason=d.reason,
            last_error=d.last_error,
            sap_document_number=d.sap_document_number,
            created_at=d.created_at,
            sent_at=d.sent_at,
            acknowledged_at=d.acknowledged_at,
            rejected_at=d.rejected_at,
            lines=[
                SapLineOut(
                    line_no=n,
                    posting_key=line.posting_key,
                    gl_account=line.gl_account,
                    side=line.side.value,
                    amount_fen=line.amount_fen,
                )
                for n, line in enumerate(d.lines, start=1)
            ],
        )


class SapRunOut(BaseModel):
    """The documents of the date after the run."""

    date: date
    documents: list[SapDocumentOut]
