"""WeChat Pay trade bill (交易账单, docs/channel-formats.md §2): ALL, SUCCESS and REFUND bill types,
current and legacy headers, plain or gzip (``tar_type=GZIP``).

Layout: a detail header (no backticks), detail rows (every field starts with one backtick),
a summary header and one summary row. UTF-8, a BOM is tolerated, CRLF or LF. Columns are
found by header NAME. The summary is checked against the rows (count, settled, refunded and
fee totals), so a truncated bill is refused. Amounts are yuan: exact with two decimals,
fees with up to five decimals rounded HALF_UP to the fen.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO, Final

from recon_service.adapters.statements.base import (
    GZIP_MAGIC,
    UTF8_BOM,
    ByteStream,
    Columns,
    ParseContext,
    Picker,
    byte_lines,
    decode,
    fee_fen,
    local_time,
    or_none,
    positive,
    refs,
    yuan_fen,
)
from recon_service.domain.errors import StatementFormatError
from recon_service.domain.statement import LineKind, LineStatus, StatementLine, business_date_of

ENCODING: Final = "utf-8"
TICK: Final = "`"
TIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"
HASH_CHUNK_BYTES: Final = 1024 * 1024
NO_ID: Final = ("0",)  # payment rows carry `0 in the refund-id columns

# Canonical column → legacy spellings (the old v2 header).
DETAIL_ALIASES: Final = {
    "应结订单金额": ("总金额",),
    "特约商户号": ("子商户号",),
    "代金券金额": ("代金券或立减优惠金额",),
    "充值券退款金额": ("代金券或立减优惠退款金额",),
}
DETAIL_REQUIRED: Final = (
    "交易时间",
    "微信订单号",
    "商户订单号",
    "交易状态",
    "应结订单金额",
    "手续费",
)
SUMMARY_ALIASES: Final = {
    "应结订单总金额": ("总交易额",),
    "退款总金额": ("总退款金额",),
}
SUMMARY_REQUIRED: Final = ("总交易单数", "应结订单总金额", "手续费总金额")

REFUND_STATUS: Final = {
    "SUCCESS": LineStatus.SUCCEEDED,
    "PROCESSING": LineStatus.PENDING,
    "REFUNDCLOSE": LineStatus.CLOSED,
    "CLOSED": LineStatus.CLOSED,
    "CHANGE": LineStatus.FAILED,
    "ABNORMAL": LineStatus.FAILED,
}


@dataclass
class _Totals:
    """What the summary row must agree with."""

    rows: int = 0
    settled_fen: int = 0
    refunded_fen: int = 0
    fee_yuan: Decimal = field(default_factory=Decimal)


def parse(stream: BinaryIO, ctx: ParseContext) -> Iterator[StatementLine]:
    """The bill's detail rows as lines; the summary is checked, not emitted."""
    body, max_bytes = open_bill(stream, ctx)
    lines = _decoded(body, ctx, max_bytes)
    header_no, header = next(lines, (0, ""))
    if not header.startswith("交易时间"):
        raise StatementFormatError(header_no or 1, "expected the detail header (交易时间,…)")
    columns = Columns(
        header.split(","), header_no, required=DETAIL_REQUIRED, aliases=DETAIL_ALIASES
    )
    totals = _Totals()
    last_no = header_no
    pick = columns.picker(*ROW_COLUMNS)
    for line_no, text in lines:
        last_no = line_no
        if not text.startswith(TICK):
            _check_summary(text, line_no, lines, totals)
            return
        fields = _ticked(text, line_no)
        columns.check_width(fields, line_no)
        yield _line(pick, fields, line_no, ctx, totals)
    raise StatementFormatError(last_no + 1, "the bill ends before its summary lines (truncated?)")


def open_bill(stream: BinaryIO, ctx: ParseContext) -> tuple[ByteStream, int]:
    """The bill's text stream (gunzipped when gzip) and the byte limit that applies to it."""
    if _is_gzip(stream):
        return gzip.GzipFile(fileobj=stream, mode="rb"), ctx.unpacked_limit()
    return stream, ctx.limits.max_file_bytes


