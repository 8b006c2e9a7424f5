"""Reconciliation outcomes and the day-cut policy (the SQL that applies them is in
``adapters/run_repo.py``).

A run of (source, day) pairs the day's statement lines with recon's projection of internal
payments and refunds of that channel. Internal records are candidates from ``day −
carry_over_days`` to ``day``, plus those completed in the first ``cut_grace`` after the day
ended (the channel may book a 23:59:59 payment on this day while our callback landed after
midnight). A candidate already judged by another day's run (anything but carried over) is
not judged again.

An unpaired, succeeded internal record completed within ``cut_grace`` before the end of its
own business day is CARRIED OVER (the channel may book it on the next day) until
``carry_over_days`` have passed; then, or at once when it is not near the cut, it is
INTERNAL_ONLY (短款). An unpaired line that moved money is CHANNEL_ONLY (长款).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from typing import Final

from recon_service.domain.statement import BUSINESS_TZ


class MatchRule(StrEnum):
    """Which key paired a line with a record, in priority order (kept on every pair)."""

    OUT_TRADE_NO = "out_trade_no"
    CHANNEL_TXN_ID = "channel_txn_id"
    OUT_REFUND_NO = "out_refund_no"


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
    """How far internal records carry over the day cut, and the amount tolerance per source
    (a paired line and record whose amounts differ by at most it are matched; none by
    default)."""

    carry_over_days: int = 3
    cut_grace: timedelta = timedelta(hours=1)
    amount_tolerance_fen: Mapping[str, int] = field(default_factory=dict)

    def tolerance_fen(self, source: str) -> int:
        """The amount tolerance of a source (0: amounts must be equal)."""
        return self.amount_tolerance_fen.get(source, 0)

    def __post_init__(self) -> None:
        assert 0 <= self.carry_over_days <= 31
        assert timedelta(0) <= self.cut_grace <= timedelta(hours=12)


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
        )


def counts_of(found: dict[str, int]) -> dict[str, int]:
    """The six counted outcomes (zeros included) plus carried over, from outcome → count."""
    counts = {o.value: found.get(o.value, 0) for o in COUNTED}
    counts[Outcome.CARRIED_OVER.value] = found.get(Outcome.CARRIED_OVER.value, 0)
    return counts
