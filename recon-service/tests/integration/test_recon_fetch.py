"""The daily fetch against the channel sandbox over real HTTP: WeChat's signed trade bill API
(download URL, SHA-1 checked), UnionPay's file transfer, Lakala's download; the raw files
archived under their hash, the same file twice not loaded again, retries with back-off on
5xx, "No Bill Exist" recognised, a late statement alerted; time driven by a test clock; the
in-process scheduler runs the job once it is 14:30."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from channel_sandbox.app import create_app, load_sandbox_keys
from channel_sandbox.config import SandboxSettings
from channel_sandbox.store import Order, Origin, PayState, Refund
from channel_sandbox.testing import serving
from recon_service.adapters.channel_bills import NoBill, _looks_like_error, _wechat_error
from recon_service.bootstrap import daily_scheduler, fetch_deps
from recon_service.domain.statement import BUSINESS_TZ
from recon_service.service_layer.daily import daily_job
from recon_service.service_layer.fetch import fetch_day
from recon_service.service_layer.metrics import ReconMetrics
from recon_service.testing.clock import DrivenClock

pytestmark = pytest.mark.integration
YESTERDAY = datetime.now(BUSINESS_TZ).date() - timedelta(days=1)


def local(day: date, hh: int, mm: int = 0) -> datetime:
    return datetime.combine(day, time(hh, mm), BUSINESS_TZ)


@pytest.fixture(scope="module")
def keys_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys")
    load_sandbox_keys(path)
    return path


@pytest.fixture
async def sandbox(keys_dir: Path) -> AsyncIterator[tuple[str, Any]]:
    settings = SandboxSettings(keys_dir=keys_dir, log_level="WARNING")
    app = create_app(settings)
    async with serving(app) as url:
        yield url, app.state.sandbox


def paid(sandbox: Any, channel: str, n: int, fen: int, at: datetime, **refund: int) -> str:
    """An order the sandbox saw paid at ``at`` (and refunded as given)."""
    otn = f"P{uuid.uuid4().hex[:14].upper()}{n}"
    at_s = int(at.timestamp())
    order = Order(
        channel=channel, out_trade_no=otn, amount_fen=fen, origin=Origin.POS,
        channel_txn_id=f"{at:%m%d}{uuid.uuid4().int % 10**17:017d}", notify_url=None,
        created_s=at_s, state=PayState.PAID, paid_s=at_s,
    )  # fmt: skip
    for no, amount in refund.items():
        order.refunds[no] = Refund(no, f"R{no}", amount, at_s, None, succeeded_s=at_s + 60)
    sandbox.store.add(order)
    return otn


def archived_sources(archive: Path) -> list[str]:
    """The sources with a file under ``<archive>/<source>/<day>/<sha256>``."""
    return sorted(p.parent.parent.name for p in archive.glob("*/*/*"))


def recon_settings(url: str, keys_dir: Path, archive: Path) -> dict[str, Any]:
    return {
        "channel_sandbox_url": url,
        "keys_dir": keys_dir,
        "statement_archive_dir": archive,
        "daily_job_enabled": False,
        "fetch_backoff_ms": 100,
    }


async def test_the_daily_job_fetches_archives_loads_once_and_reconciles(
    recon_with, sandbox, keys_dir: Path, tmp_path: Path
) -> None:
    url, sb = sandbox
    for channel in ("wechatpay", "unionpay", "lakala"):
        paid(sb, channel, 1, 100_000, local(YESTERDAY, 10), **{f"RF{channel[:3]}1": 20_000})
        paid(sb, channel, 2, 5_000, local(YESTERDAY, 11))
    clock = DrivenClock(local(YESTERDAY + timedelta(days=1), 14, 30))
    async with recon_with(**recon_settings(url, keys_dir, tmp_path)) as recon:
        async with fetch_deps(recon.runtime, clock) as deps:
            first = await daily_job(deps, recon.settings.recon_policy(), YESTERDAY)
            again = await fetch_day(deps, YESTERDAY)
        statements = await recon.scalar(
            "SELECT count(*) FROM recon.statements WHERE statement_date = :d AND "
            "loaded_by = 'recon-fetch'",
            d=YESTERDAY,
        )
        archived = archived_sources(tmp_path)
        fetched = {r["source"]: r for r in first["fetched"]}
        runs = {r["source"]: r for r in first["reconciled"]}
    assert {s: r["status"] for s, r in fetched.items()} == dict.fromkeys(
        ("wechatpay", "lakala", "unionpay"), "loaded"
    )
    assert [r["status"] for r in again] == ["already_loaded"] * 3
    assert statements == 3
    assert archived == ["lakala", "unionpay", "wechatpay"]
    for source in ("wechatpay", "lakala", "unionpay"):
        assert runs[source]["status"] == "reconciled"
        assert runs[source]["counts"]["channel_only"] == 3  # sandbox payments we never made
    assert runs["alipay"]["status"] == "statement_missing"


async def test_retries_with_back_off_then_loads(
    recon_with, sandbox, keys_dir: Path, tmp_path: Path
) -> None:
    url, sb = sandbox
    paid(sb, "wechatpay", 1, 8_800, local(YESTERDAY, 9))
    async with httpx.AsyncClient() as client:
        failing = await client.post(
            url + "/sandbox/bills/fail-next",
            json={"channel": "wechatpay", "count": 2, "status": 503},
        )
    assert failing.status_code == 202
    clock = DrivenClock(local(YESTERDAY + timedelta(days=1), 14, 30))
    settings = {**recon_settings(url, keys_dir, tmp_path), "fetch_sources": ["wechatpay"]}
    async with recon_with(**settings) as recon, fetch_deps(recon.runtime, clock) as deps:
        [report] = await fetch_day(deps, YESTERDAY)
    assert (report["status"], report["attempts"]) == ("loaded", 3)
    assert clock.slept == [0.1, 0.2]


async def test_no_bill_is_recognised_and_late_after_the_deadline(
    recon_with, sandbox, keys_dir: Path, tmp_path: Path
) -> None:
    url, _ = sandbox
    empty_day = YESTERDAY - timedelta(days=3)  # nothing paid that day
    settings = {**recon_settings(url, keys_dir, tmp_path), "fetch_sources": ["wechatpay"]}
    async with recon_with(**settings) as recon:
        early = DrivenClock(local(empty_day + timedelta(days=1), 14, 30))
        async with fetch_deps(recon.runtime, early) as deps:
            [on_time] = await fetch_day(deps, empty_day)
        late = DrivenClock(local(empty_day + timedelta(days=1), 16, 1))
        async with fetch_deps(recon.runtime, late) as deps:
            [after] = await fetch_day(deps, empty_day)
        gauge = ReconMetrics.of(recon.runtime.metrics.registry).statement_late
        alerted = gauge.labels("wechatpay")._value.get()
    assert on_time["status"] == "no_bill"
    assert "No Bill Exist" in str(on_time["detail"])
    assert after["status"] == "late"
    assert alerted == 1


def test_error_bodies_where_a_bill_was_due_are_recognised() -> None:
    xml = b"<xml><return_code>FAIL</return_code><return_msg>No Bill Exist</return_msg></xml>"
    assert _looks_like_error(xml)
    assert _looks_like_error(b'{"code":"NO_STATEMENT_EXIST","message":"No Bill Exist"}')
    assert not _looks_like_error("交易时间,公众账号ID".encode())
    assert isinstance(_wechat_error(400, {"message": "No Bill Exist"}), NoBill)
    assert not isinstance(_wechat_error(500, {"code": "SYSTEM_ERROR"}), NoBill)


async def test_the_scheduler_runs_the_job_once_at_half_past_two(recon_with, tmp_path) -> None:
    async with recon_with(statement_archive_dir=tmp_path, fetch_sources=[]) as recon:
        clock = DrivenClock(datetime(2031, 3, 2, 6, 0, tzinfo=UTC))  # 14:00 in Shanghai
        scheduler = daily_scheduler(recon.runtime, clock)
        assert await scheduler.tick() is None
        clock.current += timedelta(minutes=31)
        assert await scheduler.tick() == date(2031, 3, 1)
        assert await scheduler.tick() is None  # once per day
