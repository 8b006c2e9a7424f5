"""The bulk path of the (assumed) Lakala statement (see ``bulk`` and ``lakala``): rows chunk by
chunk, column by column, through the reference parser's converters, once per distinct value.

It takes a file whose every row is plain: no quotes (CSV quoting), no whitespace at all (the
reference strips every field), every row as wide as the header, ``log_no`` 14 ASCII digits.
Anything else is a Fallback; the per-line parser then loads or refuses the file."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import BinaryIO, Final

from recon_service.adapters.statements import lakala as ref
from recon_service.adapters.statements.base import ParseContext, fen, local_time, positive
from recon_service.adapters.statements.bulk import (
    BulkBlock,
    Converters,
    Fallback,
    Memo,
    PlainRows,
    compact_local_time,
    copy_rows,
    json_safe,
    kind_text,
    or_null,
    plain_csv,
    plain_fen,
    refusals_fall_back,
    tallied,
    utc_text,
)
from recon_service.domain.statement import LineStatus, business_date_of

TIME_FORMAT: Final = "%Y%m%d%H%M%S"
_LOG_NOS: Final = re.compile(
    rf"[0-9]{{{ref.LOG_NO_LEN}}}(?:\n[0-9]{{{ref.LOG_NO_LEN}}})*", re.ASCII
)
# The refs after log_no, in the reference's order: (key, column).
_REFS: Final = (
    ("acc_trade_no", "acc_trade_no"), ("account_type", "account_type"),
    ("trade_state", "trade_state"), ("origin_log_no", "origin_log_no"),
    ("merchant_no", "merchant_no"), ("term_no", "term_no"),
)  # fmt: skip


def _kind(text: str) -> tuple[str, bool]:
    """COPY text of the kind and whether a refund (the reference's rule); Fallback when the
    reference refuses the type."""
    return kind_text(ref.KINDS.get(text.upper()), "trade_type")


def _status(text: str) -> str:
    return ref.STATUSES.get(text.upper(), LineStatus.PENDING).value


def _instant(text: str) -> datetime:
    """The reference's trade_time (``local_time``), written-out times sliced."""
    return compact_local_time(text) or local_time(text, TIME_FORMAT, 0, "trade_time")


def _utc(text: str) -> str:
    return utc_text(_instant(text))


def _amount(text: str) -> int:
    return positive(fen(text, 0, "total_amount"), 0, "total_amount")


def _fee(text: str) -> int:
    return fen(text or "0", 0, "fee_amount", allow_negative=True)


class _Memos(Converters[str]):
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        super().__init__(_REFS)
        self.kind = Memo(_kind)
        self.status = Memo(_status)
        self.utc = Memo(_utc)
        self.amount = Memo(_amount)
        self.fee = Memo(_fee)


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the statement's rows; Fallback for anything but a plain file."""
    _, blocks = plain_csv(stream, ctx, ref.REQUIRED)
    memos = _Memos()
    for rows in blocks:
        yield _Block(rows).convert(statement_id, ctx, memos)


class _Block:
    """Rows of one chunk, by column."""

    def __init__(self, rows: PlainRows) -> None:
        self.count = rows.count
        self.first_no = rows.first_no
        self.col = rows.col

    def convert(self, statement_id: uuid.UUID, ctx: ParseContext, memos: _Memos) -> BulkBlock:
        """The block's COPY text and tally."""
        with refusals_fall_back():
            return self._convert(statement_id, ctx, memos)

    def _convert(self, statement_id: uuid.UUID, ctx: ParseContext, m: _Memos) -> BulkBlock:
        col = self.col
        log_nos = col("log_no")
        if _LOG_NOS.fullmatch("\n".join(log_nos)) is None:
            raise Fallback("log_no")
        kinds, is_refund = zip(*m.kind(col("trade_type")), strict=True)
        times = col("trade_time")
        statement_date = ctx.offered_date(business_date_of(_instant(times[0])))
        amounts = self._amounts(m)
        fees = m.fee(col("fee_amount"))
        txn_ids = [t or n for t, n in zip(col("trade_no"), log_nos, strict=True)]
        refund_nos = [o if r else "" for o, r in zip(col("out_refund_no"), is_refund, strict=True)]
        copied = copy_rows(statement_id, ctx.source, statement_date, self.first_no, [
            kinds, or_null(col("out_trade_no")), txn_ids, or_null(refund_nos), m.text(amounts),
            m.text(fees), m.status(col("trade_state")), m.utc(times), self._refs(log_nos, m),
        ])  # fmt: skip
        return tallied(copied, amounts, is_refund, sum(fees))

    def _amounts(self, m: _Memos) -> list[int]:
        """The reference's total_amount of each row; plain digit columns taken as they are."""
        texts = self.col("total_amount")
        amounts = plain_fen(texts)
        if amounts is None:
            return m.amount(texts)
        if min(amounts) <= 0:
            raise Fallback("an amount that is not above zero")
        return amounts

    def _refs(self, log_nos: Sequence[str], m: _Memos) -> list[str]:
        """The refs JSON of each row (the reference's ``refs``: empty fields left out)."""
        columns = [self.col(column) for column, _ in m.refs]
        if not all(map(json_safe, columns)):
            raise Fallback("refs need JSON escapes")
        pieces = [piece(values) for values, (_, piece) in zip(columns, m.refs, strict=True)]
        heads = ['{"log_no":"' + log_no + '"' for log_no in log_nos]
        return list(map("".join, zip(heads, *pieces, ["}"] * self.count, strict=True)))
