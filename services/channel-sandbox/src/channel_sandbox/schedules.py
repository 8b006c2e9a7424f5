"""Notification retry schedules and success answers: the neutral pieces channels declare theirs
with (each channel's own schedule is in its `SandboxChannel`, from docs/channel-formats.md).

`retry_intervals_s[i]` is the wait before retry i+1, after the first attempt; the sandbox
multiplies every interval by SANDBOX_RETRY_SCALE. A channel's `delivered_when` decides whether
the receiver's answer stops the retries, exactly as the channel documents it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Final

from channel_sandbox.spec import SandboxChannel

MINUTE: Final = 60
HOUR: Final = 3600

AnswerCheck = Callable[[int, bytes], bool]


def retry_delays_s(channel: SandboxChannel, scale: float) -> tuple[float, ...]:
    """The scaled waits between attempts for `channel`."""
    assert 0 < scale <= 1
    return tuple(interval * scale for interval in channel.retry_intervals_s)


def any_2xx(status_code: int, body: bytes) -> bool:
    """Any 2xx answer (the body is not read)."""
    del body
    return 200 <= status_code < 300


def status_in(*codes: int) -> AnswerCheck:
    """One of `codes`, whatever the body."""

    def check(status_code: int, body: bytes) -> bool:
        del body
        return status_code in codes

    return check


def exact_body(expected: bytes) -> AnswerCheck:
    """HTTP 200 with exactly `expected` as the body."""

    def check(status_code: int, body: bytes) -> bool:
        return status_code == 200 and body == expected

    return check


def json_code(expected: str) -> AnswerCheck:
    """HTTP 200 with a JSON object whose ``code`` is `expected`."""

    def check(status_code: int, body: bytes) -> bool:
        return status_code == 200 and _code_of(body) == expected

    return check


def _code_of(body: bytes) -> object:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value.get("code") if isinstance(value, dict) else None