def _is_gzip(stream: BinaryIO) -> bool:
    magic = stream.read(2)
    stream.seek(0)
    return magic == GZIP_MAGIC


def bill_sha1(stream: BinaryIO) -> str:
    """SHA1 (hex) of the UNCOMPRESSED bill, as the download API's ``hash_value`` gives it."""
    body: BinaryIO | gzip.GzipFile = (
        gzip.GzipFile(fileobj=stream, mode="rb") if _is_gzip(stream) else stream
    )
    digest = hashlib.sha1(usedforsecurity=False)
    try:
        while chunk := body.read(HASH_CHUNK_BYTES):
            digest.update(chunk)
    except (OSError, EOFError) as exc:
        raise StatementFormatError(None, f"gzip data is truncated or corrupt ({exc})") from None
    stream.seek(0)
    return digest.hexdigest()


def check_bill_sha1(stream: BinaryIO, expected_hex: str) -> None:
    """Refuse a downloaded bill whose uncompressed SHA1 differs from ``hash_value``."""
    actual = bill_sha1(stream)
    if actual.lower() != expected_hex.strip().lower():
        raise StatementFormatError(
            None, f"SHA1 {actual} of the bill does not match the announced {expected_hex[:40]}"
        )


def _decoded(body: ByteStream, ctx: ParseContext, max_bytes: int) -> Iterator[tuple[int, str]]:
    for line_no, raw in byte_lines(body, ctx, max_bytes=max_bytes):
        if line_no == 1 and raw.startswith(UTF8_BOM):
            raw = raw[len(UTF8_BOM) :]
        text = decode(raw, ENCODING, line_no)
        if text.strip():
            yield line_no, text


def _ticked(text: str, line_no: int) -> list[str]:
    """Fields of a data row: each starts with exactly one backtick, which is stripped. Fields
    are split on the field boundary ``,``+backtick, so a comma inside a value (a product
    name) stays in its field."""
    if not text.startswith(TICK):
        raise StatementFormatError(line_no, "field 1 does not start with a backtick")
    return text[1:].split("," + TICK)


# The detail columns a row is read from, in the order ``_line`` unpacks them.
ROW_COLUMNS: Final = (
    "交易时间", "交易状态", "商户退款单号", "退款状态", "应结订单金额", "退款金额", "手续费",
    "申请退款金额", "退款成功时间", "订单金额", "商户订单号", "微信订单号", "商户号",
    "公众账号ID", "特约商户号", "交易类型", "付款银行", "微信退款单号", "费率",
)  # fmt: skip


def _line(
    pick: Picker, fields: list[str], line_no: int, ctx: ParseContext, totals: _Totals
) -> StatementLine:
    (at, state, out_refund, refund_state, settled_text, refunded_text, fee_text, asked, refunded_at,
     ordered, out_trade_no, txn_id, mchid, appid, sub_mchid, trade_type, bank_type, refund_id,
     rate) = pick(fields)  # fmt: skip
    occurred_at = local_time(at, TIME_FORMAT, line_no, "交易时间")
    statement_date = ctx.offered_date(business_date_of(occurred_at))
    state = state.strip()
    out_refund_no = or_none(out_refund, *NO_ID)
    kind, status = _kind_and_status(state, refund_state, out_refund_no)
    settled = yuan_fen(settled_text, line_no, "应结订单金额")
    refunded = yuan_fen(refunded_text or "0", line_no, "退款金额")
    fee_text = fee_text.strip()
    fee = fee_fen(fee_text, line_no, "手续费")
    totals.rows += 1
    totals.settled_fen += settled
    totals.refunded_fen += refunded
    totals.fee_yuan += Decimal(fee_text)
    if kind is LineKind.REFUND:
        amount = yuan_fen(asked, line_no, "申请退款金额") if asked.strip() else 0
        amount = positive(amount or refunded, line_no, "退款金额")
        if refunded_at.strip():
            occurred_at = local_time(refunded_at.strip(), TIME_FORMAT, line_no, "退款成功时间")
    else:
        amount = yuan_fen(ordered, line_no, "订单金额") if ordered.strip() else settled
        amount = positive(amount, line_no, "订单金额")
    return StatementLine(
        source=ctx.source,
        statement_date=statement_date,
        line_no=line_no,
        kind=kind,
        out_trade_no=or_none(out_trade_no),
        channel_txn_id=or_none(txn_id),
        out_refund_no=out_refund_no if kind is LineKind.REFUND else None,
        amount_fen=amount,
        fee_fen=fee,
        status=status,
        occurred_at=occurred_at,
        refs=refs(
            mchid=mchid.strip(),
            appid=appid.strip(),
            sub_mchid=or_none(sub_mchid, *NO_ID),
            trade_type=trade_type.strip(),
            trade_state=state,
            bank_type=bank_type.strip(),
            refund_id=or_none(refund_id, *NO_ID),
            settled_fen=str(settled),
            fee_text=fee_text,
            rate=rate.strip(),
        ),
    )


