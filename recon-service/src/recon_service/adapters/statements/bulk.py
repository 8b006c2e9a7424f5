"""The bulk path of statement parsing: whole chunks of a file at once, column by column, as
COPY text — for files in their ordinary shape; anything else falls back to the per-line
parser, which stays the reference.

A bulk parser reads the file in chunks of whole lines, checks a chunk with string
operations that run in C (decode, count, replace, split), splits it into columns and
converts each column by calling the reference parser's own converters once per DISTINCT
value (a bill has few distinct times, amounts and fees per day), so its values are the
reference's by construction. It writes ``statement_lines`` rows as COPY text.

It never decides that a file is broken: whatever it does not recognise as ordinary (a blank
line between rows, a field with whitespace at its edge, a backslash, a value a converter
refuses, a limit reached) raises ``Fallback`` and the caller parses the file again with the
per-line parser, which refuses it with the line number or loads it. Checks that only compare
the file with itself once every row was read (WeChat's summary row) are the reference's own
functions over the same totals, so they raise the reference's errors directly.
"""

from __future__ import annotations

import contextlib
import re
import time
import uuid
from collections.abc import Callable, Hashable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Final, Generic, TypeVar

from otd_shared.money import WIRE_AMOUNT_DIGITS_MAX
from recon_service.adapters.statements.base import (
    UNPACK_ERRORS,
    UTF8_BOM,
    ByteStream,
    Columns,
    ParseContext,
)
from recon_service.adapters.tables import DUPLICATE_KEY_COLUMNS
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, Source, to_utc

CHUNK_BYTES: Final = 2 * 1024 * 1024
"""What one read takes from the (unpacked) file; a chunk is its whole lines."""
TRAILER_MAX_BYTES: Final = 64 * 1024
"""What may follow the last row (a summary) for the bulk path to read it whole."""
NULL: Final = "\\N"  # COPY text's null
KEY_WIDTH: Final = len(DUPLICATE_KEY_COLUMNS)
"""The first columns given to ``copy_rows``: a line's duplicate key (kind … amount_fen)."""
MAX_UTF8_BYTES: Final = 4  # what one character may take
MEMO_CAP: Final = 100_000
"""Distinct values a ``Memo`` keeps (a day's bill has about 86,400 distinct times)."""
MOSTLY_NEW: Final = 2
"""A column more than 1/2 of whose values in a chunk are new and distinct is converted value
by value (a table of them would only cost)."""
_WHITESPACE: Final = re.compile(r"\s")
# A column of yuan amounts with exactly two decimals, one per line (no sign, no space).
_YUAN_COLUMN: Final = re.compile(r"[0-9]{1,15}\.[0-9]{2}(?:\n[0-9]{1,15}\.[0-9]{2})*", re.ASCII)
_SIGNED_YUAN_COLUMN: Final = re.compile(
    r"-?[0-9]{1,15}\.[0-9]{2}(?:\n-?[0-9]{1,15}\.[0-9]{2})*", re.ASCII
)
# A column of fen amounts as ``money.fen_text_to_fen`` reads them without a sign.
_FEN_COLUMN: Final = re.compile(
    rf"[0-9]{{1,{WIRE_AMOUNT_DIGITS_MAX + 2}}}(?:\n[0-9]{{1,{WIRE_AMOUNT_DIGITS_MAX + 2}}})*",
    re.ASCII,
)
_DIGITS14: Final = re.compile(r"[0-9]{14}", re.ASCII)
_JSON_UNSAFE: Final = re.compile(r'["\x00-\x1f]')
# What a chunk must not contain for its fields to go into COPY text as they are.
_COPY_UNSAFE: Final = ("\t", "\\", "\r")

T = TypeVar("T", bound=Hashable)
K = TypeVar("K")
C = TypeVar("C")  # what names a column: a header name, a field number

Charset = Callable[[bytes, int], str | None]
"""The encoding of a file whose reference decides it from its text: given the raw bytes of
a chunk (whole lines) and its first line number, the encoding, or None while it is not
decided yet (the chunk is then read as ASCII)."""


class Fallback(Exception):  # noqa: N818  (a signal, not an error)
    """The bulk path does not take this file: parse it with the per-line parser."""


