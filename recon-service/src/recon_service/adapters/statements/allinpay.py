"""Allinpay 收银宝 transaction file (trxfile, docs/channel-formats.md §6.1): 34 comma-separated
columns in the documented order, amounts in yuan.

Unverified, so handled both ways: a header row is optional (a first row starting with
``商户号`` is taken as the header and columns are then read by name); the encoding is UTF-8
(a BOM is tolerated) unless the first non-ASCII line is not UTF-8, then GBK. A row is a refund
when 交易类型 names a refund or void (退… / 撤销…) or its amount is negative [I].
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from recon_service.adapters.statements.base import (
    UTF8_BOM,
    Columns,
    ParseContext,
    byte_lines,
    decode,
    fee_fen,
    local_date,
    local_time,
    or_none,
    positive,
    refs,
    split_csv,
    yuan_fen,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine

COLUMNS: Final = (
    "商户号", "门店名称", "终端号", "交易时间", "交易类型", "交易批次号", "凭证号", "参考号",
    "卡号", "卡类别", "发卡行机构代码", "发卡行名称", "交易金额", "手续费", "交易日期",
    "交易单号", "订单号", "商户备注", "对接应用号", "原始金额", "结算金额", "产品类型",
    "分期贴息", "交易完成时间", "持卡人姓名", "持卡人身份证", "分期数", "优惠金额", "实付金额",
    "原交易单", "渠道交易类型", "出金方账户名称", "门店编号", "交易完成日期",
)  # fmt: skip
assert len(COLUMNS) == 34
REQUIRED: Final = ("交易时间", "交易类型", "交易金额", "手续费", "交易日期", "交易单号", "订单号")
REFUND_MARKS: Final = ("退", "撤销")


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The rows as lines."""
    columns: Columns | None = None
    for line_no, text in _lines(stream, ctx):
        fields = [f.strip() for f in split_csv(text, line_no)]
        if columns is None:
            if fields and fields[0] == COLUMNS[0]:
                columns = Columns(fields, line_no, required=REQUIRED)
                continue
            columns = Columns(COLUMNS, line_no, required=REQUIRED)
        columns.check_width(fields, line_no)
        yield _line(columns, fields, line_no, ctx)


def _lines(stream: BinaryIO, ctx: ParseContext) -> Iterator[tuple[int, str]]:
    encoding: str | None = None
    for line_no, raw in byte_lines(stream, ctx):
        if line_no == 1 and raw.startswith(UTF8_BOM):
            raw, encoding = raw[len(UTF8_BOM) :], "utf-8"
        if encoding is None and not raw.isascii():
            encoding = charset_of(raw)
        text = decode(raw, encoding or "ascii", line_no)
        if text.strip():
            yield line_no, text


def charset_of(raw: bytes) -> str:
    """The file's encoding by its first non-ASCII line: UTF-8 when that decodes as UTF-8,
    else GBK (read as GB18030, its superset)."""
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def _line(columns: Columns, fields: list[str], line_no: int, ctx: ParseContext) -> StatementLine:
    get = columns.get
    day = local_date(get(fields, "交易日期"), "%Y-%m-%d", line_no, "交易日期")
    statement_date = ctx.offered_date(day)
    occurred_at = local_time(
        f"{day.isoformat()} {get(fields, '交易时间')}", "%Y-%m-%d %H:%M:%S", line_no, "交易时间"
    )
    txn_type = get(fields, "交易类型")
    signed = yuan_fen(get(fields, "交易金额"), line_no, "交易金额", allow_negative=True)
    refund = signed < 0 or any(mark in txn_type for mark in REFUND_MARKS)
    own_order, own_trx = or_none(get(fields, "订单号")), or_none(get(fields, "交易单号"))
    if not (own_order or own_trx):
        raise StatementFormatError(line_no, "neither 订单号 nor 交易单号 is filled")
    return StatementLine(
        source=ctx.source,
        statement_date=statement_date,
        line_no=line_no,
        kind=LineKind.REFUND if refund else LineKind.PAYMENT,
        out_trade_no=None if refund else own_order,
        channel_txn_id=(or_none(columns.optional(fields, "原交易单")) or None)
        if refund
        else own_trx,
        out_refund_no=own_order if refund else None,
        amount_fen=positive(abs(signed), line_no, "交易金额"),
        fee_fen=fee_fen(get(fields, "手续费") or "0", line_no, "手续费"),
        status=LineStatus.SUCCEEDED,
        occurred_at=occurred_at,
        refs=refs(
            txn_type=txn_type,
            trxid=own_trx,
            cusid=columns.optional(fields, "商户号"),
            terminal_id=columns.optional(fields, "终端号"),
            reference_no=columns.optional(fields, "参考号"),
            card=columns.optional(fields, "卡号"),
            settled_yuan=columns.optional(fields, "结算金额"),
            channel_txn_type=columns.optional(fields, "渠道交易类型"),
            store_id=columns.optional(fields, "门店编号"),
        ),
    )
