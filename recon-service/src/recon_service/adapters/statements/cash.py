"""The store cashiers' daily cash statement: OUR OWN layout (docs/recon.md, "cash").

UTF-8 CSV (a BOM is tolerated), header row required, columns by name::

    date,store_id,receipt_no,order_ref,amount_fen,cashier[,time][,kind]

``date`` YYYY-MM-DD, the same on every row (one statement is one business day);
``order_ref`` the payment reference the receipt was recorded against (the ``out_trade_no`` of
the cash payment); ``amount_fen`` a positive integer; optional ``time`` HH:MM:SS (local) and
``kind`` payment|refund (default payment).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Final

from recon_service.adapters.statements.base import (
    Columns,
    ParseContext,
    fen,
    local_date,
    local_time,
    or_none,
    positive,
    refs,
    split_csv,
    text_lines,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine

REQUIRED: Final = ("date", "store_id", "receipt_no", "order_ref", "amount_fen", "cashier")
KINDS: Final = {"": LineKind.PAYMENT, "payment": LineKind.PAYMENT, "refund": LineKind.REFUND}


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The receipts as lines."""
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
    day = ctx.stated_date(local_date(get(fields, "date"), "%Y-%m-%d", line_no, "date"), line_no)
    time = columns.optional(fields, "time") or "00:00:00"
    kind = KINDS.get(columns.optional(fields, "kind").lower())
    if kind is None:
        raise StatementFormatError(line_no, "kind must be payment or refund")
    receipt_no = or_none(get(fields, "receipt_no"))
    if receipt_no is None:
        raise StatementFormatError(line_no, "receipt_no is empty")
    return StatementLine(
        source=ctx.source,
        statement_date=day,
        line_no=line_no,
        kind=kind,
        out_trade_no=or_none(get(fields, "order_ref")),
        channel_txn_id=receipt_no,
        out_refund_no=receipt_no if kind is LineKind.REFUND else None,
        amount_fen=positive(
            fen(get(fields, "amount_fen"), line_no, "amount_fen"), line_no, "amount_fen"
        ),
        fee_fen=0,
        status=LineStatus.SUCCEEDED,
        occurred_at=local_time(f"{day.isoformat()} {time}", "%Y-%m-%d %H:%M:%S", line_no, "time"),
        refs=refs(store_id=get(fields, "store_id"), cashier=get(fields, "cashier")),
    )
