"""API bodies of recon-service (pydantic; not rows). Money is always ``*_fen`` integers."""

from __future__ import annotations

import uuid
from datetime import date, datetime

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
    code: str
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
