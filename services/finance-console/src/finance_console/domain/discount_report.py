"""The discount activity report as the console charts it (pure; money in fen).

The payment-gateway reports per Asia/Shanghai day what was drawn, confirmed (the payment
succeeded), returned to the pool (the payment failed, closed or expired) and reversed (a
refund of a discounted payment), and in total what the budget spent, holds reserved and has
left. Per day the console adds the budget spent by the end of that day and what was left
then: spent grows with the day's confirmed discounts and shrinks with its reversals when
the activity returns refunded discounts to the budget (``refund_returns_to_budget``).
Reserved draws are not in the per-day figures (the totals count them).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

Row = Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class ReportDay:
    """One day of an activity with the budget spent and left at its end."""

    day: str
    drawn: int
    drawn_fen: int
    confirmed: int
    confirmed_fen: int
    returned: int
    returned_fen: int
    reversed: int
    reversed_fen: int
    spent_fen: int
    left_fen: int


def report_days(report: Row, refund_returns_to_budget: bool) -> list[ReportDay]:
    """The report's days, oldest first, with the running budget spent and left."""
    budget_fen = int(report["budget_fen"])
    spent_fen = 0
    days = []
    for d in sorted(report["days"], key=lambda r: str(r["day"])):
        spent_fen += int(d["confirmed_fen"])
        if refund_returns_to_budget:
            spent_fen -= int(d["reversed_fen"])
        days.append(
            ReportDay(
                day=str(d["day"]),
                drawn=int(d["drawn"]),
                drawn_fen=int(d["drawn_fen"]),
                confirmed=int(d["confirmed"]),
                confirmed_fen=int(d["confirmed_fen"]),
                returned=int(d["returned"]),
                returned_fen=int(d["returned_fen"]),
                reversed=int(d["reversed"]),
                reversed_fen=int(d["reversed_fen"]),
                spent_fen=spent_fen,
                left_fen=budget_fen - spent_fen,
            )
        )
    return days


def chart_series(days: Sequence[ReportDay]) -> dict[str, list[Any]]:
    """What the activity chart plots: counts per day and the budget spent / left (fen)."""
    return {
        "days": [d.day for d in days],
        "drawn": [d.drawn for d in days],
        "confirmed": [d.confirmed for d in days],
        "returned": [d.returned for d in days],
        "reversed": [d.reversed for d in days],
        "spent_fen": [d.spent_fen for d in days],
        "left_fen": [d.left_fen for d in days],
    }
