"""Incoming bank transfers from the bank-enterprise direct link: OUR OWN layout (docs/recon.md,
"wire"), one file per value date.

UTF-8 CSV (a BOM is tolerated), header row required, columns by name::

    value_date,bank_account,payer_name,payer_account_last4,amount_fen|amount_yuan,bank_reference,remark[,direction]

``value_date`` YYYY-MM-DD, the same on every row; exactly one of ``amount_fen`` (integer) or
``amount_yuan`` (two decimals at most); ``payer_account_last4`` four digits; ``bank_reference``
the bank's unique reference (the key the gateway's wire intake keeps as ``channel_txn_id``);
optional ``direction`` credit (default, money in) | debit (money out: a refund paid by wire).
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
    yuan_fen,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine

REQUIRED: Final = (
    "value_date", "bank_account", "payer_name", "payer_account_last4", "bank_reference", "remark",
)  # fmt: skip
KINDS: Final = {"": LineKind.PAYMENT, "credit": LineKind.PAYMENT, "debit": LineKind.REFUND}


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The transfers as lines."""
    lines = text_lines(stream, ctx, "utf-8")
    header_no, header = next(lines, (1, ""))
    columns = Columns(
        [h.strip().lower() for h in split_csv(header, header_no)], header_no, required=REQUIRED
    )
    if columns.has("amount_fen") == columns.has("amount_yuan"):
        raise StatementFormatError(header_no, "exactly one of amount_fen or amount_yuan is needed")
    for line_no, text in lines:
        fields = [f.strip() for f in split_csv(text, line_no)]
        columns.check_width(fields, line_no)
        yield _line(columns, fields, line_no, ctx)


def _line(columns: Columns, fields: list[str], line_no: int, ctx: ParseContext) -> StatementLine:
    get = columns.get
    day = ctx.stated_date(
        local_date(get(fields, "value_date"), "%Y-%m-%d", line_no, "value_date"), line_no
    )
    if columns.has("amount_fen"):
        amount = fen(get(fields, "amount_fen"), line_no, "amount_fen")
    else:
        amount = yuan_fen(get(fields, "amount_yuan"), line_no, "amount_yuan")
    last4 = get(fields, "payer_account_last4")
    if len(last4) != 4 or not last4.isdigit():
        raise StatementFormatError(line_no, "payer_account_last4 must be four digits")
    kind = KINDS.get(columns.optional(fields, "direction").lower())
    if kind is None:
        raise StatementFormatError(line_no, "direction must be credit or debit")
    reference = or_none(get(fields, "bank_reference"))
    if reference is None:
        raise StatementFormatError(line_no, "bank_reference is empty")
    return StatementLine(
        source=ctx.source,
        statement_date=day,
        line_no=line_no,
        kind=kind,
        out_trade_no=None,
        channel_txn_id=reference,
        out_refund_no=None,
        amount_fen=positive(amount, line_no, "amount"),
        fee_fen=0,
        status=LineStatus.SUCCEEDED,
        occurred_at=local_time(
            f"{day.isoformat()} 00:00:00", "%Y-%m-%d %H:%M:%S", line_no, "value_date"
        ),
        refs=refs(
            bank_account=get(fields, "bank_account"),
            payer_name=get(fields, "payer_name"),
            payer_account_last4=last4,
            remark=get(fields, "remark"),
        ),
    )
