"""API bodies of recon-service (pydantic; not rows). Money is always ``*_fen`` integers."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from recon_service.adapters.run_repo import RunRecord
from recon_service.adapters.statement_repo import LineRecord, StatementRecord

date_type = date  # the run bodies have a field called ``date``


class StatementOut(BaseModel):
    """A loaded statement with its totals."""

    statement_id: uuid.UUID
    source: str
    statement_date: date
    lines: int = Field(description="Number of lines loaded.")
    payment_count: int
    refund_count: int
    payment_total_fen: int
    refund_total_fen: int
    fee_total_fen: int = Field(description="Signed: + charged to us, − returned to us.")
    content_sha256: str
    filename: str | None
    size_bytes: int
    loaded_by: str
    loaded_at: datetime | None
    version: int = Field(description="1 for the day's first statement, +1 per corrected one.")

    @classmethod
    def of(cls, r: StatementRecord) -> StatementOut:
        """From a stored statement."""
        return cls(
            statement_id=r.statement_id,
            source=r.source,
            statement_date=r.statement_date,
            lines=r.line_count,
            payment_count=r.payment_count,
            refund_count=r.refund_count,
            payment_total_fen=r.payment_total_fen,
            refund_total_fen=r.refund_total_fen,
            fee_total_fen=r.fee_total_fen,
            content_sha256=r.content_sha256,
            filename=r.filename,
            size_bytes=r.size_bytes,
            loaded_by=r.loaded_by,
            loaded_at=r.loaded_at,
            version=r.version,
        )


class StatementLoadedOut(StatementOut):
    """The answer to an upload: ``created`` is false when the same file was loaded before."""

    created: bool


class StatementPageOut(BaseModel):
    """One page of statements."""

    items: list[StatementOut]
    total: int
    limit: int
    offset: int


class StatementLineOut(BaseModel):
    """One normalised statement line."""

    line_no: int
    kind: str
    out_trade_no: str | None
    channel_txn_id: str | None
    out_refund_no: str | None
    amount_fen: int = Field(description="Always positive; kind says refund.")
    fee_fen: int
    status: str
    occurred_at: datetime
    refs: dict[str, str]

    @classmethod
    def of(cls, r: LineRecord) -> StatementLineOut:
        """From a stored line."""
        return cls(**r.__dict__)


class StatementLinesOut(BaseModel):
    """One page of a statement's lines."""

    statement_id: uuid.UUID
    items: list[StatementLineOut]
    total: int
    limit: int
    offset: int


class ErrorOut(BaseModel):
    """An error; statement format errors add the line number (null: the file as a whole)."""

    detail: str
    code: str | None = Field(
        default=None, description="Stable error code; absent on 401/403 from the token check."
    )
    field: str | None = None
    line_no: int | None = None


class ReconRunIn(BaseModel):
    """Reconcile one source and business day."""

    source: str = Field(max_length=32, description="wechatpay, alipay, lakala, unionpay, …")
    date: date_type = Field(description="The business day (Asia/Shanghai), YYYY-MM-DD.")


class ReconRunOut(BaseModel):
    """A finished run: counts by outcome (the six, plus carried_over)."""

    run_id: uuid.UUID
    source: str
    date: date_type
    statement_id: uuid.UUID
    counts: dict[str, int]
    settled_fen: int = Field(description="Net to our bank: gross − fees.")
    fee_fen: int
    gross_fen: int = Field(description="Payments − refunds of the settled lines, before fees.")
    statement_version: int | None
    requested_by: str
    started_at: datetime | None
    finished_at: datetime | None
    unchanged: bool = Field(
        default=False,
        description="A re-run that found nothing changed since the day's current run: this is"
        " that run (same results and discrepancies), not a new one.",
    )

    @classmethod
    def of(cls, r: RunRecord) -> ReconRunOut:
        """From a stored run."""
        return cls(
            run_id=r.run_id,
            source=r.source,
            date=r.recon_date,
            statement_id=r.statement_id,
            counts=r.counts,
            settled_fen=r.settled_fen,
            fee_fen=r.fee_fen,
            gross_fen=r.gross_fen,
            statement_version=r.statement_version,
            requested_by=r.requested_by,
            started_at=r.started_at,
            finished_at=r.finished_at,
            unchanged=r.unchanged,
        )


class ReconRunPageOut(BaseModel):
    """One page of runs."""

    items: list[ReconRunOut]
    total: int
    limit: int
    offset: int


class ReconResultOut(BaseModel):
    """What a run decided about a statement line, an internal record, or a pair."""

    model_config = ConfigDict(extra="ignore")

    outcome: str
    kind: str
    match_key: str | None
    statement_id: uuid.UUID | None
    line_no: int | None
    record_kind: str | None
    record_ref: str | None
    order_id: str | None
    line_amount_fen: int | None
    record_amount_fen: int | None
    line_fee_fen: int | None
    record_fee_fen: int | None
    line_status: str | None
    record_status: str | None
    match_rule: str | None = Field(
        default=None,
        description="The rule that paired them: channel_txn_id, out_trade_no or amount_time.",
    )
    match_group: str | None = Field(
        default=None,
        description="Pairs of one line with several records (or several lines with one "
        "record) whose amounts add up share this group id.",
    )


