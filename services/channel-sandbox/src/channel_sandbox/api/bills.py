"""Statement downloads: the neutral parts each channel's statement endpoint uses.

Each channel with a statement (`SandboxChannel.fee_rate_per_10k`) serves its download in its
own router (``channels/<code>/api.py``: WeChat Pay ``GET /v3/bill/tradebill`` and
``/v3/billdownload/file``, UnionPay ``POST /unionpay/file-transfer``, Lakala (ASSUMED API)
``POST /api/v3/labs/bill/download``; docs/channel-sandbox.md), built by `channel_sandbox.bills`
from what the sandbox saw that day. Here: download tokens (bounded, expiring), the injected
failures, and which days have a statement.

Sandbox extensions: `POST /sandbox/bills/fail-next` `{"channel","count","status"}` makes the
next downloads of a channel answer that HTTP status (retries and back-off in recon's tests);
`POST /sandbox/bills/publish-day` `{"date"}` issues a day's bills now, before the day is over
(a channel publishes them the next morning: this lets a test drive the T+1 fetch of today).
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Set as AbstractSet
from datetime import date, datetime
from typing import Final

from fastapi import APIRouter, HTTPException, Request
from pydantic import BaseModel, Field

from channel_sandbox import bills, ids
from channel_sandbox.api.common import sandbox_of

router = APIRouter(tags=["Statement downloads (channel side)"])
DOWNLOAD_TTL_S: Final = 300
DOWNLOADS_MAX: Final = 200


class FailNext(BaseModel):
    """Make the next ``count`` downloads of a channel fail with ``status``."""

    channel: str = Field(min_length=1, max_length=32, description="A channel with a statement.")
    count: int = Field(ge=1, le=20)
    status: int = Field(default=503, ge=400, le=599)


class PublishDay(BaseModel):
    """Issue the bills of ``date`` now (every channel), even if the day is not over."""

    date: date


class Downloads:
    """Download tokens (bounded, expiring), injected failures and days published early."""

    def __init__(self) -> None:
        self.files: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self.failures: dict[str, tuple[int, int]] = {}
        self.published: set[date] = set()

    def put(self, content: bytes) -> str:
        token = secrets.token_urlsafe(24)
        self.files[token] = (time.monotonic() + DOWNLOAD_TTL_S, content)
        while len(self.files) > DOWNLOADS_MAX:
            self.files.popitem(last=False)
        return token

    def take(self, token: str) -> bytes | None:
        found = self.files.get(token)
        if found is None or found[0] < time.monotonic():
            return None
        return found[1]

    def failure(self, channel: str) -> int | None:
        count, status = self.failures.get(channel, (0, 0))
        if count <= 0:
            return None
        self.failures[channel] = (count - 1, status)
        return status


def downloads(request: Request) -> Downloads:
    """The app's download tokens and injected failures."""
    found = getattr(request.app.state, "bill_downloads", None)
    if not isinstance(found, Downloads):
        found = Downloads()
        request.app.state.bill_downloads = found
    return found


def closed_day(text: str, fmt: str, published: AbstractSet[date]) -> date | None:
    """The bill day when it parses and is over (bills exist from the next day on) or was
    published early (``Downloads.published``)."""
    try:
        day = datetime.strptime(text, fmt).date()  # noqa: DTZ007  (a calendar date)
    except ValueError:
        return None
    today = bills.local_day(ids.now_s())
    return day if day < today or day in published else None


@router.post("/sandbox/bills/fail-next", status_code=202)
async def fail_next(body: FailNext, request: Request) -> dict[str, object]:
    """Sandbox extension: the next downloads of a channel fail (422 for a channel without a
    statement)."""
    billed = sandbox_of(request).channels.with_statements()
    if body.channel not in billed:
        raise HTTPException(422, f"channel must be one of {', '.join(billed)}")
    downloads(request).failures[body.channel] = (body.count, body.status)
    return {"channel": body.channel, "count": body.count, "status": body.status}


@router.post("/sandbox/bills/publish-day", status_code=202)
async def publish_day(body: PublishDay, request: Request) -> dict[str, object]:
    """Sandbox extension: the day's bills can be downloaded now."""
    downloads(request).published.add(body.date)
    return {"date": body.date.isoformat(), "published": True}