@contextlib.contextmanager
def refusals_fall_back() -> Iterator[None]:
    """A value the reference's converters refuse sends the file to the per-line parser,
    which decides the refusal (with its line number) or loads it."""
    try:
        yield
    except StatementFormatError:
        raise Fallback("a value the reference refuses") from None


@dataclass(frozen=True, slots=True)
class CopyRows:
    """COPY text of some ``statement_lines`` rows, and the hash of each row's duplicate key
    (kind, ids and amount: what a ``SameKeyWatch`` is told)."""

    text: bytes
    key_hashes: list[int]


@dataclass(frozen=True, slots=True)
class BulkBlock:
    """COPY text of some ``statement_lines`` rows and what they add to the statement."""

    text: bytes
    key_hashes: list[int]
    lines: int
    payments: int
    refunds: int
    payment_total_fen: int
    refund_total_fen: int
    fee_total_fen: int


@dataclass(frozen=True, slots=True)
class Chunk:
    """Whole decoded lines of a file (without their endings, CRLF and LF alike)."""

    first_line_no: int
    lines: list[str]


@dataclass(frozen=True, slots=True)
class ChunkRules:
    """What a source's bulk path lets through a chunk: the characters it refuses (Fallback),
    whether a first-line BOM is dropped (as the reference's reader does), and a check of
    the raw bytes of the chunk's lines (the reference's per-line checks before decoding)."""

    unsafe: tuple[str, ...] = _COPY_UNSAFE
    drop_bom: bool = True
    check_raw: Callable[[bytes], None] | None = None


def text_chunks(
    body: ByteStream,
    ctx: ParseContext,
    *,
    encoding: str | Charset,
    max_bytes: int,
    rules: ChunkRules = ChunkRules(),  # noqa: B008  (frozen)
) -> Iterator[Chunk]:
    """The file's lines chunk by chunk under the parse's limits (bytes, lines, line length,
    seconds); a first-line UTF-8 BOM is dropped (``rules``). ``encoding`` is the file's, or
    what decides it from the first chunks (``Charset``). Anything the per-line reader would
    refuse or treat specially — a limit reached, text not in the encoding, a lone CR, a tab
    or a backslash (``rules``) — is a Fallback."""
    limits = ctx.limits
    decide = _Decided(encoding)
    total = 0
    line_no = 1
    carry = b""
    while True:
        if time.monotonic() > ctx.deadline:
            raise Fallback("work budget")
        try:
            data = body.read(CHUNK_BYTES)  # type: ignore[attr-defined]
        except UNPACK_ERRORS:
            raise Fallback("unreadable") from None
        total += len(data)
        if total > max_bytes:
            raise Fallback("too large")
        if not data:
            if carry:
                yield _chunk(line_no, carry + b"\n", decide, ctx, rules)
            return
        data = carry + data
        end = data.rfind(b"\n")
        if end < 0:
            carry = data
            if len(carry) > limits.max_line_bytes:
                raise Fallback("long line")
            continue
        carry = data[end + 1 :]
        chunk = _chunk(line_no, data[: end + 1], decide, ctx, rules)
        line_no += len(chunk.lines)
        yield chunk


class _Decided:
    """A file's encoding, given or decided by its ``Charset`` from the first chunk that
    settles it (ASCII until then)."""

    def __init__(self, encoding: str | Charset) -> None:
        self._charset = None if isinstance(encoding, str) else encoding
        self._encoding = encoding if isinstance(encoding, str) else None

    def __call__(self, data: bytes, line_no: int) -> str:
        if self._encoding is None and self._charset is not None:
            self._encoding = self._charset(data, line_no)
        return self._encoding or "ascii"


def _chunk(
    line_no: int, data: bytes, encoding: _Decided, ctx: ParseContext, rules: ChunkRules
) -> Chunk:
    """``data`` (whole lines, each ending in LF) as a chunk; a line over a quarter of the
    byte limit in characters is a Fallback (it may be over the limit in bytes)."""
    if rules.check_raw is not None:
        rules.check_raw(data)
    try:
        text = data.decode(encoding(data, line_no))
    except UnicodeDecodeError:
        raise Fallback("charset") from None
    if any(bad in text for bad in rules.unsafe if bad != "\r"):
        raise Fallback("special characters")
    if line_no == 1 and rules.drop_bom and data.startswith(UTF8_BOM):
        text = text[1:]
    lines = _lines(text)
    if "\r" in rules.unsafe and "\r" in "".join(lines):
        raise Fallback("a lone CR")
    if line_no + len(lines) - 1 > ctx.limits.max_lines:
        raise Fallback("too many lines")
    if max(map(len, lines)) * MAX_UTF8_BYTES > ctx.limits.max_line_bytes:
        raise Fallback("long line")
    return Chunk(line_no, lines)


