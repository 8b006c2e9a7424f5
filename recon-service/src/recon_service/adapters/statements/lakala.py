"""Lakala statement: an ASSUMED layout (docs/recon.md, "lakala"). Lakala publishes no statement
format (docs/channel-formats.md §6.2, Appendix C); only ``log_no`` (对账单流水号) is documented as
the line key. Replace this module when Lakala provides a sample file.

Assumed: UTF-8 CSV (a BOM is tolerated), header row required, columns by name, field names and
values borrowed from the 聚合扫码 query/notification::

    log_no,trade_no,out_trade_no,acc_trade_no,account_type,trade_type,trade_state,
    trade_time,total_amount,fee_amount[,out_refund_no][,origin_log_no][,merchant_no][,term_no]

``trade_type`` PAY | REFUND | CANCEL; ``trade_state`` SUCCESS | FAIL | CLOSE | REVOKED | …;
``trade_time`` yyyyMMddHHmmss (local); ``total_amount`` and ``fee_amount`` in FEN (Lakala sends
fen everywhere), the fee signed (negative: returned to us). Refund rows carry the original
payment's ``out_trade_no`` and their own ``out_refund_no``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from recon_service.adapters.statements.base import (
    Columns,
    ParseContext,
    fen,
    local_time,
    or_none,
    positive,
    refs,
    split_csv,
    text_lines,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine, business_date_of

REQUIRED: Final = (
    "log_no", "trade_no", "out_trade_no", "trade_type", "trade_state", "trade_time",
    "total_amount", "fee_amount",
)  # fmt: skip
LOG_NO_LEN: Final = 14
KINDS: Final = {"PAY": LineKind.PAYMENT, "REFUND": LineKind.REFUND, "CANCEL": LineKind.REFUND}
STATUSES: Final = {
    "SUCCESS": LineStatus.SUCCEEDED,
    "FAIL": LineStatus.FAILED,
    "CLOSE": LineStatus.CLOSED,
    "REVOKED": LineStatus.CLOSED,
}


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The rows as lines."""
    lines = text_lines(stream, ctx, "utf-8")
    header_no, header = next(lines, (1, ""))
    columns = Columns(
        [h.strip().lower() for h in split_csv(header, header_no)], header_no, required=REQUIRED
    )
    for line_no, text in lines:
        fields = [f.strip() for f in split_csv(text, line_no)]
        columns.check_width(fields, line_no)
        yield _line(columns, fields, line_no, ctx)


def _line(columns: Columns, fields: list[str], line_no: int, ctx: ParseContext) -> StatementLine:
    get = columns.get
    log_no = get(fields, "log_no")
    if len(log_no) != LOG_NO_LEN or not log_no.isdigit():
        raise StatementFormatError(line_no, f"log_no must be {LOG_NO_LEN} digits")
    trade_type = get(fields, "trade_type").upper()
    kind = KINDS.get(trade_type)
    if kind is None:
        raise StatementFormatError(
            line_no, f"trade_type {trade_type[:16]!r} is not PAY, REFUND or CANCEL"
        )
    occurred_at = local_time(get(fields, "trade_time"), "%Y%m%d%H%M%S", line_no, "trade_time")
    refund = kind is LineKind.REFUND
    return StatementLine(
        source=ctx.source,
        statement_date=ctx.offered_date(business_date_of(occurred_at)),
        line_no=line_no,
        kind=kind,
        out_trade_no=or_none(get(fields, "out_trade_no")),
        channel_txn_id=or_none(get(fields, "trade_no")) or log_no,
        out_refund_no=or_none(columns.optional(fields, "out_refund_no")) if refund else None,
        amount_fen=positive(
            fen(get(fields, "total_amount"), line_no, "total_amount"), line_no, "total_amount"
        ),
        fee_fen=fen(get(fields, "fee_amount") or "0", line_no, "fee_amount", allow_negative=True),
        status=STATUSES.get(get(fields, "trade_state").upper(), LineStatus.PENDING),
        occurred_at=occurred_at,
        refs=refs(
            log_no=log_no,
            acc_trade_no=columns.optional(fields, "acc_trade_no"),
            account_type=columns.optional(fields, "account_type"),
            trade_state=get(fields, "trade_state"),
            origin_log_no=columns.optional(fields, "origin_log_no"),
            merchant_no=columns.optional(fields, "merchant_no"),
            term_no=columns.optional(fields, "term_no"),
        ),
    )
