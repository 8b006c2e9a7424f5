"""Alipay trade bill archive (``<PID>0156_<yyyyMMdd>.csv.zip``, docs/channel-formats.md §4).

The zip holds ``…_业务明细.csv`` (the detail) and ``…_业务明细(汇总).csv`` (the summary);
entry names and contents are GBK. The detail starts with ``#`` comment lines (the account and
the day, ``#起始日期：[2019年09月16日 00:00:00]``), then the table between the
``业务明细列表`` and ``业务明细列表结束`` markers, then ``#`` footers. Fields may end with a
TAB; ``（元）`` uses full-width parentheses; refund rows (业务类型 退款) have negative amounts.
When the summary is in the archive its 合计 row is checked against the detail.
A bare detail CSV (not zipped) is accepted too.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import PurePosixPath
from typing import BinaryIO, Final, TypeVar

from recon_service.adapters.statements.base import (
    ZIP_MAGIC,
    ByteStream,
    Columns,
    ParseContext,
    byte_lines,
    gbk_text,
    local_time,
    open_entry,
    open_zip,
    or_none,
    positive,
    refs,
    split_csv,
    yuan_fen,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, Source, StatementLine

DETAIL_SUFFIX: Final = "_业务明细.csv"
SUMMARY_SUFFIXES: Final = ("_业务明细(汇总).csv", "_业务明细（汇总）.csv")
DETAIL_OPEN: Final = "业务明细列表"
DETAIL_CLOSE: Final = "业务明细列表结束"
SUMMARY_OPEN: Final = "业务汇总列表"
SUMMARY_CLOSE: Final = "业务汇总列表结束"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
START_DATE_RE: Final = re.compile(r"起始日期：\[(\d{4})年(\d{2})月(\d{2})日")
ACCOUNT_RE: Final = re.compile(r"账号：\[(\w+)\]")
ENTRY_DATE_RE: Final = re.compile(r"_(\d{8})_")

AMOUNT: Final = "订单金额（元）"
FEE: Final = "服务费（元）"
RECEIVED: Final = "商家实收（元）"
ALIASES: Final = {  # the same columns with ASCII parentheses
    AMOUNT: ("订单金额(元)",),
    FEE: ("服务费(元)",),
    RECEIVED: ("商家实收(元)",),
}
DETAIL_REQUIRED: Final = ("支付宝交易号", "商户订单号", "业务类型", "完成时间", AMOUNT, FEE)
SUMMARY_REQUIRED: Final = ("门店编号", "交易订单总笔数", "退款订单总笔数", AMOUNT)
KINDS: Final = {"交易": LineKind.PAYMENT, "退款": LineKind.REFUND}


@dataclass
class _Counted:
    payments: int = 0
    refunds: int = 0
    signed_amount_fen: int = 0


T = TypeVar("T")
Detail = Callable[[ByteStream, ParseContext, int, "_Counted"], Iterator[T]]
"""What reads the detail table: (body, ctx, max bytes, the counts to fill) → its items."""


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The detail rows as lines; the summary (when present) is checked after them."""
    return read(stream, ctx, _detail)


def read(stream: BinaryIO, ctx: ParseContext, detail_of: Detail[T]) -> Iterator[T]:
    """The archive (or bare detail CSV) read by ``detail_of``: the entries, the day of the
    detail's name, then the summary checked against the counts ``detail_of`` filled (the
    bulk path reads the detail its own way, the rest the same)."""
    if stream.read(4) != ZIP_MAGIC:
        stream.seek(0)
        yield from detail_of(stream, ctx, ctx.limits.max_file_bytes, _Counted())
        return
    stream.seek(0)
    archive = open_zip(stream, ctx)
    with archive:
        detail, summary = _entries(archive, ctx)
        match = ENTRY_DATE_RE.search(PurePosixPath(detail.filename).name)
        if match:
            ctx.stated_date(_yyyymmdd(match.group(1)), None)
        counted = _Counted()
        with open_entry(archive, detail) as body:
            yield from detail_of(body, ctx, ctx.unpacked_limit(), counted)
        if summary is not None:
            with open_entry(archive, summary) as body:
                _check_summary(body, ctx, counted)


def _entries(
    archive: zipfile.ZipFile, ctx: ParseContext
) -> tuple[zipfile.ZipInfo, zipfile.ZipInfo | None]:
    detail: zipfile.ZipInfo | None = None
    summary: zipfile.ZipInfo | None = None
    for info in archive.infolist():
        name = PurePosixPath(info.filename).name
        if name.endswith(DETAIL_SUFFIX):
            detail = info
        elif name.endswith(SUMMARY_SUFFIXES):
            summary = info
    if detail is None:
        names = ", ".join(i.filename for i in archive.infolist())[:200]
        raise StatementFormatError(None, f"no …{DETAIL_SUFFIX} entry in the archive ({names})")
    return detail, summary


