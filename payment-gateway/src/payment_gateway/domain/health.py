"""Channel health: a circuit breaker per channel (in-process, per replica).

closed → after ``failures_to_open`` consecutive failures (timeouts, 5xx, unverifiable answers)
→ open for ``open_s`` (the channel is out of rotation: new payments are refused with 503) →
half-open: one trial call is let through; its success closes, its failure re-opens.
Business refusals (a 4xx with an error code) are the channel working, not failing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from otd_shared.channels import ChannelCode


class BreakerState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


@dataclass
class _Breaker:
    failures: int = 0
    opened_at_s: float | None = None
    trial_in_flight: bool = False


@dataclass(frozen=True)
class HealthView:
    """One channel's health for the status API."""

    channel: ChannelCode
    state: BreakerState
    consecutive_failures: int
    retry_in_s: float


class ChannelHealth:
    """Consecutive-failure circuit breakers keyed by channel code."""

    def __init__(
        self,
        channels: Iterable[ChannelCode],
        *,
        failures_to_open: int,
        open_s: float,
        clock: Callable[[], float],
    ) -> None:
        assert failures_to_open >= 1
        assert open_s > 0
        self._breakers = {channel: _Breaker() for channel in channels}
        self._failures_to_open = failures_to_open
        self._open_s = open_s
        self._clock = clock

    def state(self, channel: ChannelCode) -> BreakerState:
        """The breaker state now (open turns half-open once ``open_s`` has passed)."""
        breaker = self._breakers[channel]
        if breaker.opened_at_s is None:
            return BreakerState.CLOSED
        if self._clock() - breaker.opened_at_s < self._open_s:
            return BreakerState.OPEN
        return BreakerState.HALF_OPEN

    def allow(self, channel: ChannelCode) -> bool:
        """May we call the channel now? Half-open admits one trial at a time."""
        breaker = self._breakers[channel]
        match self.state(channel):
            case BreakerState.CLOSED:
                return True
            case BreakerState.OPEN:
                return False
            case BreakerState.HALF_OPEN:
                if breaker.trial_in_flight:
                    return False
                breaker.trial_in_flight = True
                return True

    def record_success(self, channel: ChannelCode) -> None:
        """A call got a usable answer."""
        self._breakers[channel] = _Breaker()

    def record_failure(self, channel: ChannelCode) -> None:
        """A call timed out or got no usable answer."""
        breaker = self._breakers[channel]
        breaker.failures += 1
        breaker.trial_in_flight = False
        half_open = self.state(channel) is BreakerState.HALF_OPEN
        if half_open or breaker.failures >= self._failures_to_open:
            breaker.opened_at_s = self._clock()

    def view(self, channel: ChannelCode) -> HealthView:
        """A snapshot for humans."""
        breaker = self._breakers[channel]
        retry_in_s = 0.0
        if breaker.opened_at_s is not None:
            retry_in_s = max(0.0, self._open_s - (self._clock() - breaker.opened_at_s))
        return HealthView(channel, self.state(channel), breaker.failures, retry_in_s)
