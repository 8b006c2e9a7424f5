"""API bodies of recon-service (pydantic; not rows). Money is always ``*_fen`` integers."""

from __future__ import annotations

import uuid
from datetime import date, datetime

from pydantic import BaseModel, Field

from recon_service.adapters.statement_repo import LineRecord, StatementRecord


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
