"""The bulk path of UnionPay's ZM file (see ``bulk`` and ``unionpay``): the zip, its entry and
the day of the file names are the reference's own (``unionpay.read``); the records are read
chunk by chunk, sliced into fields by one match of the fixed-width layout per record, and
converted column by column through the reference's converters once per distinct value.

It takes records in their ordinary shape: ASCII (GBK text, sliced by bytes, is left to the
reference), at most 607 bytes (shorter ones padded back with spaces as the reference pads
them), one space after every field, no blank line, no control character, TAB or backslash.
Anything else is a Fallback; the per-line parser then loads or refuses the file."""

from __future__ import annotations

import contextlib
import re
import uuid
from collections.abc import Iterator
from datetime import date, datetime
from itertools import repeat
from typing import BinaryIO, Final

from otd_shared.money import WIRE_AMOUNT_DIGITS_MAX
from recon_service.adapters.statements import unionpay as ref
from recon_service.adapters.statements.base import ByteStream, ParseContext, fen, positive
from recon_service.adapters.statements.bulk import (
    BulkBlock,
    ChunkRules,
    Converters,
    Fallback,
    Memo,
    copy_rows,
    keyed,
    kind_text,
    or_null,
    positive_amounts,
    ref_columns,
    refs_objects,
    refusals_fall_back,
    tallied,
    text_chunks,
    utc_text,
)
from recon_service.domain.statement import LineStatus, to_utc

# The fields the lines are made of (numbers as in ``unionpay``), captured in this order.
FIELDS: Final = (
    ref.TXN_CODE, ref.TRACE_NO, ref.TRACE_TIME, ref.ACCOUNT, ref.AMOUNT, ref.QUERY_ID,
    ref.ORDER_ID, ref.FEE, ref.SETTLE, ref.TXN_TYPE, ref.BIZ_TYPE, ref.ORIG_QUERY_ID,
    ref.MER_ID, ref.TERM_ID, ref.ORIG_ORDER_ID,
)  # fmt: skip
# One padded ASCII record: the captured fields by their widths, a space after each but the last.
_RECORD: Final = re.compile(
    " ".join(
        f"(.{{{width}}})" if number in FIELDS else f".{{{width}}}"
        for number, width in enumerate(ref.WIDTHS, start=1)
    ),
    re.DOTALL | re.ASCII,
)
# A column of signed amounts as ``unionpay._signed`` reads them, D or C before the digits.
_SIGNED: Final = rf"[DC][0-9]{{1,{WIRE_AMOUNT_DIGITS_MAX + 2}}}"
_SIGNED_COLUMN: Final = re.compile(rf"{_SIGNED}(?:\n{_SIGNED})*", re.ASCII)
# The refs in the reference's order, (key, field); settle_fen (a number, never empty) after
# account.
_REFS_HEAD: Final = (
    ("txn_code", ref.TXN_CODE), ("query_id", ref.QUERY_ID), ("trace_no", ref.TRACE_NO),
    ("account", ref.ACCOUNT),
)  # fmt: skip
_REFS_TAIL: Final = (
    ("txn_type", ref.TXN_TYPE), ("biz_type", ref.BIZ_TYPE), ("mer_id", ref.MER_ID),
    ("terminal_id", ref.TERM_ID),
)  # fmt: skip
_DIGITS10: Final = re.compile(r"[0-9]{10}", re.ASCII)
_SETTLE_PIECE: Final = ',"settle_fen":"%d"'
# Decoded as ASCII; a TAB, backslash, lone CR or NUL would not go into COPY text as it is.
RULES: Final = ChunkRules(unsafe=("\t", "\\", "\r", "\x00"), drop_bom=False)


def _kind(code: str) -> tuple[str, bool]:
    return kind_text(ref.KINDS.get(code), "交易代码")


def _amount(text: str) -> int:
    name = ref.NAMES[ref.AMOUNT]
    return positive(fen(text, 0, name), 0, name)


def _fee(text: str) -> int:
    return ref._signed(text, 0, ref.NAMES[ref.FEE])


def _settle(text: str) -> int:
    return ref._signed(text, 0, ref.NAMES[ref.SETTLE])


def _signed(texts: list[str], convert: Memo[str, int]) -> list[int]:
    """``unionpay._signed`` of each value; a column of D/C and digits taken as it is (D:
    positive, C: negative)."""
    joined = "\n".join(texts)
    if _SIGNED_COLUMN.fullmatch(joined) is None:
        return convert(texts)
    return list(map(int, joined.replace("D", "").replace("C", "-").split("\n")))