def _lines(text: str) -> list[str]:
    """Decoded whole lines (each ending in LF) without their endings, CRLF and LF alike; a
    lone CR stays in its line."""
    if text.endswith("\r\n"):
        lines = text[:-2].split("\r\n")
        if "\n" not in "".join(lines):  # every line ended in CRLF (a replace costs more)
            return lines
    return (text.replace("\r\n", "\n") if "\r" in text else text)[:-1].split("\n")


class Memo(Generic[T, K]):
    """A converter applied once per distinct value over the whole parse (the table is
    emptied when it would outgrow ``cap`` distinct values, so memory stays bounded). Values
    most of which are new and distinct (ids, times to the second) are converted one by one,
    without the table, which would only cost."""

    def __init__(self, convert: Callable[[T], K], cap: int = MEMO_CAP) -> None:
        self._convert = convert
        self._cap = cap
        self._table: dict[T, K] = {}

    def __call__(self, values: Sequence[T]) -> list[K]:
        """``convert`` of every value, in order."""
        table = self._table
        try:
            return list(map(table.__getitem__, values))
        except KeyError:
            pass
        missing = set(values).difference(table)
        if len(missing) > self._cap or len(missing) * MOSTLY_NEW > len(values):
            return self._each(values)
        if len(table) + len(missing) > self._cap:
            table.clear()
        convert = self._convert
        table.update((value, convert(value)) for value in missing)
        return list(map(table.__getitem__, values))

    def _each(self, values: Sequence[T]) -> list[K]:
        return list(map(self._convert, values))


class Converters(Generic[C]):
    """The converters of one parse, each once per distinct value (``Memo``): a source's adds
    its own to these two — ``text`` (COPY text of numbers) and ``refs``, the ``ref_pieces`` of
    the refs' columns, (key, column) in the reference's order."""

    def __init__(self, refs: Sequence[tuple[str, C]]) -> None:
        self.text: Memo[int, str] = Memo(str)
        self.refs = [(column, ref_pieces(key)) for key, column in refs]


def kind_text(kind: LineKind | None, what: str) -> tuple[str, bool]:
    """COPY text of the kind the reference gives a row, and whether it is a refund; None (the
    reference refuses the row's ``what``) is a Fallback."""
    if kind is None:
        raise Fallback(what)
    return kind.value, kind is LineKind.REFUND


def plain_yuan(values: Sequence[str], *, allow_negative: bool = False) -> list[int] | None:
    """Fen of a column of yuan amounts when every one is written ``123.45`` (or ``-123.45``
    when ``allow_negative``: what ``money.wire_yuan_to_fen`` reads as 12345 or -12345), else
    None: the caller converts them one by one."""
    joined = "\n".join(values)
    column = _SIGNED_YUAN_COLUMN if allow_negative else _YUAN_COLUMN
    if not values or column.fullmatch(joined) is None:
        return None
    return list(map(int, joined.replace(".", "").split("\n")))


def plain_fen(values: Sequence[str]) -> list[int] | None:
    """Fen of a column of unsigned digit strings (what ``money.fen_text_to_fen`` reads as
    their ``int``), else None: the caller converts them one by one."""
    joined = "\n".join(values)
    if not values or _FEN_COLUMN.fullmatch(joined) is None:
        return None
    return list(map(int, joined.split("\n")))


def compact_local_time(text: str) -> datetime | None:
    """The UTC instant of a local ``yyyyMMddHHmmss`` written out in full (14 ASCII digits
    that name a real time), sliced instead of strptime-d; None for anything else, which
    the caller hands to the reference's converter. (For such a text strptime's pattern takes
    two digits per field too, so the two agree: tested.)"""
    if _DIGITS14.fullmatch(text) is None:
        return None
    try:
        naive = datetime(int(text[:4]), int(text[4:6]), int(text[6:8]),  # noqa: DTZ001
                         int(text[8:10]), int(text[10:12]), int(text[12:]))  # fmt: skip
    except ValueError:
        return None
    return to_utc(naive)


