"""The app-backend webhook over HTTP: HMAC-SHA256 signed JSON posts.

Signature header (a receiver verifies it with ``verify_signature``)::

    X-OTD-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, "<t>." + body)>

plus ``X-OTD-Event-Id`` (deduplicate on it: a push may arrive more than once),
``X-OTD-Event-Type`` and ``X-OTD-Delivery-Id``. Any 2xx answer is delivered; anything
else (status, timeout, refused connection) is a failed attempt, retried with back-off.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass

import httpx

SIGNATURE_HEADER = "X-OTD-Signature"
SIGNATURE_TOLERANCE_S = 300


def sign(secret: bytes, body: bytes, timestamp_s: int) -> str:
    """The signature header value for ``body`` sent at ``timestamp_s``."""
    mac = hmac.new(secret, f"{timestamp_s}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp_s},v1={mac}"


def verify_signature(
    secret: bytes,
    body: bytes,
    header: str,
    *,
    now_s: float | None = None,
    tolerance_s: int = SIGNATURE_TOLERANCE_S,
) -> bool:
    """True when ``header`` signs ``body`` with ``secret`` and is recent enough."""
    parts = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    timestamp, mac = parts.get("t", ""), parts.get("v1", "")
    if not timestamp.isdigit() or not mac:
        return False
    now = time.time() if now_s is None else now_s
    if abs(now - int(timestamp)) > tolerance_s:
        return False
    expected = sign(secret, body, int(timestamp)).split("v1=", 1)[1]
    return hmac.compare_digest(expected, mac)


@dataclass(frozen=True, kw_only=True)
class PostResult:
    """What the receiver answered (or why there was no answer)."""

    ok: bool
    status_code: int | None
    error: str | None
    duration_ms: int


class WebhookClient:
    """Posts signed bodies to one URL."""

    def __init__(self, http: httpx.AsyncClient, url: str, secret: bytes) -> None:
        self._http = http
        self.url = url
        self._secret = secret

    async def post(
        self, *, body: str, event_id: str, event_type: str, delivery_id: int
    ) -> PostResult:
        """Post once; never raises for a transport failure (it is a failed attempt)."""
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            SIGNATURE_HEADER: sign(self._secret, raw, int(time.time())),
            "X-OTD-Event-Id": event_id,
            "X-OTD-Event-Type": event_type,
            "X-OTD-Delivery-Id": str(delivery_id),
        }
        started = time.monotonic()
        try:
            response = await self._http.post(self.url, content=raw, headers=headers)
        except httpx.HTTPError as exc:
            return PostResult(
                ok=False,
                status_code=None,
                error=f"{type(exc).__name__}: {exc}",
                duration_ms=_ms(started),
            )
        ok = 200 <= response.status_code < 300
        return PostResult(
            ok=ok,
            status_code=response.status_code,
            error=None if ok else f"HTTP {response.status_code}",
            duration_ms=_ms(started),
        )


def _ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
