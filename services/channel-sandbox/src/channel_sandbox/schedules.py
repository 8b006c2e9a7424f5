"""Each channel's documented notification retry schedule and success answer
(docs/channel-formats.md).

`RETRY_INTERVALS_S[channel][i]` is the wait before retry i+1, after the first attempt; the sandbox
multiplies every interval by SANDBOX_RETRY_SCALE. `is_accepted` decides whether the receiver's
answer stops the retries, exactly as the channel documents it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

_M: Final = 60
_H: Final = 3600

RETRY_INTERVALS_S: Final[Mapping[str, tuple[int, ...]]] = MappingProxyType(
    {
        # §1.7: 15s/15s/30s/3m/10m/20m/30m/30m/30m/60m/3h/3h/3h/6h/6h (15 retries, 24h4m)
        "wechatpay": (15, 15, 30, 3 * _M, 10 * _M, 20 * _M, 30 * _M, 30 * _M, 30 * _M, _H)
        + (3 * _H, 3 * _H, 3 * _H, 6 * _H, 6 * _H),
        # §3.4: 8 notifications within 25 h: 4m, 10m, 10m, 1h, 2h, 6h, 15h
        "alipay": (4 * _M, 10 * _M, 10 * _M, _H, 2 * _H, 6 * _H, 15 * _H),
        # §6.2 (收银台 order notify): 1s/5s/5s/10s/3m/10m/20m/30m/1h/2h
        "lakala": (1, 5, 5, 10, 3 * _M, 10 * _M, 20 * _M, 30 * _M, _H, 2 * _H),
        # §5.1: 5 sends in total at intervals 0, 1, 2, 4 minutes
        "unionpay": (0, _M, 2 * _M, 4 * _M),
        # §6.1: 5 retries at 15s/15s/5m/10m/15m
        "allinpay": (15, 15, 5 * _M, 10 * _M, 15 * _M),
    }
)


def retry_delays_s(channel: str, scale: float) -> tuple[float, ...]:
    """The scaled waits between attempts for `channel`."""
    assert 0 < scale <= 1
    return tuple(interval * scale for interval in RETRY_INTERVALS_S[channel])


def is_accepted(channel: str, status_code: int, body: bytes) -> bool:
    """True when the answer is the channel's documented "stop notifying" answer.

    WeChat: any 2xx (the body is not read). Alipay and Allinpay: HTTP 200 with exactly
    `success`. Lakala: HTTP 200 with JSON `code` = `SUCCESS`. UnionPay: HTTP 200 (or 302).
    """
    match channel:
        case "wechatpay":
            return 200 <= status_code < 300
        case "alipay" | "allinpay":
            return status_code == 200 and body == b"success"
        case "lakala":
            return status_code == 200 and _json_code(body) == "SUCCESS"
        case "unionpay":
            return status_code in (200, 302)
        case _:
            raise ValueError(f"unknown channel code {channel!r}")


def _json_code(body: bytes) -> object:
    try:
        value = json.loads(body)
    except ValueError:
        return None
    return value.get("code") if isinstance(value, dict) else None