def bare(values: Sequence[str]) -> bool:
    """Whether no value has whitespace anywhere (so stripping changes none)."""
    return _WHITESPACE.search("".join(values)) is None


def json_safe(values: Sequence[str]) -> bool:
    """Whether every value can go into a JSON string as it is (no quote, no control)."""
    return _JSON_UNSAFE.search("".join(values)) is None


def or_null(values: Sequence[str]) -> list[str]:
    """COPY text of optional values: empty is null."""
    return [value or NULL for value in values]


def json_piece(key: str, value: str) -> str:
    """``"key":"value"`` ("" for an empty value, which refs leave out); the value needs no
    JSON escape (``json_safe``)."""
    return f'"{key}":"{value}"' if value else ""


def copy_rows(
    statement_id: uuid.UUID,
    source: Source,
    statement_date: date,
    first_line_no: int,
    columns: Sequence[Sequence[str]],
) -> CopyRows:
    """COPY text of rows in ``STATEMENT_LINE_COLUMNS`` order: the constant statement id,
    source and day, consecutive line numbers, then ``columns`` (kind … refs); with the hash
    of each row's first ``KEY_WIDTH`` columns (kind, out_trade_no, channel_txn_id,
    out_refund_no, amount_fen: the duplicate key)."""
    count = len(columns[0])
    head = f"{statement_id}\t%d\t{source.value}\t{statement_date.isoformat()}"
    numbers = map(head.__mod__, range(first_line_no, first_line_no + count))
    rows = map("\t".join, zip(numbers, *columns, strict=False))
    key_hashes = list(map(hash, zip(*columns[:KEY_WIDTH], strict=True)))
    return CopyRows(("\n".join(rows) + "\n").encode("utf-8"), key_hashes)


def utc_text(instant: datetime) -> str:
    """A UTC instant as COPY text of a timestamptz."""
    return instant.isoformat()


# What a plain CSV chunk must not contain for its rows to be split on commas as they are.
_UNPLAIN: Final = ('"', "\x00")


class PlainRows:
    """Rows of one chunk of a plain CSV — no quotes (CSV quoting) or NUL, each as wide as the
    header — split into columns; anything else is a Fallback. Without ``strip`` no field may
    hold whitespace at all (the references strip every field, so their values are the
    fields); with it, columns are stripped as they are read (for text like names)."""

    def __init__(
        self, rows: list[str], first_no: int, columns: Columns, *, strip: bool = False
    ) -> None:
        self.count = len(rows)
        self.first_no = first_no
        self._strip = strip
        joined = "\n".join(rows)
        if any(mark in joined for mark in _UNPLAIN) or not (strip or bare(rows)):
            raise Fallback("quotes, NUL or whitespace")
        if set(map(str.count, rows, [","] * self.count)) != {columns.width - 1}:
            raise Fallback("field count")
        self._flat = joined.replace("\n", ",").split(",")
        self._columns = columns

    def col(self, name: str) -> list[str]:
        """A column by header name ("" in every row when the header lacks it)."""
        if not self._columns.has(name):
            return [""] * self.count
        values = self._flat[self._columns._index[name] :: self._columns.width]
        return list(map(str.strip, values)) if self._strip else values


FirstLine = Callable[[str], tuple[Columns, bool]]
"""A CSV's columns from its first line, and whether that line is the header (else a row);
a StatementFormatError (a header without the required columns) is a Fallback."""


def plain_csv(
    stream: ByteStream, ctx: ParseContext, required: Sequence[str], *, strip: bool = False
) -> tuple[Columns, Iterator[PlainRows]]:
    """A UTF-8 CSV whose header (line 1, names stripped and lower-cased, as the references
    read them) has ``required``, and its rows chunk by chunk."""

    def header(line: str) -> tuple[Columns, bool]:
        names = [h.strip().lower() for h in line.split(",")]
        return Columns(names, 1, required=required), True

    chunks = text_chunks(stream, ctx, encoding="utf-8", max_bytes=ctx.limits.max_file_bytes)
    return csv_rows(chunks, header, strip=strip)


