"""The one line shape every statement format is parsed into, and the limits of a parse."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from enum import StrEnum

from otd_shared.business_time import BUSINESS_TZ as BUSINESS_TZ
from otd_shared.business_time import business_date
from otd_shared.channels import CATALOGUE, Catalogue, ChannelCode, statement_sources
from recon_service.domain.errors import StatementFormatError, UnknownSource

# BUSINESS_TZ is the cluster's one Asia/Shanghai (otd_shared.business_time), re-exported.


# A statement source is a channel of the catalogue with ``statement=True`` (otd_shared.channels):
# the catalogue's order is the fixed processing order.
Source = ChannelCode


def sources_in_processing_order(catalogue: Catalogue = CATALOGUE) -> tuple[Source, ...]:
    """The statement sources: WeChat, Alipay, Lakala, UnionPay, Allinpay, cash, wire."""
    return statement_sources(catalogue)


def parse_source(value: str, catalogue: Catalogue = CATALOGUE) -> Source | None:
    """`value` as a statement source, or None when it is not one."""
    sources = {str(code): code for code in statement_sources(catalogue)}
    return sources.get(value)


def statement_source(value: str, catalogue: Catalogue = CATALOGUE) -> Source:
    """`value` as a statement source; UnknownSource (422) for anything else — a channel
    without statements (``loan``, ``discount``) included."""
    parsed = parse_source(value, catalogue)
    if parsed is None:
        known = [str(s) for s in statement_sources(catalogue)]
        raise UnknownSource(value, known)
    return parsed


class LineKind(StrEnum):
    """What a line moved: money in (payment) or money back out (refund)."""

    PAYMENT = "payment"
    REFUND = "refund"


class LineStatus(StrEnum):
    """The channel's outcome of a line. Unknown channel statuses map to PENDING."""

    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CLOSED = "closed"  # revoked / cancelled before money moved
    PENDING = "pending"


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementLimits:
    """Named limits of one parse; a statement breaking one is refused with a clear error."""

    max_file_bytes: int = 64 * 1024 * 1024
    max_unpacked_bytes: int = 512 * 1024 * 1024  # gzip / zip content after unpacking
    max_lines: int = 2_000_000
    max_line_bytes: int = 8 * 1024
    # The work budget of one upload: compressed content may unpack to at most this many times
    # its packed size (plus a small allowance), and the parse may take at most this long.
    # Real bills pack about 10-17:1; 300,000 repeated rows pack above 200:1.
    max_unpack_ratio: int = 24
    unpack_allowance_bytes: int = 2 * 1024 * 1024
    max_parse_s: float = 120.0
    max_zip_entries: int = 16

    def __post_init__(self) -> None:
        assert self.max_file_bytes > 0
        assert self.max_unpacked_bytes > 0
        assert self.max_lines > 0
        assert self.max_line_bytes > 0
        assert self.max_unpack_ratio >= 1
        assert self.max_parse_s > 0
        assert self.max_zip_entries >= 1

    def unpacked_limit(self, packed_bytes: int | None) -> int:
        """How many bytes compressed content of ``packed_bytes`` may unpack to."""
        if packed_bytes is None:
            return self.max_unpacked_bytes
        by_ratio = packed_bytes * self.max_unpack_ratio + self.unpack_allowance_bytes
        return min(self.max_unpacked_bytes, by_ratio)


@dataclass(frozen=True, slots=True, kw_only=True)
class StatementLine:
    """One normalised statement line.

    ``amount_fen`` is always positive; ``kind`` says whether it is a refund. ``fee_fen`` is
    signed from our side: positive is charged to us, negative is returned to us (fee refunds).
    ``occurred_at`` is UTC. ``refs`` keeps the channel's own reference fields as text pairs.
    ``line_no`` is the 1-based physical line (or record) number in the statement file.
    """

    source: Source
    statement_date: date
    line_no: int
    kind: LineKind
    out_trade_no: str | None
    channel_txn_id: str | None
    out_refund_no: str | None
    amount_fen: int
    fee_fen: int
    status: LineStatus
    occurred_at: datetime
    refs: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        assert self.line_no >= 1, "line numbers start at 1"
        assert isinstance(self.amount_fen, int), "amount_fen is integer fen"
        assert self.amount_fen > 0, "amount_fen > 0 (kind says refund)"
        assert isinstance(self.fee_fen, int), "fee_fen is integer fen"
        assert self.occurred_at.utcoffset() == timedelta(0), "occurred_at is UTC"
        if not (self.out_trade_no or self.channel_txn_id or self.out_refund_no):
            # A row the channel's format allows without any key (a refund row with only its
            # own transaction number, say): nothing could ever match it, so the file is refused.
            raise StatementFormatError(
                self.line_no,
                "the line names no merchant order number, channel transaction id or refund"
                " number to match it by",
            )

    @property
    def signed_amount_fen(self) -> int:
        """The amount as it moves our balance: refunds negative."""
        return -self.amount_fen if self.kind is LineKind.REFUND else self.amount_fen

    def refs_dict(self) -> dict[str, str]:
        """The reference fields as a dict."""
        return dict(self.refs)


def to_utc(local: datetime) -> datetime:
    """A naive Asia/Shanghai wall-clock time as an aware UTC instant."""
    assert local.tzinfo is None, "expects a naive local time"
    return local.replace(tzinfo=BUSINESS_TZ).astimezone(UTC)


def business_date_of(instant: datetime) -> date:
    """The Asia/Shanghai calendar day of an aware instant (``otd_shared.business_time``)."""
    return business_date(instant)