def _kind_and_status(
    state: str, refund_state: str, out_refund_no: str | None
) -> tuple[LineKind, LineStatus]:
    match state:
        case "SUCCESS":
            return LineKind.PAYMENT, LineStatus.SUCCEEDED
        case "REFUND":
            return LineKind.REFUND, REFUND_STATUS.get(refund_state.strip(), LineStatus.PENDING)
        case "REVOKED" | "CLOSED":
            return LineKind.PAYMENT, LineStatus.CLOSED
        case _:
            kind = LineKind.REFUND if out_refund_no else LineKind.PAYMENT
            return kind, LineStatus.PENDING


def _check_summary(
    header: str, header_no: int, lines: Iterator[tuple[int, str]], totals: _Totals
) -> None:
    if not header.startswith("总交易单数"):
        raise StatementFormatError(header_no, "expected a detail row (`…) or the summary header")
    columns = Columns(
        header.split(","), header_no, required=SUMMARY_REQUIRED, aliases=SUMMARY_ALIASES
    )
    row_no, row = next(lines, (header_no + 1, ""))
    if not row.startswith(TICK):
        raise StatementFormatError(row_no, "expected the summary row after the summary header")
    fields = _ticked(row, row_no)
    columns.check_width(fields, row_no)
    settled = columns.get(fields, "应结订单总金额")
    fees = columns.get(fields, "手续费总金额")
    checks = [
        ("总交易单数", _count(columns.get(fields, "总交易单数"), row_no), totals.rows),
        ("应结订单总金额", yuan_fen(settled, row_no, "应结订单总金额"), totals.settled_fen),
        ("手续费总金额", fee_fen(fees, row_no, "手续费总金额"), _fee_total_fen(totals)),
    ]
    if columns.has("退款总金额"):
        refunded = yuan_fen(columns.get(fields, "退款总金额"), row_no, "退款总金额")
        checks.append(("退款总金额", refunded, totals.refunded_fen))
    for name, stated, counted in checks:
        if stated != counted:
            raise StatementFormatError(
                row_no, f"summary {name} is {stated} but the rows add up to {counted}"
            )
    extra = next(lines, None)
    if extra is not None:
        raise StatementFormatError(extra[0], "unexpected line after the summary row")


def _count(text: str, line_no: int) -> int:
    """Summary counts look like ``45.0`` or ``12``."""
    stripped = text.strip()
    try:
        value = Decimal(stripped)
    except ArithmeticError:
        value = Decimal("NaN")
    if not value.is_finite() or value != value.to_integral_value() or value < 0:
        raise StatementFormatError(line_no, f"总交易单数: {stripped[:16]!r} is not a count")
    return int(value)


def _fee_total_fen(totals: _Totals) -> int:
    return int((totals.fee_yuan * 100).quantize(Decimal(1), rounding=ROUND_HALF_UP))
