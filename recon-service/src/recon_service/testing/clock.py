"""A clock tests drive, for the fetch and the daily scheduler (``service_layer.fetch.Clock``)."""

from __future__ import annotations

from datetime import datetime, timedelta


class DrivenClock:
    """A clock the test moves; sleeping only records the pause and moves the clock on."""

    def __init__(self, now: datetime) -> None:
        self.current = now
        self.slept: list[float] = []

    def now(self) -> datetime:
        """The instant the test set (moved on by every sleep)."""
        return self.current

    async def sleep(self, seconds: float) -> None:
        """Record the pause and move the clock on by it, at once."""
        self.slept.append(seconds)
        self.current += timedelta(seconds=seconds)
