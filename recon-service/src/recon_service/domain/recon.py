"""Reconciliation outcomes and the day-cut policy (the SQL that applies them is in
``adapters/run_repo.py``).

A run of (source, day) pairs the day's statement lines with recon's projection of internal
payments and refunds of that channel, rule by rule in a fixed priority (``MatchRule``): the
channel's transaction id, then our trade number — within each key, equal amounts first, then
a group (one line for several records, or several lines for one record, whose amounts add
up), then the rest by amount — then, for cash and wire, equal amount within a time window.
Internal records are candidates from ``day − carry_over_days`` to ``day``, plus those
completed in the first ``cut_grace`` after the day ended (the channel may book a 23:59:59
payment on this day while our callback landed after midnight). A candidate already judged
by another day's run (anything but carried over) is not judged again.

An unpaired, succeeded internal record completed within ``cut_grace`` before the end of its
own business day is CARRIED OVER (the channel may book it on the next day) until
``carry_over_days`` have passed; then, or at once when it is not near the cut, it is
INTERNAL_ONLY (短款). An unpaired line that moved money is CHANNEL_ONLY (长款).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from enum import StrEnum
from typing import Final

from recon_service.domain.statement import BUSINESS_TZ


class MatchRule(StrEnum):
    """Which rule paired a line with a record, in priority order (kept on every pair): the
    channel's transaction id, then our trade number, then — for the sources whose lines
    carry neither that we know (cash, wire) — equal amount within a time window."""

    CHANNEL_TXN_ID = "channel_txn_id"
    OUT_TRADE_NO = "out_trade_no"
    AMOUNT_TIME = "amount_time"


RULES_IN_ORDER: Final = (MatchRule.CHANNEL_TXN_ID, MatchRule.OUT_TRADE_NO, MatchRule.AMOUNT_TIME)
AMOUNT_TIME_SOURCES_DEFAULT: Final = frozenset({"cash", "wire"})
PPM: Final = 1_000_000  # contracted fee rates are kept in parts per million (0.6% = 6000)


class Outcome(StrEnum):
    """What a run decided about one line, one internal record, or one pair of them."""

    MATCHED = "matched"
    AMOUNT_MISMATCH = "amount_mismatch"
    STATUS_MISMATCH = "status_mismatch"
    FEE_MISMATCH = "fee_mismatch"
    CHANNEL_ONLY = "channel_only"  # 长款
    INTERNAL_ONLY = "internal_only"  # 短款
    CARRIED_OVER = "carried_over"  # near the day cut: judged on a later day
    UNSETTLED = "unsettled"  # a line that moved no money (closed, failed, pending), no record


COUNTED: Final = (
    Outcome.MATCHED,
    Outcome.AMOUNT_MISMATCH,
    Outcome.STATUS_MISMATCH,
    Outcome.FEE_MISMATCH,
    Outcome.CHANNEL_ONLY,
    Outcome.INTERNAL_ONLY,
)
DISCREPANCIES: Final = frozenset(COUNTED) - {Outcome.MATCHED}


@dataclass(frozen=True, kw_only=True)
class ReconPolicy:
    """How far internal records carry over the day cut; the amount tolerance per source (a
    paired line and record whose amounts differ by at most it are matched; none by
    default); the sources paired by amount within ``amount_time_window`` when no id pairs
    them; the contracted fee rate per source and payment method, in ppm (a payment line
    whose fee differs from amount × rate rounded half up is a fee mismatch)."""

    carry_over_days: int = 3
    cut_grace: timedelta = timedelta(hours=1)
    amount_tolerance_fen: Mapping[str, int] = field(default_factory=dict)
    amount_time_sources: frozenset[str] = AMOUNT_TIME_SOURCES_DEFAULT
    amount_time_window: timedelta = timedelta(hours=24)
    fee_rate_ppm: Mapping[str, Mapping[str, int]] = field(default_factory=dict)

    def tolerance_fen(self, source: str) -> int:
        """The amount tolerance of a source (0: amounts must be equal)."""
        return self.amount_tolerance_fen.get(source, 0)

    def __post_init__(self) -> None:
        assert 0 <= self.carry_over_days <= 31
        assert timedelta(0) <= self.cut_grace <= timedelta(hours=12)
        assert timedelta(0) <= self.amount_time_window <= timedelta(days=7)
        rates = (ppm for methods in self.fee_rate_ppm.values() for ppm in methods.values())
        assert all(0 <= ppm <= PPM for ppm in rates), "a fee rate is between 0 and 100%"


@dataclass(frozen=True, kw_only=True)
class RunWindow:
    """The internal records a run of ``day`` considers (instants in UTC)."""

    day: date
    first_day: date
    next_day_start: datetime
    late_until: datetime
    carry_over_days: int
    cut_grace: timedelta
    amount_tolerance_fen: int = 0
    amount_time_window: timedelta | None = None  # None: the source is not paired by amount
    fee_rate_ppm: Mapping[str, int] = field(default_factory=dict)  # method → contracted rate

    @classmethod
    def of(cls, day: date, policy: ReconPolicy, source: str = "") -> RunWindow:
        """The window of one business day under a policy."""
        next_start = datetime.combine(day + timedelta(days=1), time(0), BUSINESS_TZ).astimezone(UTC)
        return cls(
            day=day,
            first_day=day - timedelta(days=policy.carry_over_days),
            next_day_start=next_start,
            late_until=next_start + policy.cut_grace,
            carry_over_days=policy.carry_over_days,
            cut_grace=policy.cut_grace,
            amount_tolerance_fen=policy.tolerance_fen(source),
            amount_time_window=(
                policy.amount_time_window if source in policy.amount_time_sources else None
            ),
            fee_rate_ppm=dict(policy.fee_rate_ppm.get(source, {})),
        )


def rate_ppm(rate: Decimal) -> int:
    """A fee rate given as a fraction (``0.006``) in ppm, exactly; ValueError otherwise."""
    ppm = rate * PPM
    if not rate.is_finite() or ppm != ppm.to_integral_value() or not 0 <= ppm <= PPM:
        raise ValueError(f"fee rate {rate} is not a fraction in whole ppm between 0 and 1")
    return int(ppm)


def counts_of(found: dict[str, int]) -> dict[str, int]:
    """The six counted outcomes (zeros included) plus carried over, from outcome → count."""
    counts = {o.value: found.get(o.value, 0) for o in COUNTED}
    counts[Outcome.CARRIED_OVER.value] = found.get(Outcome.CARRIED_OVER.value, 0)
    return counts
