"""The bulk path of our cashiers' cash statement (see ``bulk`` and ``cash``): a plain CSV
(``bulk.plain_csv``: no quotes, no whitespace, every row as wide as the header) column by
column through the reference's converters, once per distinct value. Anything else — a row
of another day, a kind or receipt number the reference refuses — is a Fallback; the
per-line parser then loads or refuses the file."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO, Final

from recon_service.adapters.statements import cash as ref
from recon_service.adapters.statements.base import (
    ISO_SECONDS,
    ParseContext,
    fen,
    local_date,
    local_time,
    positive,
)
from recon_service.adapters.statements.bulk import (
    BulkBlock,
    Converters,
    Fallback,
    Memo,
    PlainRows,
    copy_rows,
    json_safe,
    kind_text,
    or_null,
    plain_csv,
    plain_fen,
    refs_objects,
    refusals_fall_back,
    tallied,
    utc_text,
)
from recon_service.domain.statement import LineStatus

_REFS: Final = (("store_id", "store_id"), ("cashier", "cashier"))


def _kind(text: str) -> tuple[str, bool]:
    return kind_text(ref.KINDS.get(text.lower()), "kind")


def _day(text: str) -> date:
    return local_date(text, "%Y-%m-%d", 0, "date")


def _utc(text: str) -> str:
    """``<day> <time>`` (the reference's occurred_at) as COPY text."""
    return utc_text(local_time(text, ISO_SECONDS, 0, "time"))


def _amount(text: str) -> int:
    return positive(fen(text, 0, "amount_fen"), 0, "amount_fen")


class _Memos(Converters[str]):
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        super().__init__(_REFS)
        self.kind = Memo(_kind)
        self.day = Memo(_day)
        self.utc = Memo(_utc)
        self.amount = Memo(_amount)


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the statement's receipts; Fallback for anything but a plain file."""
    _, blocks = plain_csv(stream, ctx, ref.REQUIRED)
    memos = _Memos()
    for rows in blocks:
        with refusals_fall_back():
            yield _convert(rows, statement_id, ctx, memos)


def _convert(rows: PlainRows, statement_id: uuid.UUID, ctx: ParseContext, m: _Memos) -> BulkBlock:
    col, count = rows.col, rows.count
    days = set(m.day(col("date")))
    if len(days) != 1:
        raise Fallback("rows of several days")
    day = ctx.stated_date(days.pop(), None)
    kinds, is_refund = zip(*m.kind(col("kind")), strict=True)
    receipts = col("receipt_no")
    if not all(receipts):
        raise Fallback("an empty receipt_no")
    amounts = _amounts(col("amount_fen"), m)
    stamp = day.isoformat() + " "
    times = [stamp + (t or "00:00:00") for t in col("time")]
    refund_nos = [n if r else "" for n, r in zip(receipts, is_refund, strict=True)]
    copied = copy_rows(statement_id, ctx.source, day, rows.first_no, [
        kinds, or_null(col("order_ref")), receipts, or_null(refund_nos), m.text(amounts),
        ["0"] * count, [LineStatus.SUCCEEDED.value] * count, m.utc(times), _refs(rows, m),
    ])  # fmt: skip
    return tallied(copied, amounts, is_refund, 0)


def _amounts(texts: list[str], m: _Memos) -> list[int]:
    """The reference's amount_fen of each row; plain digit columns taken as they are."""
    amounts = plain_fen(texts)
    if amounts is None:
        return m.amount(texts)
    if min(amounts) <= 0:
        raise Fallback("an amount that is not above zero")
    return amounts


def _refs(rows: PlainRows, m: _Memos) -> list[str]:
    """The refs JSON of each row (the reference's ``refs``: empty fields left out)."""
    columns = [rows.col(column) for column, _ in m.refs]
    if not all(map(json_safe, columns)):
        raise Fallback("refs need JSON escapes")
    pieces = [piece(values) for values, (_, piece) in zip(columns, m.refs, strict=True)]
    return refs_objects(pieces)
