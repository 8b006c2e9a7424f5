"""Time windows for tests that must stay inside one business day (Asia/Shanghai)."""

from __future__ import annotations

from datetime import datetime, timedelta

from otd_shared.business_time import business_date, start_of_business_day


def within_today(now: datetime, at_most: timedelta) -> tuple[datetime, datetime]:
    """From a minute before ``now`` to ``at_most`` after it, cut to the current business
    day: a discount activity with per-day caps deals one day's cards, whatever the hour the
    suite runs at (a window across midnight in Shanghai deals two days')."""
    today = business_date(now)
    start = max(now - timedelta(minutes=1), start_of_business_day(today))
    end = min(
        now + at_most, start_of_business_day(today + timedelta(days=1)) - timedelta(seconds=1)
    )
    return start, end