class ReconResultPageOut(BaseModel):
    """One page of a run's results."""

    run_id: uuid.UUID
    items: list[ReconResultOut]
    total: int
    limit: int
    offset: int


class DiscrepancyOut(ReconResultOut):
    """A discrepancy (差错): found by a run, kept across re-runs, cleared when gone."""

    discrepancy_id: uuid.UUID
    source: str
    recon_date: date_type
    status: str
    first_run_id: uuid.UUID
    last_run_id: uuid.UUID
    created_at: datetime
    updated_at: datetime
    amount_at_stake_fen: int = 0
    age_days: int = 0
    priority: str = "normal"


class DiscrepancyPageOut(BaseModel):
    """One page of discrepancies."""

    items: list[DiscrepancyOut]
    total: int
    limit: int
    offset: int


class UploadExceptionOut(BaseModel):
    """An exception at upload: a refused file (``statement_id`` null, the whole file was
    refused at ``line_no``) or a duplicate line of a loaded statement (not reconciled)."""

    model_config = ConfigDict(extra="ignore")

    exception_id: uuid.UUID
    source: str
    statement_date: date_type | None
    statement_id: uuid.UUID | None
    filename: str | None
    content_sha256: str | None
    line_no: int | None
    code: str = Field(description="statement_format, statement_empty, …, or duplicate_line.")
    message: str
    recorded_by: str
    recorded_at: datetime


class UploadExceptionPageOut(BaseModel):
    """One page of exceptions at upload."""

    items: list[UploadExceptionOut]
    total: int
    limit: int
    offset: int


class ResolveIn(BaseModel):
    """Resolve a discrepancy (调差)."""

    action: Literal["accept_channel", "accept_ours", "write_off", "link", "wait"]
    reason: str = Field(min_length=3, max_length=500)
    linked_ref: str | None = Field(default=None, max_length=128)


class DecisionIn(BaseModel):
    """A second approver's decision."""

    reason: str | None = Field(default=None, max_length=500)


class AdjustmentOut(BaseModel):
    """An adjustment: ``applied`` (posted when it moves money), ``pending_approval`` (above
    the threshold: a finance-approver other than the requester decides) or ``rejected``."""

    model_config = ConfigDict(extra="ignore")

    adjustment_id: uuid.UUID
    discrepancy_id: uuid.UUID
    source: str
    recon_date: date_type
    action: str
    reason: str
    linked_ref: str | None
    adjustment_fen: int = Field(description="+: Dr clearing / Cr recon differences.")
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_reason: str | None
    payment_id: str | None = Field(
        default=None, description="accept_channel: the payment the gateway corrected."
    )
    correction_id: str | None = Field(
        default=None, description="The gateway's correction (its PaymentCorrected moves the money)."
    )


class AdjustmentPageOut(BaseModel):
    """One page of adjustments."""

    items: list[AdjustmentOut]
    total: int
    limit: int
    offset: int


class AuditEntryOut(BaseModel):
    """One audit entry (append-only, chained: ``hash`` = SHA-256(prev_hash, entry))."""

    model_config = ConfigDict(extra="ignore")

    seq: int
    at: datetime
    actor: str
    action: str
    subject_kind: str
    subject_id: str
    reason: str | None
    before: dict[str, object] | None
    after: dict[str, object] | None
    prev_hash: str
    hash: str


class AuditVerifyOut(BaseModel):
    """The chain walked from the first entry."""

    ok: bool
    entries: int
    first_broken_seq: int | None


class DayClosureOut(BaseModel):
    """A source-day's closure."""

    model_config = ConfigDict(extra="ignore")

    source: str
    recon_date: date_type
    status: str
    closed_by: str
    closed_at: datetime
    reopened_by: str | None
    reopened_at: datetime | None
    reopen_reason: str | None


class ReopenIn(BaseModel):
    """Why a closed day is reopened."""

    reason: str = Field(min_length=3, max_length=500)


class FiguresOut(BaseModel):
    """Match rate by count and by money, money at risk, ageing."""

    model_config = ConfigDict(extra="allow")

    source: str | None
    date_from: date_type
    date_to: date_type
    results: int
    matched: int
    match_rate_by_count: float | None = Field(description="For display only.")
    amount_fen: int
    matched_amount_fen: int
    match_rate_by_amount: float | None
    open_discrepancies: int
    money_at_risk_fen: int
    open_by_priority: dict[str, int]


class SettlementOut(BaseModel):
    """One source-day: the latest statement's settled lines and what reached the bank."""

    model_config = ConfigDict(extra="ignore")

    source: str
    statement_date: date_type
    version: int
    statement_id: uuid.UUID
    payment_count: int
    payment_fen: int
    refund_count: int
    refund_fen: int
    fee_fen: int
    gross_fen: int = Field(description="payment_fen − refund_fen.")
    net_fen: int = Field(description="gross − fees: what the channel owes our bank.")
    bank_value_date: date_type | None
    bank_received_fen: int | None = Field(description="Credits from the channel's payer name.")
    bank_difference_fen: int | None
    bank_status: str = Field(description="matched, short, over, missing, not_applicable.")
