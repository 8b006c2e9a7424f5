"""The bulk path of our bank-link wire statement (see ``bulk`` and ``wire``): a CSV without
quotes (``bulk.plain_csv``, fields stripped as the reference strips them: payer names and
remarks may hold spaces) column by column through the reference's converters, once per
distinct value. Anything else — a row of another day, a direction, last-4 or bank reference
the reference refuses — is a Fallback; the per-line parser then loads or refuses the file."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO, Final

from recon_service.adapters.statements import wire as ref
from recon_service.adapters.statements.base import (
    ISO_SECONDS,
    Columns,
    ParseContext,
    fen,
    local_date,
    local_time,
    positive,
    yuan_fen,
)
from recon_service.adapters.statements.bulk import (
    NULL,
    BulkBlock,
    Converters,
    Fallback,
    Memo,
    PlainRows,
    copy_rows,
    json_safe,
    plain_csv,
    plain_fen,
    plain_yuan,
    refs_objects,
    refusals_fall_back,
    tallied,
    utc_text,
)
from recon_service.domain.statement import LineKind, LineStatus

_REFS: Final = (
    ("bank_account", "bank_account"), ("payer_name", "payer_name"),
    ("payer_account_last4", "payer_account_last4"), ("remark", "remark"),
)  # fmt: skip
_LAST4: Final = re.compile(r"[0-9]{4}(?:\n[0-9]{4})*", re.ASCII)


def _kind(text: str) -> str:
    kind = ref.KINDS.get(text.lower())
    if kind is None:
        raise Fallback("direction")
    return kind.value


def _day(text: str) -> date:
    return local_date(text, "%Y-%m-%d", 0, "value_date")


def _fen(text: str) -> int:
    return positive(fen(text, 0, "amount_fen"), 0, "amount")


def _yuan(text: str) -> int:
    return positive(yuan_fen(text, 0, "amount_yuan"), 0, "amount")


class _Memos(Converters[str]):
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        super().__init__(_REFS)
        self.kind = Memo(_kind)
        self.day = Memo(_day)
        self.fen = Memo(_fen)
        self.yuan = Memo(_yuan)


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the statement's transfers; Fallback for anything but a plain file."""
    columns, blocks = plain_csv(stream, ctx, ref.REQUIRED, strip=True)
    if columns.has("amount_fen") == columns.has("amount_yuan"):
        raise Fallback("amount columns")
    memos = _Memos()
    for rows in blocks:
        with refusals_fall_back():
            yield _convert(rows, columns, statement_id, ctx, memos)


def _convert(
    rows: PlainRows, columns: Columns, statement_id: uuid.UUID, ctx: ParseContext, m: _Memos
) -> BulkBlock:
    col, count = rows.col, rows.count
    days = set(m.day(col("value_date")))
    if len(days) != 1:
        raise Fallback("rows of several days")
    day = ctx.stated_date(days.pop(), None)
    amounts = _amounts(rows, columns, m)
    if _LAST4.fullmatch("\n".join(col("payer_account_last4"))) is None:
        raise Fallback("payer_account_last4")
    kinds = m.kind(col("direction"))
    references = col("bank_reference")
    if not all(references):
        raise Fallback("an empty bank_reference")
    midnight = utc_text(local_time(f"{day.isoformat()} 00:00:00", ISO_SECONDS, 0, "value_date"))
    copied = copy_rows(statement_id, ctx.source, day, rows.first_no, [
        kinds, [NULL] * count, references, [NULL] * count, m.text(amounts), ["0"] * count,
        [LineStatus.SUCCEEDED.value] * count, [midnight] * count, _refs(rows, m),
    ])  # fmt: skip
    refund = LineKind.REFUND.value
    return tallied(copied, amounts, [k == refund for k in kinds], 0)


def _amounts(rows: PlainRows, columns: Columns, m: _Memos) -> list[int]:
    """The reference's amount of each row (fen or yuan, above zero); plain columns taken as
    they are."""
    if columns.has("amount_fen"):
        texts = rows.col("amount_fen")
        amounts, convert = plain_fen(texts), m.fen
    else:
        texts = rows.col("amount_yuan")
        amounts, convert = plain_yuan(texts), m.yuan
    if amounts is None:
        return convert(texts)
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
