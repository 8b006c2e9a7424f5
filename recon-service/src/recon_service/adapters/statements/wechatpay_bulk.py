"""The bulk path of the WeChat Pay trade bill (see ``bulk`` and ``wechatpay``): rows chunk
by chunk, column by column, through the reference parser's converters; the summary is
checked by the reference's own check over the same totals."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime
from decimal import Decimal
from itertools import repeat
from typing import BinaryIO, Final

from recon_service.adapters.statements import wechatpay as ref
from recon_service.adapters.statements.base import (
    Columns,
    ParseContext,
    fee_fen,
    local_time,
    or_none,
    positive,
    yuan_fen,
)
from recon_service.adapters.statements.bulk import (
    TRAILER_MAX_BYTES,
    BulkBlock,
    Chunk,
    Fallback,
    Memo,
    bare,
    copy_rows,
    json_piece,
    json_safe,
    or_null,
    plain_yuan,
    refusals_fall_back,
    tallied,
    text_chunks,
    utc_text,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, business_date_of

SEPARATOR: Final = ",`"
# The refs columns that repeat from row to row, JSON-ed together: (key, column, convert).
_PLAIN_REFS: Final = (
    ("mchid", "商户号"), ("appid", "公众账号ID"), ("sub_mchid", "特约商户号"),
    ("trade_type", "交易类型"), ("trade_state", "交易状态"), ("bank_type", "付款银行"),
)  # fmt: skip

Column = Callable[[str], list[str]]
"""A column of the block by header name ("" in every row when the header lacks it)."""


def _no_id(text: str) -> str:
    return or_none(text, *ref.NO_ID) or ""


def _plain_refs(values: tuple[str, ...]) -> str:
    """The JSON pieces of the repeating refs columns (the reference's stripping)."""
    mchid, appid, sub_mchid, trade_type, state, bank_type = values
    stripped = (mchid.strip(), appid.strip(), _no_id(sub_mchid), trade_type.strip(),
                state.strip(), bank_type.strip())  # fmt: skip
    if not json_safe(stripped):
        raise Fallback("refs need JSON escapes")
    pieces = (json_piece(key, v) for (key, _), v in zip(_PLAIN_REFS, stripped, strict=True))
    return "".join(piece + "," for piece in pieces if piece)


def _comma_after(piece: str) -> str:
    return piece + "," if piece else ""


def _comma_before(piece: str) -> str:
    return "," + piece if piece else ""


def _kind_and_status(key: tuple[str, str, bool]) -> tuple[str, str, bool]:
    """COPY text of the kind and status and whether a refund (the reference's rule)."""
    state, refund_state, has_out_refund = key
    kind, status = ref._kind_and_status(
        state.strip(), refund_state, "1" if has_out_refund else None
    )
    return kind.value, status.value, kind is LineKind.REFUND


def _amount(key: tuple[bool, str, str, str, str]) -> int:
    """The reference's amount: a refund's 申请退款金额 (else 退款金额), a payment's 订单金额
    (else 应结订单金额), above zero."""
    refund, asked, refunded, ordered, settled = key
    if refund:
        amount = yuan_fen(asked, 0, "申请退款金额") if asked.strip() else 0
        return positive(amount or yuan_fen(refunded or "0", 0, "退款金额"), 0, "退款金额")
    amount = yuan_fen(ordered, 0, "订单金额") if ordered.strip() else yuan_fen(settled, 0, "")
    return positive(amount, 0, "订单金额")


def _instant(text: str) -> datetime:
    return local_time(text, ref.TIME_FORMAT, 0, "时间")


def _utc(text: str) -> str:
    return utc_text(_instant(text))


def _yuan(text: str) -> int:
    return yuan_fen(text, 0, "金额")


def _refunded(text: str) -> int:
    return yuan_fen(text or "0", 0, "退款金额")


def _fee(text: str) -> int:
    return fee_fen(text, 0, "手续费")


def _fee_piece(text: str) -> str:
    return json_piece("fee_text", text)


def _refund_id_piece(text: str) -> str:
    return _comma_after(json_piece("refund_id", _no_id(text)))


def _rate_piece(text: str) -> str:
    return _comma_before(json_piece("rate", text.strip()))


class _Memos:
    """The converters of one parse, each once per distinct value."""

    def __init__(self) -> None:
        self.instant = Memo(_instant)
        self.utc = Memo(_utc)
        self.kind_status = Memo(_kind_and_status)
        self.out_refund = Memo(_no_id)
        self.yuan = Memo(_yuan)
        self.refunded = Memo(_refunded)
        self.strip = Memo(str.strip)
        self.fee = Memo(_fee)
        self.fee_yuan = Memo(Decimal)
        self.amount = Memo(_amount)
        self.text = Memo(str)
        self.plain_refs = Memo(_plain_refs)
        self.fee_piece = Memo(_fee_piece)
        self.refund_id_piece = Memo(_refund_id_piece)
        self.rate_piece = Memo(_rate_piece)


def parse(stream: BinaryIO, statement_id: uuid.UUID, ctx: ParseContext) -> Iterator[BulkBlock]:
    """COPY blocks of the bill's rows; Fallback for anything but an ordinary bill."""
    body, max_bytes = ref.open_bill(stream, ctx)
    chunks = text_chunks(body, ctx, encoding=ref.ENCODING, max_bytes=max_bytes)
    first = next(chunks, None)
    if first is None or not first.lines[0].startswith("交易时间"):
        raise Fallback("no header on line 1")
    try:
        columns = Columns(
            first.lines[0].split(","), 1, required=ref.DETAIL_REQUIRED, aliases=ref.DETAIL_ALIASES
        )
    except StatementFormatError:
        raise Fallback("header") from None
    totals = ref._Totals()
    memos = _Memos()
    chunk: Chunk | None = Chunk(2, first.lines[1:])
    while chunk is not None:
        rows, rest = _rows(chunk.lines)
        if rows:
            block = _Block(rows, chunk.first_line_no, columns)
            yield block.convert(statement_id, ctx, totals, memos)
        if rest is not None:
            _summary(rest, chunk.first_line_no + len(rows), chunks, totals)
            return
        chunk = next(chunks, None)
    raise Fallback("no summary")


def _rows(lines: list[str]) -> tuple[list[str], list[str] | None]:
    """The detail rows at the start of a chunk and, once a line is not one, the rest."""
    if all(map(str.startswith, lines, repeat("`"))):
        return lines, None
    end = next(i for i, line in enumerate(lines) if not line.startswith("`"))
    return lines[:end], lines[end:]


def _summary(rest: list[str], line_no: int, chunks: Iterator[Chunk], totals: ref._Totals) -> None:
    """The summary lines (what follows the rows, to the end) checked by the reference."""
    if not rest[0].strip():
        raise Fallback("blank line after the rows")
    size = sum(map(len, rest))
    trailer = [(line_no + i, text) for i, text in enumerate(rest)]
    for chunk in chunks:
        size += sum(map(len, chunk.lines))
        trailer += [(chunk.first_line_no + i, text) for i, text in enumerate(chunk.lines)]
        if size > TRAILER_MAX_BYTES:
            break
    if size > TRAILER_MAX_BYTES:
        raise Fallback("long trailer")
    lines = ((no, text) for no, text in trailer if text.strip())
    header_no, header = next(lines)
    ref._check_summary(header, header_no, lines, totals)


class _Block:
    """Detail rows of one chunk, split into columns."""

    def __init__(self, rows: list[str], first_no: int, columns: Columns) -> None:
        self.count = len(rows)
        self.first_no = first_no
        if set(map(str.count, rows, [SEPARATOR] * self.count)) != {columns.width - 1}:
            raise Fallback("field count")
        self._flat = "\n".join(rows)[1:].replace("\n`", SEPARATOR).split(SEPARATOR)
        self._columns = columns

    def col(self, name: str) -> list[str]:
        """A column by header name ("" in every row when the header lacks it)."""
        if not self._columns.has(name):
            return [""] * self.count
        return self._flat[self._columns._index[name] :: self._columns.width]

    def convert(
        self, statement_id: uuid.UUID, ctx: ParseContext, totals: ref._Totals, memos: _Memos
    ) -> BulkBlock:
        """The block's COPY text and tally; the rows' sums go into ``totals``."""
        with refusals_fall_back():
            return self._convert(statement_id, ctx, totals, memos)

    def _convert(
        self, statement_id: uuid.UUID, ctx: ParseContext, totals: ref._Totals, m: _Memos
    ) -> BulkBlock:
        col, count = self.col, self.count
        times = col("交易时间")
        if ctx.statement_date is None:
            ctx.offered_date(business_date_of(m.instant(times[:1])[0]))
        out_refunds = m.out_refund(col("商户退款单号"))
        kinds, statuses, is_refund = self._kinds(out_refunds, m)
        settled_texts, refunded_texts = col("应结订单金额"), col("退款金额")
        settled = plain_yuan(settled_texts) or m.yuan(settled_texts)
        refunded = plain_yuan(refunded_texts) or m.refunded(refunded_texts)
        fee_texts = m.strip(col("手续费"))
        fees = m.fee(fee_texts)
        amounts = self._amounts(is_refund, refunded, m)
        totals.rows += count
        totals.settled_fen += sum(settled)
        totals.refunded_fen += sum(refunded)
        totals.fee_yuan += sum(m.fee_yuan(fee_texts), Decimal(0))
        keys = [_ids(col("商户订单号")), _ids(col("微信订单号"))]
        refund_nos = [o if r else "" for o, r in zip(out_refunds, is_refund, strict=True)]
        if not all(map(any, zip(*keys, refund_nos, strict=True))):
            raise Fallback("a line without a key")
        statement_date = ctx.required_date("the bill names no day")
        copied = copy_rows(statement_id, ctx.source, statement_date, self.first_no, [
            kinds, *(or_null(k) for k in keys), or_null(refund_nos), m.text(amounts),
            m.text(fees), statuses, self._occurred(times, is_refund, m),
            self._refs(settled, fee_texts, m),
        ])  # fmt: skip
        return tallied(copied, amounts, is_refund, sum(fees))

    def _kinds(
        self, out_refunds: list[str], m: _Memos
    ) -> tuple[Sequence[str], Sequence[str], Sequence[bool]]:
        """Kind, status and whether a refund, per row (the reference's rule); a block whose
        rows all have one state, refund state and refund number presence (a day of payments)
        is converted once."""
        states, refund_states = self.col("交易状态"), self.col("退款状态")
        has_refund_no = list(map(bool, out_refunds))
        if _uniform(states) and _uniform(refund_states) and _uniform(has_refund_no):
            first = (states[0], refund_states[0], has_refund_no[0])
            kind, status, refund = m.kind_status([first])[0]
            return [kind] * self.count, [status] * self.count, [refund] * self.count
        found = m.kind_status(list(zip(states, refund_states, has_refund_no, strict=True)))
        return [f[0] for f in found], [f[1] for f in found], [f[2] for f in found]

    def _amounts(self, is_refund: Sequence[bool], refunded: list[int], m: _Memos) -> list[int]:
        """The reference's amount of each row (``_amount``); columns written the plain way
        (every amount ``123.45``) are taken as they are."""
        asked, ordered = self.col("申请退款金额"), self.col("订单金额")
        asked_fen, ordered_fen = plain_yuan(asked), plain_yuan(ordered)
        if asked_fen is None or ordered_fen is None:
            keys = zip(is_refund, asked, self.col("退款金额"), ordered, self.col("应结订单金额"),
                       strict=True)  # fmt: skip
            return m.amount(list(keys))
        if not any(is_refund):
            amounts = ordered_fen
        else:
            rows = zip(is_refund, asked_fen, refunded, ordered_fen, strict=True)
            amounts = [(a or r) if refund else o for refund, a, r, o in rows]
        if min(amounts) <= 0:
            raise Fallback("an amount that is not above zero")
        return amounts

    def _occurred(self, times: list[str], is_refund: Sequence[bool], m: _Memos) -> list[str]:
        """COPY text of each row's instant: a refund's 退款成功时间 when it has one, else the
        交易时间."""
        occurred = m.utc(times)
        if not any(is_refund):
            return occurred
        refunded_at = m.strip(self.col("退款成功时间"))
        return [
            m.utc([t])[0] if refund and t else at
            for refund, t, at in zip(is_refund, refunded_at, occurred, strict=True)
        ]

    def _refs(self, settled: Sequence[int], fee_texts: list[str], m: _Memos) -> list[str]:
        """The refs JSON of each row (the reference's ``refs``: empty fields left out)."""
        refund_ids = self.col("微信退款单号")
        if not (json_safe(fee_texts) and json_safe(refund_ids)):
            raise Fallback("refs need JSON escapes")
        plain = [self.col(name) for _, name in _PLAIN_REFS]
        if all(map(_uniform, plain)):
            heads = [m.plain_refs([tuple(c[0] for c in plain)])[0]] * self.count
        else:
            heads = m.plain_refs(list(zip(*plain, strict=True)))
        rates = self.col("费率")
        if not json_safe(rates):
            raise Fallback("refs need JSON escapes")
        settled_pieces = [f'"settled_fen":"{fen}"' for fen in settled]  # json_piece's, never empty
        rows = zip(heads, m.refund_id_piece(refund_ids), settled_pieces,
                   m.fee_piece(fee_texts), m.rate_piece(rates), strict=True)  # fmt: skip
        return list(map("{%s%s%s,%s%s}".__mod__, rows))


def _uniform(values: Sequence[object]) -> bool:
    """Whether every value is the first one (True for none)."""
    return not values or values.count(values[0]) == len(values)


def _ids(values: list[str]) -> list[str]:
    """An id column as the reference keeps it (stripped; empty is "", a null)."""
    if bare(values):
        return values
    return [or_none(v) or "" for v in values]
