"""Pool limits every long-lived httpx client of ours uses.

httpx keeps an idle connection for 5 s by default, exactly as long as uvicorn (our services,
the channel sandbox) keeps it open: a request sent just then meets a connection the server is
closing and fails at random ("did not answer", a 503 to the caller). Our pools drop idle
connections well before the servers do.
"""

from __future__ import annotations

from typing import Final

import httpx

KEEPALIVE_EXPIRY_S: Final = 2.0
"""An idle pooled connection is dropped after this long (below the servers' 5 s keep-alive)."""


def pooled_limits(
    *, max_connections: int | None = 100, max_keepalive_connections: int | None = 20
) -> httpx.Limits:
    """httpx pool limits with our keep-alive expiry."""
    return httpx.Limits(
        max_connections=max_connections,
        max_keepalive_connections=max_keepalive_connections,
        keepalive_expiry=KEEPALIVE_EXPIRY_S,
    )
