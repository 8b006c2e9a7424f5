"""Wiring of recon-service: settings → runtime → app. Nothing is built at import."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable
from datetime import date
from pathlib import Path

import httpx
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from otd_shared.app import create_service_app
from otd_shared.cli import ServiceEntry
from otd_shared.events import Topic
from otd_shared.keyfiles import KeyFileError
from otd_shared.runtime import BackgroundJob, ConsumerSpec, ServiceRuntime, build_runtime
from otd_shared.settings import ServiceSettings
from recon_service.adapters.channel_bills import (
    BillFetcher,
    LakalaBillDownload,
    MerchantKeys,
    UnionPayFileTransfer,
    WechatTradeBill,
)
from recon_service.adapters.tables import SCHEMA, metadata
from recon_service.config import ReconSettings
from recon_service.domain.errors import StatementFormatError
from recon_service.entrypoints import adjust_api, api, runs_api
from recon_service.service_layer.daily import DailyScheduler, daily_job
from recon_service.service_layer.event_handlers import (
    payment_batch_handlers,
    payment_handlers,
)
from recon_service.service_layer.fetch import Clock, FetchDeps, SystemClock
from recon_service.service_layer.metrics import ReconMetrics
from recon_service.service_layer.unit_of_work import ReconUnitOfWork

MIGRATIONS_DIR = Path(__file__).resolve().parents[2] / "migrations"
FETCHER_TYPES: dict[str, Callable[[str, MerchantKeys], BillFetcher]] = {
    "wechatpay": WechatTradeBill,
    "lakala": LakalaBillDownload,
    "unionpay": UnionPayFileTransfer,
}
log = logging.getLogger(__name__)


def load_settings() -> ServiceSettings:
    """Settings from the environment."""
    return ReconSettings()


def build(settings: ServiceSettings) -> ServiceRuntime:
    """The runtime: engine, outbox, the payment-outcome consumer."""
    runtime = build_runtime(settings, schema=SCHEMA, topic=Topic.RECON, metadata=metadata)
    runtime.consumers.append(
        ConsumerSpec(
            "recon-payment-events",
            (Topic.PAYMENTS,),
            payment_handlers(),
            batch_handlers=payment_batch_handlers(),
            new_uow=lambda: ReconUnitOfWork(runtime.sessions, runtime.outbox),
        )
    )
    assert isinstance(settings, ReconSettings)
    ReconMetrics.of(runtime.metrics.registry)
    if settings.daily_job_enabled:
        runtime.jobs.append(BackgroundJob("recon-daily-job", daily_scheduler(runtime).run))
    return runtime


def fetchers(settings: ReconSettings) -> list[BillFetcher]:
    """The download clients of the configured sources (a source without keys is skipped)."""
    found: list[BillFetcher] = []
    for source in settings.fetch_sources:
        kind = FETCHER_TYPES.get(source)
        if kind is None:
            continue
        try:
            keys = MerchantKeys.load(settings.keys_dir, source)
        except (KeyFileError, OSError, ValueError) as exc:
            log.warning("no keys to fetch statements", extra={"source": source, "err": str(exc)})
            continue
        found.append(kind(settings.bill_url(source), keys))
    return found


@contextlib.asynccontextmanager
async def fetch_deps(
    runtime: ServiceRuntime, clock: Clock, *, transport: httpx.AsyncBaseTransport | None = None
) -> AsyncIterator[FetchDeps]:
    """What the fetch needs, with an HTTP client open for the duration."""
    settings = runtime.settings
    assert isinstance(settings, ReconSettings)
    timeout = httpx.Timeout(settings.fetch_timeout_s)
    async with httpx.AsyncClient(timeout=timeout, transport=transport) as client:
        yield FetchDeps(
            uow=lambda: ReconUnitOfWork(runtime.sessions, runtime.outbox),
            client=client,
            fetchers=fetchers(settings),
            policy=settings.fetch_policy(),
            limits=settings.statement_limits(),
            batch_lines=settings.statement_copy_batch_lines,
            archive_dir=settings.archive_dir(),
            clock=clock,
            metrics=ReconMetrics.of(runtime.metrics.registry),
        )


def daily_scheduler(runtime: ServiceRuntime, clock: Clock | None = None) -> DailyScheduler:
    """The in-process scheduler of the daily job (``make run``)."""
    settings = runtime.settings
    assert isinstance(settings, ReconSettings)
    used = clock or SystemClock()

    async def job(day: date) -> dict[str, list[dict[str, object]]]:
        async with fetch_deps(runtime, used) as deps:
            return await daily_job(deps, settings.recon_policy(), day)

    return DailyScheduler(
        job, settings.fetch_policy(), used, settings.daily_job_poll_s, settings.daily_job_retry_s
    )


def create_app(runtime: ServiceRuntime) -> FastAPI:
    """The HTTP app."""
    app = create_service_app(
        runtime,
        [api.router, runs_api.router, adjust_api.router],
        title="OTD Pay recon-service",
        description="Statements, reconciliation runs, discrepancies, adjustments.",
    )
    app.add_exception_handler(StatementFormatError, _statement_format_error)  # type: ignore[arg-type]  # Starlette types handlers loosely
    return app


async def _statement_format_error(_: Request, exc: StatementFormatError) -> JSONResponse:
    """Like every DomainError, plus the line number of the refused file."""
    return JSONResponse({**exc.to_body(), "line_no": exc.line_no}, status_code=exc.http_status)


ENTRY = ServiceEntry(load_settings, build, create_app, MIGRATIONS_DIR, SCHEMA)
