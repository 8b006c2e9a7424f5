"""The bulk path of Allinpay's trxfile (see ``bulk`` and ``allinpay``): a CSV without quotes
(``bulk.csv_rows``, fields stripped as the reference strips them), its header optional as
in the reference, in the encoding the reference decides (UTF-8 after a BOM, else that of the
first non-ASCII line: UTF-8 when it decodes as such, else GBK), column by column through the
reference's converters once per distinct value. Anything else — text not in that encoding,
a value the reference refuses, a row without 订单号 and 交易单号 — is a Fallback; the
per-line parser then loads or refuses the file."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import date
from typing import BinaryIO, Final

from recon_service.adapters.statements import allinpay as ref
from recon_service.adapters.statements.base import (
    ISO_SECONDS,
    UTF8_BOM,
    Columns,
    ParseContext,
    fee_fen,
    local_date,
    local_time,
    yuan_fen,
)
from recon_service.adapters.statements.bulk import (
    BulkBlock,
    Converters,
    Fallback,
    Memo,
    PlainRows,
    copy_rows,
    csv_rows,
    keyed,
    or_null,
    plain_yuan,
    refs_json,
    refusals_fall_back,
    tallied,
    text_chunks,
    utc_text,
)
from recon_service.domain.statement import LineKind, LineStatus

_NON_ASCII: Final = re.compile(rb"[\x80-\xff]")
# The refs in the reference's order: (key, column).
_REFS: Final = (
    ("txn_type", "交易类型"), ("trxid", "交易单号"), ("cusid", "商户号"), ("terminal_id", "终端号"),
    ("reference_no", "参考号"), ("card", "卡号"), ("settled_yuan", "结算金额"),
    ("channel_txn_type", "渠道交易类型"), ("store_id", "门店编号"),
)  # fmt: skip
_PAYMENT: Final = LineKind.PAYMENT.value
_REFUND: Final = LineKind.REFUND.value


def charset(data: bytes, first_line_no: int) -> str | None:
    """The reference's encoding (``allinpay._lines``) from a chunk's raw lines: UTF-8 after
    a first-line BOM, else ``allinpay.charset_of`` the first non-ASCII line; None while
    every line is ASCII."""
    if first_line_no == 1 and data.startswith(UTF8_BOM):
        return "utf-8"
    found = _NON_ASCII.search(data)
    if found is None:
        return None
    start = data.rfind(b"\n", 0, found.start()) + 1
    return ref.charset_of(data[start : data.find(b"\n", found.start())])


def _first_line(line: str) -> tuple[Columns, bool]:
    """The reference's columns: by name when the first line is the header, else the
    documented order (and the line is a row)."""
    fields = [f.strip() for f in line.split(",")]
    if fields[0] == ref.COLUMNS[0]:
        return Columns(fields, 1, required=ref.REQUIRED), True
    return Columns(ref.COLUMNS, 1, required=ref.REQUIRED), False


def _day(text: str) -> str:
    return local_date(text, "%Y-%m-%d", 0, "交易日期").isoformat()


def _utc(text: str) -> str:
    """``<day> <交易时间>`` (the reference's occurred_at) as COPY text."""
    return utc_text(local_time(text, ISO_SECONDS, 0, "交易时间"))


def _signed(text: str) -> int:
    return yuan_fen(text, 0, "交易金额", allow_negative=True)


def _fee(text: str) -> int:
    return fee_fen(text or "0", 0, "手续费")


def _marked(txn_type: str) -> bool:
    """Whether 交易类型 names a refund or a void (the reference's rule)."""
    return any(mark in txn_type for mark in ref.REFUND_MARKS)


class _Memos(Converters[str]):
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        super().__init__(_REFS)
        self.day = Memo(_day)
        self.utc = Memo(_utc)
        self.signed = Memo(_signed)
        self.fee = Memo(_fee)
        self.marked = Memo(_marked)


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the file's rows; Fallback for anything but a plain file."""
    chunks = text_chunks(stream, ctx, encoding=charset, max_bytes=ctx.limits.max_file_bytes)
    _, blocks = csv_rows(chunks, _first_line, strip=True)
    memos = _Memos()
    for rows in blocks:
        with refusals_fall_back():
            yield _convert(rows, statement_id, ctx, memos)


def _convert(rows: PlainRows, statement_id: uuid.UUID, ctx: ParseContext, m: _Memos) -> BulkBlock:
    col, count = rows.col, rows.count
    days = m.day(col("交易日期"))
    statement_date = ctx.offered_date(date.fromisoformat(days[0]))
    amounts_text = col("交易金额")
    signed = plain_yuan(amounts_text, allow_negative=True) or m.signed(amounts_text)
    is_refund = [s < 0 or k for s, k in zip(signed, m.marked(col("交易类型")), strict=True)]
    amounts = [abs(s) for s in signed]
    if min(amounts) <= 0:
        raise Fallback("an amount that is not above zero")
    orders, trxs = col("订单号"), col("交易单号")
    keyed(orders, trxs)  # the reference refuses a row with neither
    trade_nos = ["" if r else o for o, r in zip(orders, is_refund, strict=True)]
    txn_ids = [g if r else t for t, g, r in zip(trxs, col("原交易单"), is_refund, strict=True)]
    refund_nos = [o if r else "" for o, r in zip(orders, is_refund, strict=True)]
    keyed(trade_nos, txn_ids, refund_nos)  # a refund by its type may have neither
    fees = m.fee(col("手续费"))
    copied = copy_rows(statement_id, ctx.source, statement_date, rows.first_no, [
        [_REFUND if r else _PAYMENT for r in is_refund], or_null(trade_nos), or_null(txn_ids),
        or_null(refund_nos), list(map(str, amounts)), m.text(fees),
        [LineStatus.SUCCEEDED.value] * count,
        m.utc([d + " " + t for d, t in zip(days, col("交易时间"), strict=True)]),
        refs_json(col, m.refs),
    ])  # fmt: skip
    return tallied(copied, amounts, is_refund, sum(fees))
