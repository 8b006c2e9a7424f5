"""The bulk path of statement parsing as tests see it: its COPY text read back into
``StatementLine`` values, and a parse that goes as an upload does (bulk, else line by line)."""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Callable
from datetime import date, datetime
from typing import BinaryIO

from otd_shared.errors import DomainError
from recon_service.adapters.statements import (
    Fallback,
    ParseContext,
    bulk_parser,
    parse_statement,
)
from recon_service.adapters.statements.bulk import NULL
from recon_service.domain.statement import LineKind, LineStatus, Source, StatementLine

Outcome = list[StatementLine] | tuple[type[DomainError], int | None, str]
"""A parse's lines, or its refusal as (error type, line number, message)."""


def reference_outcome(data: bytes, ctx: ParseContext) -> Outcome:
    """The per-line parser (the reference) over ``data``: its lines or its refusal."""
    try:
        return list(parse_statement(io.BytesIO(data), ctx))
    except DomainError as exc:
        return type(exc), getattr(exc, "line_no", None), exc.message


def bulk_outcome(data: bytes, ctx: ParseContext) -> Outcome | None:
    """The bulk path over ``data``: its lines, its refusal, or None when it falls back."""
    try:
        return bulk_lines(io.BytesIO(data), ctx)
    except DomainError as exc:
        return type(exc), getattr(exc, "line_no", None), exc.message


def bulk_lines(stream: BinaryIO, ctx: ParseContext) -> list[StatementLine] | None:
    """The source's bulk path over the file as lines; None when it falls back (or the
    source has none)."""
    bulk = bulk_parser(ctx.source)
    if bulk is None:
        return None
    try:
        blocks = list(bulk(stream, uuid.uuid4(), ctx))
    except Fallback:
        return None
    text = b"".join(block.text for block in blocks).decode("utf-8")
    lines = [_line(row.split("\t")) for row in text.split("\n")[:-1]]
    tally = (sum(b.lines for b in blocks), sum(b.fee_total_fen for b in blocks))
    assert tally == (len(lines), sum(line.fee_fen for line in lines)), "the blocks' tally"
    return lines


def parse_as_upload(stream: BinaryIO, ctx: ParseContext) -> list[StatementLine]:
    """The file's lines the way an upload reads them: the bulk path, and when it falls back
    the per-line parser (one work budget for both)."""
    lines = bulk_lines(stream, ctx)
    if lines is not None:
        return lines
    stream.seek(0)
    ctx.statement_date = ctx.given_date
    return list(parse_statement(stream, ctx))


def _line(fields: list[str]) -> StatementLine:
    (_, line_no, source, statement_date, kind, out_trade_no, channel_txn_id, out_refund_no,
     amount, fee, status, occurred_at, refs) = fields  # fmt: skip
    return StatementLine(
        source=Source(source),
        statement_date=date.fromisoformat(statement_date),
        line_no=int(line_no),
        kind=LineKind(kind),
        out_trade_no=_nullable(out_trade_no),
        channel_txn_id=_nullable(channel_txn_id),
        out_refund_no=_nullable(out_refund_no),
        amount_fen=int(amount),
        fee_fen=int(fee),
        status=LineStatus(status),
        occurred_at=datetime.fromisoformat(occurred_at),
        refs=tuple(json.loads(refs).items()),
    )


def _nullable(text: str) -> str | None:
    return None if text == NULL else text


def same_lines(data: bytes, context: Callable[[], ParseContext]) -> list[StatementLine]:
    """The lines of ``data`` by the bulk path, which must take the file and give the
    reference's (each parse in a fresh ``context()``)."""
    lines = bulk_outcome(data, context())
    assert isinstance(lines, list), "the file takes the bulk path"
    assert lines == reference_outcome(data, context())
    return lines


def falls_back_or_agrees(data: bytes, context: Callable[[], ParseContext]) -> None:
    """The bulk path over ``data`` falls back or gives the reference's outcome."""
    found = bulk_outcome(data, context())
    assert found is None or found == reference_outcome(data, context())


def spliced(genuine: bytes, at: int, cut: int, patch: bytes) -> bytes:
    """``genuine`` with ``cut`` bytes at ``at`` replaced by ``patch`` (a random mutation)."""
    return genuine[:at] + patch + genuine[at + cut :]