def _detail(
    body: ByteStream, ctx: ParseContext, max_bytes: int, counted: _Counted
) -> Iterator[StatementLine]:
    lines = _gbk_lines(body, ctx, max_bytes)
    header_no = _preamble(lines, ctx, DETAIL_OPEN)
    header_no, header = next(lines, (header_no + 1, ""))
    columns = Columns(
        _fields(header, header_no), header_no, required=DETAIL_REQUIRED, aliases=ALIASES
    )
    statement_date = ctx.required_date("the bill has no #起始日期 line")
    for line_no, text in lines:
        if text.startswith("#"):
            if DETAIL_CLOSE not in text:
                raise StatementFormatError(line_no, "a # line inside the detail table")
            _footer(lines)
            return
        fields = _fields(text, line_no)
        columns.check_width(fields, line_no)
        line = _line(columns, fields, line_no, ctx.source, statement_date)
        counted.payments += line.kind is LineKind.PAYMENT
        counted.refunds += line.kind is LineKind.REFUND
        counted.signed_amount_fen += line.signed_amount_fen
        yield line
    raise StatementFormatError(None, f"the detail table ends without {DETAIL_CLOSE} (truncated?)")


def _gbk_lines(body: ByteStream, ctx: ParseContext, max_bytes: int) -> Iterator[tuple[int, str]]:
    for line_no, raw in byte_lines(body, ctx, max_bytes=max_bytes):
        text = gbk_text(raw, line_no)
        if text.strip():
            yield line_no, text


def _preamble(lines: Iterator[tuple[int, str]], ctx: ParseContext, marker: str) -> int:
    """Read the # lines up to the table marker (stating the day); returns the marker's line."""
    for line_no, text in lines:
        if not text.startswith("#"):
            raise StatementFormatError(line_no, f"expected # lines up to the {marker} marker")
        if marker in text:
            return line_no
        found = START_DATE_RE.search(text)
        if found:
            ctx.stated_date(_yyyymmdd("".join(found.groups())), line_no)
    raise StatementFormatError(None, f"no {marker} table in the file")


def _footer(lines: Iterator[tuple[int, str]]) -> None:
    for line_no, text in lines:
        if not text.startswith("#"):
            raise StatementFormatError(line_no, "only # lines may follow the table")


def _fields(text: str, line_no: int) -> list[str]:
    return [f.strip().strip("\t").strip() for f in split_csv(text, line_no)]


def _line(
    columns: Columns, fields: list[str], line_no: int, source: Source, statement_date: date
) -> StatementLine:
    get = columns.get
    business = get(fields, "业务类型")
    kind = KINDS.get(business)
    if kind is None:
        raise StatementFormatError(line_no, f"业务类型 {business[:16]!r} is neither 交易 nor 退款")
    signed = yuan_fen(get(fields, AMOUNT), line_no, AMOUNT, allow_negative=True)
    if (signed < 0) != (kind is LineKind.REFUND):
        raise StatementFormatError(line_no, f"{AMOUNT} {signed} has the wrong sign for {business}")
    fee = abs(yuan_fen(get(fields, FEE), line_no, FEE, allow_negative=True))
    received = columns.optional(fields, RECEIVED)
    return StatementLine(
        source=source,
        statement_date=statement_date,
        line_no=line_no,
        kind=kind,
        out_trade_no=or_none(get(fields, "商户订单号")),
        channel_txn_id=or_none(get(fields, "支付宝交易号")),
        out_refund_no=or_none(columns.optional(fields, "退款批次号/请求号"))
        if kind is LineKind.REFUND
        else None,
        amount_fen=positive(abs(signed), line_no, AMOUNT),
        fee_fen=-fee if kind is LineKind.REFUND else fee,
        status=LineStatus.SUCCEEDED,
        occurred_at=local_time(get(fields, "完成时间"), TIME_FORMAT, line_no, "完成时间"),
        refs=refs(
            business_type=business,
            store_id=columns.optional(fields, "门店编号"),
            terminal_id=columns.optional(fields, "终端号"),
            operator=columns.optional(fields, "操作员"),
            received_yuan=received,
            created_at=columns.optional(fields, "创建时间"),
        ),
    )


def _check_summary(body: ByteStream, ctx: ParseContext, counted: _Counted) -> None:
    lines = _gbk_lines(body, ctx, ctx.unpacked_limit())
    marker_no = _preamble(lines, ctx, SUMMARY_OPEN)
    header_no, header = next(lines, (marker_no + 1, ""))
    columns = Columns(
        _fields(header, header_no), header_no, required=SUMMARY_REQUIRED, aliases=ALIASES
    )
    total: tuple[int, int, int, int] | None = None
    for line_no, text in lines:
        if text.startswith("#"):
            break
        fields = _fields(text, line_no)
        columns.check_width(fields, line_no)
        if fields[0].startswith("合计"):
            total = (
                line_no,
                _int(columns.get(fields, "交易订单总笔数"), line_no),
                _int(columns.get(fields, "退款订单总笔数"), line_no),
                yuan_fen(columns.get(fields, AMOUNT), line_no, AMOUNT, allow_negative=True),
            )
    if total is None:
        raise StatementFormatError(None, "summary file: no 合计 row")
    line_no, payments, refunds, amount_fen = total
    for name, stated, actual in (
        ("交易订单总笔数", payments, counted.payments),
        ("退款订单总笔数", refunds, counted.refunds),
        (AMOUNT, amount_fen, counted.signed_amount_fen),
    ):
        if stated != actual:
            raise StatementFormatError(
                line_no, f"summary file: 合计 {name} is {stated} but the detail adds up to {actual}"
            )


def _int(text: str, line_no: int) -> int:
    if not text.isdigit():
        raise StatementFormatError(line_no, f"summary file: {text[:16]!r} is not a count")
    return int(text)


def _yyyymmdd(text: str) -> date:
    try:
        return date(int(text[:4]), int(text[4:6]), int(text[6:8]))
    except ValueError:
        raise StatementFormatError(None, f"{text} is not a date") from None
