"""UnionPay ACP reconciliation detail file ZM (docs/channel-formats.md §5.2).

Fixed width by BYTES in GBK (a Chinese character is two bytes), 42 fields with the official
demo's width array, ONE separator byte (a space, [I]) after every field but the last:
607 bytes a record. Records whose trailing spaces were trimmed are padded back. Amounts are
fen (n12, zero-padded); signed amounts are a ``D``/``C`` byte plus digits (D: debited to us).
``交易传输时间`` is MMDDhhmmss without a year: the year is the one that puts the time nearest
to the statement date, so ZM needs the statement date (given, or 8 digits in the file name).
Accepts the bare ZM file or the downloaded zip holding ``INN…ZM_<merId>``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime
from pathlib import PurePosixPath
from typing import BinaryIO, Final, TypeVar

from recon_service.adapters.statements.base import (
    TIME_CACHE_SIZE,
    ZIP_MAGIC,
    ByteStream,
    ParseContext,
    byte_lines,
    fen,
    open_entry,
    open_zip,
    or_none,
    positive,
    refs,
    refuse_utf8,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine, to_utc

WIDTHS: Final = (
    3, 11, 11, 6, 10, 19, 12, 4, 2, 21, 2, 32, 2, 6, 10, 13, 13, 4, 15, 2, 2,
    6, 2, 4, 32, 1, 21, 15, 1, 15, 32, 13, 13, 8, 32, 13, 13, 12, 2, 1, 32, 98,
)  # fmt: skip
SEPARATOR: Final = b" "
RECORD_BYTES: Final = sum(WIDTHS) + len(WIDTHS) - 1
assert RECORD_BYTES == 607
# Field numbers (1-based, as in the table of docs/channel-formats.md §5.2).
TXN_CODE, TRACE_NO, TRACE_TIME, ACCOUNT, AMOUNT, QUERY_ID, ORDER_ID = 1, 4, 5, 6, 7, 10, 12
FEE, SETTLE, TXN_TYPE, BIZ_TYPE, ORIG_QUERY_ID, MER_ID, TERM_ID = 16, 17, 20, 22, 27, 28, 34
ORIG_ORDER_ID = 41
NAMES: Final = {
    TXN_CODE: "交易代码", TRACE_TIME: "交易传输时间", AMOUNT: "交易金额", FEE: "商户手续费",
    SETTLE: "结算金额", ORDER_ID: "商户订单号", QUERY_ID: "查询流水号",
}  # fmt: skip
KINDS: Final = {
    "S22": LineKind.PAYMENT,  # 消费
    "S30": LineKind.REFUND,  # 退货
    "S31": LineKind.REFUND,  # 消费撤销 ([I]: a void returns the money like a refund)
}
DATE_IN_NAME_RE: Final = re.compile(r"(20\d{2})(\d{2})(\d{2})")
ZM_ENTRY_RE: Final = re.compile(r"ZM_")


def _offsets() -> tuple[tuple[int, int], ...]:
    spans, start = [], 0
    for width in WIDTHS:
        spans.append((start, start + width))
        start += width + len(SEPARATOR)
    return tuple(spans)


SPANS: Final = _offsets()
# An ASCII record: every field by its width, one separator after each but the last.
RECORD_RE: Final = re.compile(" ".join(f"(.{{{width}}})" for width in WIDTHS), re.DOTALL | re.ASCII)


T = TypeVar("T")
Records = Callable[[ByteStream, ParseContext, int], Iterator[T]]
"""What reads the ZM records: (body, ctx, max bytes) → its items."""


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The ZM records as lines."""
    return read(stream, ctx, _records)


def read(stream: BinaryIO, ctx: ParseContext, records_of: Records[T]) -> Iterator[T]:
    """The bare ZM file or the zip holding it, read by ``records_of`` once the day of the
    file names is known (the bulk path reads the records its own way, the rest the same)."""
    if stream.read(4) == ZIP_MAGIC:
        stream.seek(0)
        yield from _zipped(stream, ctx, records_of)
        return
    stream.seek(0)
    _date_from_name(ctx, ctx.filename)
    yield from records_of(stream, ctx, ctx.limits.max_file_bytes)


def _zipped(stream: BinaryIO, ctx: ParseContext, records_of: Records[T]) -> Iterator[T]:
    archive = open_zip(stream, ctx)
    with archive:
        entries = [
            i for i in archive.infolist()
            if ZM_ENTRY_RE.search(PurePosixPath(i.filename).name) and "ZME_" not in i.filename
        ]  # fmt: skip
        if len(entries) != 1:
            raise StatementFormatError(None, f"expected one ZM_ entry, found {len(entries)}")
        entry = entries[0]
        _date_from_name(ctx, ctx.filename)
        _date_from_name(ctx, entry.filename)
        with open_entry(archive, entry) as body:
            yield from records_of(body, ctx, ctx.unpacked_limit())


def _date_from_name(ctx: ParseContext, name: str | None) -> None:
    found = DATE_IN_NAME_RE.search(PurePosixPath(name or "").name)
    if found:
        try:
            ctx.offered_date(date(*(int(g) for g in found.groups())))
        except ValueError:
            return


