"""The statement fetch of one day (the first half of the 14:30 daily job): every channel with
a download API, retried with back-off, the raw file archived under its SHA-256, the WeChat
SHA-1 checked, then loaded like an upload. The same file twice is recognised (content hash)
and not loaded again; a day still without its statement after the deadline is LATE (alerted).
Time comes from a ``Clock`` so tests drive it."""

from __future__ import annotations

import asyncio
import gzip
import hashlib
import logging
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Protocol

import httpx

from otd_shared.errors import DomainError
from recon_service.adapters.channel_bills import BillFetcher, FetchedBill, FetchFailed, NoBill
from recon_service.domain.fetch import FetchPolicy, FetchStatus
from recon_service.domain.statement import Source, StatementLimits
from recon_service.service_layer.metrics import ReconMetrics
from recon_service.service_layer.statements import StatementUpload, load_statement
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

log = logging.getLogger(__name__)
FETCHED_BY = "recon-fetch"
DETAIL_MAX_CHARS = 500


class Clock(Protocol):
    """Now and sleeping (the system clock at runtime; a driven one in tests)."""

    def now(self) -> datetime:
        """The current instant (aware)."""
        ...

    async def sleep(self, seconds: float) -> None:
        """Wait."""
        ...


class SystemClock:
    """The real clock."""

    def now(self) -> datetime:
        """UTC now."""
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        """asyncio.sleep."""
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class FetchDeps:
    """What a fetch needs (built in bootstrap from settings)."""

    uow: Callable[[], ReconUnitOfWork]
    client: httpx.AsyncClient
    fetchers: Sequence[BillFetcher]
    policy: FetchPolicy
    limits: StatementLimits
    batch_lines: int
    archive_dir: Path
    clock: Clock
    metrics: ReconMetrics | None = None


@dataclass
class _Outcome:
    status: FetchStatus
    attempts: int
    detail: str = ""
    bill: FetchedBill | None = None


async def fetch_day(deps: FetchDeps, day: date) -> list[dict[str, object]]:
    """Fetch every channel's statement of ``day``; one report per source."""
    return [await fetch_one(deps, fetcher, day) for fetcher in deps.fetchers]


async def fetch_one(deps: FetchDeps, fetcher: BillFetcher, day: date) -> dict[str, object]:
    """Download (with retries), archive, check, load; record and report the outcome."""
    outcome = await _download(deps, fetcher, day)
    values: dict[str, object] = {"source": fetcher.source, "statement_date": day}
    if outcome.bill is not None:
        values.update(await _archive_and_load(deps, fetcher.source, day, outcome))
    if outcome.status not in (FetchStatus.LOADED, FetchStatus.ALREADY_LOADED) and (
        deps.policy.is_late(day, deps.clock.now())
    ):
        outcome.status = FetchStatus.LATE
        log.warning(
            "statement late",
            extra={"source": fetcher.source, "day": day.isoformat(), "why": outcome.detail},
        )
    _count(deps, fetcher.source, outcome.status)
    values.update(
        status=outcome.status.value,
        attempts=outcome.attempts,
        detail=outcome.detail[:DETAIL_MAX_CHARS] or None,
    )
    async with deps.uow() as uow:
        await uow.fetches.record(values)
        await uow.commit()
    report = {k: str(v) if k == "statement_id" else v for k, v in values.items() if v is not None}
    report["statement_date"] = day.isoformat()
    return report


async def _download(deps: FetchDeps, fetcher: BillFetcher, day: date) -> _Outcome:
    attempt = 0
    while True:
        attempt += 1
        try:
            bill = await fetcher.fetch(deps.client, day)
            _check_sha1(bill)
        except NoBill as exc:
            return _Outcome(FetchStatus.NO_BILL, attempt, str(exc))
        except FetchFailed as exc:
            if not exc.retryable or attempt >= deps.policy.attempts:
                return _Outcome(FetchStatus.FAILED, attempt, str(exc))
            await deps.clock.sleep(deps.policy.backoff_s(attempt))
            continue
        return _Outcome(FetchStatus.LOADED, attempt, bill=bill)


def _check_sha1(bill: FetchedBill) -> None:
    """WeChat's ``hash_value``: SHA-1 of the uncompressed bill (a mismatch is retried)."""
    if bill.sha1 is None:
        return
    try:
        plain = gzip.decompress(bill.content) if bill.content[:2] == b"\x1f\x8b" else bill.content
    except (OSError, EOFError, zlib.error):
        raise FetchFailed("the downloaded gzip is corrupt", retryable=True) from None
    if hashlib.sha1(plain, usedforsecurity=False).hexdigest() != bill.sha1:
        raise FetchFailed("the download does not match the SHA-1 hash_value", retryable=True)


async def _archive_and_load(
    deps: FetchDeps, source: str, day: date, outcome: _Outcome
) -> dict[str, object]:
    bill = outcome.bill
    assert bill is not None
    sha256 = hashlib.sha256(bill.content).hexdigest()
    path = await asyncio.to_thread(_archive, deps.archive_dir, source, day, sha256, bill)
    values: dict[str, object] = {"content_sha256": sha256, "archive_path": str(path)}
    try:
        with path.open("rb") as stream:
            loaded = await load_statement(
                deps.uow(),
                StatementUpload(
                    source=Source(source),
                    stream=stream,
                    filename=bill.filename,
                    statement_date=day,
                    loaded_by=FETCHED_BY,
                ),
                deps.limits,
                batch_lines=deps.batch_lines,
            )
    except DomainError as exc:
        outcome.status, outcome.detail = FetchStatus.FAILED, f"{exc.code}: {exc.message}"
        return values
    values["statement_id"] = loaded.statement.statement_id
    if not loaded.created:
        outcome.status = FetchStatus.ALREADY_LOADED
    return values


def _archive(archive_dir: Path, source: str, day: date, sha256: str, bill: FetchedBill) -> Path:
    """``<archive>/<source>/<yyyy-mm-dd>/<sha256>``: written once (the same file twice is
    the same path), never overwritten."""
    folder = archive_dir / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / sha256
    if not path.exists():
        partial = folder / f".{sha256}.part"
        partial.write_bytes(bill.content)
        partial.replace(path)
    return path


def _count(deps: FetchDeps, source: str, status: FetchStatus) -> None:
    if deps.metrics is None:
        return
    deps.metrics.fetches.labels(source, status.value).inc()
    deps.metrics.statement_late.labels(source).set(1 if status is FetchStatus.LATE else 0)