class TraceTimes:
    """``unionpay._trace_time`` as COPY text for one statement day: ten ASCII digits of a
    real time built directly, in the year of their month and day nearest to the day (found
    once per month and day, as the reference finds it); anything else is the reference's
    (which refuses it)."""

    def __init__(self, day: date) -> None:
        self._day = day
        self._years: dict[str, int | None] = {}

    def __call__(self, text: str) -> str:
        if _DIGITS10.fullmatch(text) is not None:
            year = self._years.get(text[:4], 0)
            if year == 0:
                year = self._years.setdefault(text[:4], self._nearest_year(text[:4]))
            if year is not None:
                hour, minute, second = int(text[4:6]), int(text[6:8]), int(text[8:])
                with contextlib.suppress(ValueError):  # not a time of day: the reference's
                    naive = datetime(year, int(text[:2]), int(text[2:4]), hour, minute, second)  # noqa: DTZ001
                    return utc_text(to_utc(naive))
        return utc_text(ref._trace_time(text, self._day, 0))

    def _nearest_year(self, month_day: str) -> int | None:
        """The reference's year of ``MMDD``: of the years around the day's, the one whose
        date is nearest (the earlier on a tie); None when none has that date."""
        day, best = self._day, None
        for year in (day.year - 1, day.year, day.year + 1):
            try:
                candidate = date(year, int(month_day[:2]), int(month_day[2:]))
            except ValueError:
                continue
            if best is None or abs(candidate - day) < abs(best - day):
                best = candidate
        return None if best is None else best.year


class _Memos(Converters[int]):
    """The converters of one parse, each once per distinct value (the trace times' year is
    the one nearest to the day)."""

    def __init__(self, day: date) -> None:
        super().__init__((*_REFS_HEAD, *_REFS_TAIL))
        self.kind = Memo(_kind)
        self.amount = Memo(_amount)
        self.fee = Memo(_fee)
        self.settle = Memo(_settle)
        self.utc = Memo(TraceTimes(day))


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the ZM records; Fallback for anything but an ordinary file."""

    def records(body: ByteStream, ctx: ParseContext, max_bytes: int) -> Iterator[BulkBlock]:
        return _records(body, statement_id, ctx, max_bytes)

    return ref.read(stream, ctx, records)


def _records(
    body: ByteStream, statement_id: uuid.UUID, ctx: ParseContext, max_bytes: int
) -> Iterator[BulkBlock]:
    memos: _Memos | None = None
    for chunk in text_chunks(body, ctx, encoding="ascii", max_bytes=max_bytes, rules=RULES):
        if ctx.statement_date is None:
            raise Fallback("no statement date")  # the reference says where
        memos = memos or _Memos(ctx.statement_date)
        with refusals_fall_back():
            yield _convert(_Records(chunk.lines), chunk.first_line_no, statement_id, ctx, memos)


class _Records:
    """The records of one chunk, by field (stripped, as the reference strips them)."""

    def __init__(self, lines: list[str]) -> None:
        if max(map(len, lines)) > ref.RECORD_BYTES:
            raise Fallback("a record longer than the layout")
        # A blank line becomes a record of spaces: its empty 交易代码 falls back.
        padded = "".join(map(str.ljust, lines, repeat(ref.RECORD_BYTES)))
        found = _RECORD.findall(padded)
        # Matches of exactly RECORD_BYTES, one per record, tile the text: each is a record.
        if len(found) != len(lines):
            raise Fallback("not the ZM layout")
        self.count = len(lines)
        self._fields = {
            number: list(map(str.strip, values))
            for number, values in zip(FIELDS, zip(*found, strict=True), strict=True)
        }

    def field(self, number: int) -> list[str]:
        """A field of every record by its number."""
        return self._fields[number]


def _convert(
    records: _Records, first_no: int, statement_id: uuid.UUID, ctx: ParseContext, m: _Memos
) -> BulkBlock:
    field, count = records.field, records.count
    kinds, is_refund = zip(*m.kind(field(ref.TXN_CODE)), strict=True)
    amounts = positive_amounts(field(ref.AMOUNT), m.amount)
    fees = _signed(field(ref.FEE), m.fee)
    order, query = field(ref.ORDER_ID), field(ref.QUERY_ID)
    trade_nos = [o if r else n for n, o, r in zip(order, field(ref.ORIG_ORDER_ID), is_refund,
                                                   strict=True)]  # fmt: skip
    txn_ids = [o if r else q for q, o, r in zip(query, field(ref.ORIG_QUERY_ID), is_refund,
                                                 strict=True)]  # fmt: skip
    refund_nos = [n if r else "" for n, r in zip(order, is_refund, strict=True)]
    keyed(trade_nos, txn_ids, refund_nos)
    day = ctx.required_date("ZM times carry no year; name the statement date")
    copied = copy_rows(statement_id, ctx.source, day, first_no, [
        kinds, or_null(trade_nos), or_null(txn_ids), or_null(refund_nos), list(map(str, amounts)),
        m.text(fees), [LineStatus.SUCCEEDED.value] * count, m.utc(field(ref.TRACE_TIME)),
        _refs(records, m),
    ])  # fmt: skip
    return tallied(copied, amounts, is_refund, sum(fees))


def _refs(records: _Records, m: _Memos) -> list[str]:
    """The refs JSON of each record (the reference's ``refs``: empty fields left out)."""
    field = records.field
    pieces = ref_columns(field, m.refs)
    settled = _signed(field(ref.SETTLE), m.settle)
    pieces.insert(len(_REFS_HEAD), list(map(_SETTLE_PIECE.__mod__, settled)))
    return refs_objects(pieces)