def _records(body: ByteStream, ctx: ParseContext, max_bytes: int) -> Iterator[StatementLine]:
    statement_date: date | None = None
    for line_no, raw in byte_lines(body, ctx, max_bytes=max_bytes):
        if not raw.strip():
            continue
        if statement_date is None:
            statement_date = ctx.required_date("ZM times carry no year; name the statement date")
        refuse_utf8(raw, line_no)
        yield _line(_fields(raw, line_no), line_no, ctx, statement_date)


def _fields(raw: bytes, line_no: int) -> list[str]:
    """Slice one record by bytes, then decode each field. An ASCII record (the usual one) is
    sliced in one match of the layout, which checks every separator at once."""
    if len(raw) > RECORD_BYTES:
        raise StatementFormatError(
            line_no, f"record is {len(raw)} bytes; ZM records are {RECORD_BYTES} (wrong widths?)"
        )
    record = raw.ljust(RECORD_BYTES, b" ")
    if record.isascii():
        found = RECORD_RE.fullmatch(record.decode("ascii"))
        if found is not None:
            return [field.strip() for field in found.groups()]
    fields = []
    for number, (start, end) in enumerate(SPANS, start=1):
        if end < RECORD_BYTES and record[end : end + 1] != SEPARATOR:
            raise StatementFormatError(
                line_no,
                f"byte {end + 1} after field {number} is not the separator: "
                "the record is not in the 607-byte ZM layout (wrong widths?)",
            )
        try:
            fields.append(record[start:end].decode("gb18030").strip())
        except UnicodeDecodeError:
            raise StatementFormatError(
                line_no, f"field {number} is not valid GBK (a width splits a character?)"
            ) from None
    return fields


def _line(fields: list[str], line_no: int, ctx: ParseContext, day: date) -> StatementLine:
    def field(number: int) -> str:
        return fields[number - 1]

    code = field(TXN_CODE)
    kind = KINDS.get(code)
    if kind is None:
        raise StatementFormatError(line_no, f"交易代码 {code!r} is not one of {', '.join(KINDS)}")
    amount = positive(fen(field(AMOUNT), line_no, NAMES[AMOUNT]), line_no, NAMES[AMOUNT])
    own_order, own_query = or_none(field(ORDER_ID)), or_none(field(QUERY_ID))
    refund = kind is LineKind.REFUND
    return StatementLine(
        source=ctx.source,
        statement_date=day,
        line_no=line_no,
        kind=kind,
        out_trade_no=or_none(field(ORIG_ORDER_ID)) if refund else own_order,
        channel_txn_id=or_none(field(ORIG_QUERY_ID)) if refund else own_query,
        out_refund_no=own_order if refund else None,
        amount_fen=amount,
        fee_fen=_signed(field(FEE), line_no, NAMES[FEE]),
        status=LineStatus.SUCCEEDED,
        occurred_at=_trace_time(field(TRACE_TIME), day, line_no),
        refs=refs(
            txn_code=code,
            query_id=own_query,
            trace_no=field(TRACE_NO),
            account=field(ACCOUNT),
            settle_fen=str(_signed(field(SETTLE), line_no, NAMES[SETTLE])),
            txn_type=field(TXN_TYPE),
            biz_type=field(BIZ_TYPE),
            mer_id=field(MER_ID),
            terminal_id=field(TERM_ID),
        ),
    )


def _signed(text: str, line_no: int, name: str) -> int:
    """``D000000000012`` → 12 (debited to us: a fee we pay); ``C…`` → negative."""
    if not text:
        return 0
    sign, digits = text[:1], text[1:]
    if sign not in ("D", "C"):
        raise StatementFormatError(line_no, f"{name}: {text!r} does not start with D or C")
    value = fen(digits, line_no, name)
    return value if sign == "D" else -value


def _trace_time(text: str, day: date, line_no: int) -> datetime:
    """MMDDhhmmss in the year that puts it nearest to the statement date."""
    if len(text) != 10 or not text.isdigit():
        raise StatementFormatError(line_no, f"交易传输时间 {text!r} is not MMDDhhmmss")
    found = _nearest(text, day)
    if found is None:
        raise StatementFormatError(line_no, f"交易传输时间 {text!r} is not a valid time")
    return found


@functools.lru_cache(maxsize=TIME_CACHE_SIZE)
def _nearest(text: str, day: date) -> datetime | None:
    """The UTC instant of MMDDhhmmss (ten digits) in the year nearest to ``day`` (None: no
    valid time); cached, as a file lists many records per second. ASCII digits are read
    directly (the same as strptime of ``%Y%m%d%H%M%S``: each field is two digits), anything
    else by strptime."""
    best: datetime | None = None
    parts = tuple(int(text[i : i + 2]) for i in range(0, 10, 2)) if text.isascii() else None
    for year in (day.year - 1, day.year, day.year + 1):
        try:
            if parts is None:
                candidate = datetime.strptime(f"{year}{text}", "%Y%m%d%H%M%S")  # noqa: DTZ007
            else:
                month, mday, hour, minute, second = parts
                candidate = datetime(year, month, mday, hour, minute, second)  # noqa: DTZ001
        except ValueError:
            continue
        if best is None or abs(candidate.date() - day) < abs(best.date() - day):
            best = candidate
    return None if best is None else to_utc(best)