def csv_rows(
    chunks: Iterator[Chunk], first_line: FirstLine, *, strip: bool = False
) -> tuple[Columns, Iterator[PlainRows]]:
    """The columns of a plain CSV (``first_line`` reads them from line 1, which must not be
    blank or quoted) and its rows chunk by chunk (``PlainRows``)."""
    first = next(chunks, None)
    if first is None or not first.lines[0].strip():
        raise Fallback("no header on line 1")
    line = first.lines[0]
    if any(mark in line for mark in _UNPLAIN):
        raise Fallback("a quoted header")
    try:
        columns, is_header = first_line(line)
    except StatementFormatError:
        raise Fallback("header") from None
    rows_from = 1 if is_header else 0

    def blocks() -> Iterator[PlainRows]:
        if len(first.lines) > rows_from:
            yield PlainRows(first.lines[rows_from:], 1 + rows_from, columns, strip=strip)
        for chunk in chunks:
            yield PlainRows(chunk.lines, chunk.first_line_no, columns, strip=strip)

    return columns, blocks()


class _Pieces(Memo[str, str]):
    """``,"key":"value"`` of a refs column ("" for an empty value); values mostly new are
    built in one comprehension."""

    def __init__(self, key: str) -> None:
        self._head = f',"{key}":"'
        super().__init__(self._piece)

    def _piece(self, value: str) -> str:
        return self._head + value + '"' if value else ""

    def _each(self, values: Sequence[str]) -> list[str]:
        head = self._head
        return [head + value + '"' if value else "" for value in values]


def ref_pieces(key: str) -> Memo[str, str]:
    """``,"key":"value"`` of a refs column ("" for an empty value, which refs leave out)."""
    return _Pieces(key)


def refs_objects(pieces: Sequence[Sequence[str]]) -> list[str]:
    """Each row's refs JSON from its ``ref_pieces`` columns (the first comma dropped)."""
    return ["{" + row[1:] + "}" for row in map("".join, zip(*pieces, strict=True))]


def refs_json(
    col: Callable[[C], list[str]], pieces: Sequence[tuple[C, Memo[str, str]]]
) -> list[str]:
    """Each row's refs JSON (the reference's ``refs``: empty fields left out) from the
    columns ``col`` reads and their ``ref_pieces``, in order."""
    return refs_objects(ref_columns(col, pieces))


def ref_columns(
    col: Callable[[C], list[str]], pieces: Sequence[tuple[C, Memo[str, str]]]
) -> list[list[str]]:
    """The ``ref_pieces`` of the columns ``col`` reads; a value that would need a JSON escape
    is a Fallback."""
    columns = [col(column) for column, _ in pieces]
    if not all(map(json_safe, columns)):
        raise Fallback("refs need JSON escapes")
    return [piece(values) for values, (_, piece) in zip(columns, pieces, strict=True)]


def keyed(*columns: Sequence[str]) -> None:
    """Every row has a key (out_trade_no, channel_txn_id or out_refund_no: the reference's
    ``StatementLine`` refuses a line without one); a row whose ``columns`` are all empty is a
    Fallback."""
    if "" in map(max, *columns):  # the largest of strings is empty when all are
        raise Fallback("a line without a key")


def positive_amounts(
    texts: Sequence[str],
    convert: Memo[str, int],
    plain: Callable[[Sequence[str]], list[int] | None] = plain_fen,
) -> list[int]:
    """The reference's amount (above zero) of each row by ``convert``; a column written the
    plain way (``plain``) taken as it is."""
    amounts = plain(texts)
    if amounts is None:
        return convert(texts)
    if min(amounts) <= 0:
        raise Fallback("an amount that is not above zero")
    return amounts


def tallied(
    copied: CopyRows, amounts: Sequence[int], is_refund: Sequence[bool], fee_total_fen: int
) -> BulkBlock:
    """A block of COPY text with what its rows add up to (refunds by ``is_refund``)."""
    refunds = sum(is_refund)
    refund_total = sum(a for a, r in zip(amounts, is_refund, strict=True) if r)
    return BulkBlock(
        text=copied.text,
        key_hashes=copied.key_hashes,
        lines=len(amounts),
        payments=len(amounts) - refunds,
        refunds=refunds,
        payment_total_fen=sum(amounts) - refund_total,
        refund_total_fen=refund_total,
        fee_total_fen=fee_total_fen,
    )
