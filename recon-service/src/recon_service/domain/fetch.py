"""When statements are fetched and when one is late (pure; the job is in
``service_layer/fetch.py``).

The daily job runs at ``fetch_at`` (14:30 Asia/Shanghai) for the previous business day; a
download is tried ``attempts`` times with exponential back-off. A statement still not loaded
at ``late_after`` (16:00) of the day after its business day is LATE: alerted (metric
``recon_statement_late``) and reported, while later runs keep trying.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum

from recon_service.domain.statement import BUSINESS_TZ


class FetchStatus(StrEnum):
    """What the last fetch of a source and day found."""

    LOADED = "loaded"  # a new statement was loaded from the download
    ALREADY_LOADED = "already_loaded"  # the same file was loaded before
    NO_BILL = "no_bill"  # the channel says there is none (no trades, not generated yet)
    FAILED = "failed"  # every attempt failed, or the file was refused
    LATE = "late"  # not loaded and past the deadline


@dataclass(frozen=True, kw_only=True)
class FetchPolicy:
    """Retries and the daily schedule (local Asia/Shanghai times)."""

    attempts: int = 4
    backoff_ms: int = 500
    backoff_factor: int = 2
    fetch_at: time = time(14, 30)
    late_after: time = time(16, 0)

    def __post_init__(self) -> None:
        assert 1 <= self.attempts <= 20
        assert 0 <= self.backoff_ms <= 600_000
        assert self.backoff_factor >= 1

    def backoff_s(self, attempt: int) -> float:
        """The pause after failed attempt ``attempt`` (1-based)."""
        factor: int = self.backoff_factor ** (attempt - 1)
        return self.backoff_ms * factor / 1000

    def due_day(self, now: datetime) -> date | None:
        """The business day the job should fetch at ``now``: yesterday once it is past
        ``fetch_at`` local time, else None."""
        local = now.astimezone(BUSINESS_TZ)
        if local.time() < self.fetch_at:
            return None
        return local.date() - timedelta(days=1)

    def is_late(self, day: date, now: datetime) -> bool:
        """Past the deadline of ``day``'s statement."""
        deadline = datetime.combine(day + timedelta(days=1), self.late_after, BUSINESS_TZ)
        return now.astimezone(UTC) >= deadline.astimezone(UTC)
