"""The recon dashboard's arithmetic over statements and discrepancies (pure; money in fen).

Definitions (docs/finance-console.md):
- a source's statement for day D is *late* when none is loaded after D+1 at the
  statement cut (14:30 Asia/Shanghai), *expected* before that;
- a source-day is *reconciled* once a recon run exists for it; until then it has no
  match rate;
- matched lines = statement lines − lines that still have an open discrepancy;
  match rate by count = matched lines / lines, by money = matched amount / statement gross;
- money at risk of a discrepancy: channel-only → the line amount, internal-only → the record
  amount, amount mismatch → the difference, status mismatch → the larger side, fee mismatch →
  the fee difference.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any, Final

BUSINESS_TZ: Final = timezone(timedelta(hours=8), "Asia/Shanghai")
STATEMENT_CUT: Final = time(14, 30)
SOURCES: Final = ("wechatpay", "alipay", "lakala", "unionpay", "allinpay", "cash", "wire")
SOURCE_LABELS: Final = {
    "wechatpay": "WeChat",
    "alipay": "Alipay",
    "lakala": "Lakala",
    "unionpay": "UnionPay",
    "allinpay": "Allinpay",
    "cash": "cash",
    "wire": "wire",
}
AGE_BUCKETS_DAYS: Final = ((0, 1, "< 1 d"), (1, 3, "1–3 d"), (3, 7, "3–7 d"), (7, None, "≥ 7 d"))

Row = Mapping[str, Any]


def statement_due_at(day: date) -> datetime:
    """When the statement of ``day`` is due: D+1 at the cut, Asia/Shanghai (as UTC)."""
    return datetime.combine(day + timedelta(days=1), STATEMENT_CUT, BUSINESS_TZ).astimezone(UTC)


def business_today(now: datetime) -> date:
    """Today in Asia/Shanghai."""
    return now.astimezone(BUSINESS_TZ).date()


def money_at_risk_fen(d: Row) -> int:
    """What one discrepancy puts at risk, in fen (always >= 0)."""
    line = int(d.get("line_amount_fen") or 0)
    record = int(d.get("record_amount_fen") or 0)
    outcome = d.get("outcome")
    if outcome == "channel_only":
        return line
    if outcome == "internal_only":
        return record
    if outcome == "amount_mismatch":
        return abs(line - record)
    if outcome == "fee_mismatch":
        return abs(int(d.get("line_fee_fen") or 0) - int(d.get("record_fee_fen") or 0))
    return max(line, record)


def age_bucket(created_at: datetime, now: datetime) -> str:
    """The age bucket label of a discrepancy opened at ``created_at``."""
    age_days = (now - created_at).total_seconds() / 86_400
    for low, high, label in AGE_BUCKETS_DAYS:
        if age_days >= low and (high is None or age_days < high):
            return label
    return AGE_BUCKETS_DAYS[-1][2]


@dataclass
class SourceDay:
    """One cell row of the dashboard: a source on a day."""

    source: str
    day: date
    arrival: str = "expected"  # "arrived" | "late" | "expected"
    lines: int = 0
    payment_count: int = 0
    refund_count: int = 0
    payment_total_fen: int = 0
    refund_total_fen: int = 0
    fee_total_fen: int = 0
    open_count: int = 0
    open_line_count: int = 0
    open_line_amount_fen: int = 0
    at_risk_fen: int = 0
    open_by_age: dict[str, int] = field(default_factory=dict)
    runs: int = 0

    @property
    def label(self) -> str:
        """The source as finance names it."""
        return SOURCE_LABELS[self.source]

    @property
    def gross_fen(self) -> int:
        """Statement gross: payments plus refunds (the money the lines move)."""
        return self.payment_total_fen + self.refund_total_fen

    @property
    def settled_fen(self) -> int:
        """What the channel pays out: payments − refunds − fees."""
        return self.payment_total_fen - self.refund_total_fen - self.fee_total_fen

    @property
    def matched_lines(self) -> int:
        """Lines without an open discrepancy."""
        return max(self.lines - self.open_line_count, 0)

    @property
    def matched_fen(self) -> int:
        """Gross of the lines without an open discrepancy."""
        return max(self.gross_fen - self.open_line_amount_fen, 0)

    @property
    def reconciled(self) -> bool:
        """True once a recon run exists for the source and day."""
        return self.runs > 0

    @property
    def match_rate_count(self) -> float | None:
        """Matched lines / lines (None before a run or without lines); a display ratio."""
        if not self.reconciled or self.lines == 0:
            return None
        return self.matched_lines / self.lines

    @property
    def match_rate_money(self) -> float | None:
        """Matched amount / gross (None before a run or without money); a display ratio."""
        if not self.reconciled or self.gross_fen == 0:
            return None
        return self.matched_fen / self.gross_fen


def source_days(
    day: date,
    statements: Iterable[Row],
    discrepancies: Iterable[Row],
    now: datetime,
    runs: Iterable[Row] = (),
) -> list[SourceDay]:
    """The seven sources of ``day`` in the fixed order, from the day's statements (the
    latest per source), its open discrepancies and its recon runs."""
    rows = {s: SourceDay(source=s, day=day) for s in SOURCES}
    late = now >= statement_due_at(day)
    for row in rows.values():
        row.arrival = "late" if late else "expected"
    for st in _latest_per_source(s for s in statements if _day(s["statement_date"]) == day):
        if str(st["source"]) in rows:
            _add_statement(rows[str(st["source"])], st)
    for d in discrepancies:
        if str(d["source"]) in rows and _day(d["recon_date"]) == day:
            _add_discrepancy(rows[str(d["source"])], d, now)
    for run in runs:
        if str(run["source"]) in rows and _day(run["date"]) == day:
            rows[str(run["source"])].runs += 1
    return [rows[s] for s in SOURCES]


def _add_statement(row: SourceDay, st: Row) -> None:
    row.arrival = "arrived"
    row.lines = int(st["lines"])
    row.payment_count = int(st["payment_count"])
    row.refund_count = int(st["refund_count"])
    row.payment_total_fen = int(st["payment_total_fen"])
    row.refund_total_fen = int(st["refund_total_fen"])
    row.fee_total_fen = int(st["fee_total_fen"])


def _add_discrepancy(row: SourceDay, d: Row, now: datetime) -> None:
    row.open_count += 1
    row.at_risk_fen += money_at_risk_fen(d)
    if d.get("line_no") is not None:
        row.open_line_count += 1
        row.open_line_amount_fen += int(d.get("line_amount_fen") or 0)
    bucket = age_bucket(_instant(d["created_at"]), now)
    row.open_by_age[bucket] = row.open_by_age.get(bucket, 0) + 1


def _latest_per_source(statements: Iterable[Row]) -> list[Row]:
    latest: dict[str, Row] = {}
    for st in statements:
        seen = latest.get(str(st["source"]))
        if seen is None or str(st.get("loaded_at") or "") > str(seen.get("loaded_at") or ""):
            latest[str(st["source"])] = st
    return list(latest.values())


@dataclass(frozen=True)
class Series:
    """The 30-day chart data: days on the x axis, one list per source (fen or counts)."""

    days: list[str]
    matched_fen: dict[str, list[int]]
    discrepancy_count: dict[str, list[int]]
    discrepancy_fen: dict[str, list[int]]
    settled_fen: list[int]
    fee_fen: list[int]


def thirty_day_series(
    days: list[date],
    statements: Sequence[Row],
    discrepancies: Sequence[Row],
    now: datetime,
    runs: Sequence[Row] = (),
) -> Series:
    """Per day and source over ``days`` (oldest first); matched amounts count reconciled
    source-days only."""
    grid = {day: source_days(day, statements, discrepancies, now, runs) for day in days}
    return Series(
        days=[d.isoformat() for d in days],
        matched_fen={
            s: [grid[d][i].matched_fen if grid[d][i].reconciled else 0 for d in days]
            for i, s in enumerate(SOURCES)
        },
        discrepancy_count={s: [grid[d][i].open_count for d in days] for i, s in enumerate(SOURCES)},
        discrepancy_fen={s: [grid[d][i].at_risk_fen for d in days] for i, s in enumerate(SOURCES)},
        settled_fen=[sum(r.settled_fen for r in grid[d]) for d in days],
        fee_fen=[sum(r.fee_total_fen for r in grid[d]) for d in days],
    )


def _day(value: object) -> date:
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _instant(value: object) -> datetime:
    if isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
