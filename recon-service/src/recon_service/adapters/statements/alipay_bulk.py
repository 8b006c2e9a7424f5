"""The bulk path of the Alipay trade bill (see ``bulk`` and ``alipay``): the archive, its
entries and the summary check are the reference's own (``alipay.read``); the detail table is
read chunk by chunk, column by column, through the reference's converters once per distinct
value.

It takes a detail table in its ordinary shape: ``#`` lines up to the ``业务明细列表`` marker,
the header, rows without quotes and each as wide as the header, the closing marker and only
``#`` lines after it. Fields are stripped as the reference strips them (Alipay ends many
with a TAB); a TAB left inside a field, a value a converter refuses, a UTF-8 line: Fallback.
"""

from __future__ import annotations

import itertools
import uuid
from collections.abc import Iterator, Sequence
from typing import BinaryIO, Final

from recon_service.adapters.statements import alipay as ref
from recon_service.adapters.statements.base import (
    ByteStream,
    Columns,
    ParseContext,
    local_time,
    yuan_fen,
)
from recon_service.adapters.statements.bulk import (
    BulkBlock,
    Chunk,
    ChunkRules,
    Fallback,
    Memo,
    copy_rows,
    json_piece,
    json_safe,
    kind_text,
    or_null,
    plain_yuan,
    ref_pieces,
    refusals_fall_back,
    tallied,
    text_chunks,
    utc_text,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineStatus

ENCODING: Final = "gb18030"  # the reference's gbk_text
REFUND_NO: Final = "退款批次号/请求号"
# The refs in the reference's order: (key, column).
_REFS: Final = (
    ("store_id", "门店编号"), ("terminal_id", "终端号"), ("operator", "操作员"),
    ("received_yuan", ref.RECEIVED), ("created_at", "创建时间"),
)  # fmt: skip
_UNPLAIN: Final = ('"', "\x00")


def _no_utf8_lines(data: bytes) -> None:
    """The reference refuses a non-ASCII line that is valid UTF-8 (``refuse_utf8``)."""
    if data.isascii():
        return
    for raw in data.split(b"\n"):
        if raw.isascii():
            continue
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:
            continue
        raise Fallback("a UTF-8 line")


RULES: Final = ChunkRules(unsafe=("\\", "\r"), drop_bom=False, check_raw=_no_utf8_lines)


def _kind(business: str) -> tuple[str, bool]:
    return kind_text(ref.KINDS.get(business), "业务类型")


def _signed(text: str) -> int:
    return yuan_fen(text, 0, ref.AMOUNT, allow_negative=True)


def _utc(text: str) -> str:
    return utc_text(local_time(text, ref.TIME_FORMAT, 0, "完成时间"))


def _business_piece(value: str) -> str:
    return json_piece("business_type", value)


class _Memos:
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        self.kind = Memo(_kind)
        self.signed = Memo(_signed)
        self.utc = Memo(_utc)
        self.text = Memo(str)
        self.business: Memo[str, str] = Memo(_business_piece)
        self.refs = [(column, ref_pieces(key)) for key, column in _REFS]


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the detail's rows; Fallback for anything but an ordinary bill."""

    def detail(
        body: ByteStream, ctx: ParseContext, max_bytes: int, counted: ref._Counted
    ) -> Iterator[BulkBlock]:
        return _detail(body, statement_id, ctx, max_bytes, counted)

    return ref.read(stream, ctx, detail)


def _detail(
    body: ByteStream, statement_id: uuid.UUID, ctx: ParseContext, max_bytes: int,
    counted: ref._Counted,
) -> Iterator[BulkBlock]:  # fmt: skip
    chunks = text_chunks(body, ctx, encoding=ENCODING, max_bytes=max_bytes, rules=RULES)
    first = next(chunks, None)
    if first is None:
        raise Fallback("empty")
    columns, rows_from = _head(first, ctx)
    memos = _Memos()
    chunk: Chunk | None = Chunk(first.first_line_no + rows_from, first.lines[rows_from:])
    while chunk is not None:
        rows, rest = _rows(chunk.lines)
        if rows:
            block = _Block(rows, chunk.first_line_no, columns)
            yield block.convert(statement_id, ctx, counted, memos)
        if rest is not None:
            _footer(rest, chunks)
            return
        chunk = next(chunks, None)
    raise Fallback("no closing marker")


def _nonblank(chunk: Chunk) -> Iterator[tuple[int, str]]:
    return ((chunk.first_line_no + i, t) for i, t in enumerate(chunk.lines) if t.strip())


def _head(first: Chunk, ctx: ParseContext) -> tuple[Columns, int]:
    """The preamble (the reference's, stating the day) and the header of the first chunk;
    the columns and the index in the chunk of the line after the header."""
    lines = _nonblank(first)
    try:
        ref._preamble(lines, ctx, ref.DETAIL_OPEN)
        header_no, header = next(lines)
        if any(mark in header for mark in _UNPLAIN):
            raise Fallback("a quoted header")
        columns = Columns(
            [f.strip() for f in header.split(",")], header_no,
            required=ref.DETAIL_REQUIRED, aliases=ref.ALIASES,
        )  # fmt: skip
        ctx.required_date("the bill has no #起始日期 line")
    except (StatementFormatError, StopIteration):
        raise Fallback("preamble or header") from None
    return columns, header_no - first.first_line_no + 1


def _rows(lines: list[str]) -> tuple[list[str], list[str] | None]:
    """The rows at the start of a chunk and, from the first # line on, the rest."""
    end = next((i for i, line in enumerate(lines) if line.startswith("#")), None)
    if end is None:
        return lines, None
    return lines[:end], lines[end:]


def _footer(rest: list[str], chunks: Iterator[Chunk]) -> None:
    """The closing marker, then only # lines (blank ones skipped) to the end."""
    if ref.DETAIL_CLOSE not in rest[0]:
        raise Fallback("a # line inside the detail table")
    tail = itertools.chain(rest[1:], *(chunk.lines for chunk in chunks))
    if not all(line.startswith("#") or not line.strip() for line in tail):
        raise Fallback("not only # lines after the table")


class _Block:
    """Rows of one chunk, split into columns."""

    def __init__(self, rows: list[str], first_no: int, columns: Columns) -> None:
        self.count = len(rows)
        self.first_no = first_no
        joined = "\n".join(rows)
        if any(mark in joined for mark in _UNPLAIN):
            raise Fallback("quotes or NUL")
        if set(map(str.count, rows, [","] * self.count)) != {columns.width - 1}:
            raise Fallback("field count")
        self._flat = joined.replace("\n", ",").split(",")
        self._columns = columns

    def col(self, name: str) -> list[str]:
        """A column by header name, stripped; "" in every row when the header lacks it. A
        TAB inside a value is a Fallback."""
        if not self._columns.has(name):
            return [""] * self.count
        values = list(map(str.strip, self._flat[self._columns._index[name] :: self._columns.width]))
        if "\t" in "".join(values):
            raise Fallback("a TAB inside a field")
        return values

    def convert(
        self, statement_id: uuid.UUID, ctx: ParseContext, counted: ref._Counted, memos: _Memos
    ) -> BulkBlock:
        """The block's COPY text and tally; its counts go into ``counted``."""
        with refusals_fall_back():
            return self._convert(statement_id, ctx, counted, memos)

    def _convert(
        self, statement_id: uuid.UUID, ctx: ParseContext, counted: ref._Counted, m: _Memos
    ) -> BulkBlock:
        col, count = self.col, self.count
        business = col("业务类型")
        kinds, is_refund = zip(*m.kind(business), strict=True)
        signed = self._signed(m)
        if any((s < 0) != r for s, r in zip(signed, is_refund, strict=True)):
            raise Fallback("an amount with the wrong sign")
        amounts = [abs(s) for s in signed]
        if min(amounts) <= 0:
            raise Fallback("an amount that is not above zero")
        fees = [-abs(f) if r else abs(f) for f, r in zip(m.signed(col(ref.FEE)),
                                                           is_refund, strict=True)]  # fmt: skip
        refund_nos = [o if r else "" for o, r in zip(col(REFUND_NO), is_refund, strict=True)]
        ids = [col("商户订单号"), col("支付宝交易号")]
        statement_date = ctx.required_date("the bill has no #起始日期 line")
        copied = copy_rows(statement_id, ctx.source, statement_date, self.first_no, [
            kinds, *(or_null(c) for c in ids), or_null(refund_nos), m.text(amounts),
            m.text(fees), [LineStatus.SUCCEEDED.value] * count,
            m.utc(col("完成时间")), self._refs(business, m),
        ])  # fmt: skip
        block = tallied(copied, amounts, is_refund, sum(fees))
        counted.payments += block.payments
        counted.refunds += block.refunds
        counted.signed_amount_fen += sum(signed)
        return block

    def _signed(self, m: _Memos) -> list[int]:
        """The signed 订单金额 of each row; columns written the plain way taken as they are."""
        texts = self.col(ref.AMOUNT)
        return plain_yuan(texts) or m.signed(texts)

    def _refs(self, business: Sequence[str], m: _Memos) -> list[str]:
        """The refs JSON of each row (the reference's ``refs``: empty fields left out)."""
        columns = [self.col(column) for column, _ in m.refs]
        if not (json_safe(business) and all(map(json_safe, columns))):
            raise Fallback("refs need JSON escapes")
        pieces = [piece(values) for values, (_, piece) in zip(columns, m.refs, strict=True)]
        rows = zip(m.business(business), *pieces, strict=True)  # the type is never empty
        return list(map("{%s%s%s%s%s%s}".__mod__, rows))
