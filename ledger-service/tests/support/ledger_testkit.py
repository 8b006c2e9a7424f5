"""Helpers for the ledger's integration tests: a migrated database, settings, the app.

Importable from every ledger test (ledger-service/tests/conftest.py puts this folder on
sys.path); the module name is unique in the repository.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, date, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

from ledger_service.adapters.integrity import IntegrityReport, check_books
from ledger_service.adapters.tables import SCHEMA
from ledger_service.bootstrap import MIGRATIONS_DIR, LedgerRuntime, build, create_app
from ledger_service.config import LedgerSettings
from otd_shared.db import asyncpg_url
from otd_shared.events import (
    DiscrepancyResolved,
    EventPayload,
    LoanDisbursed,
    PaymentCallback,
    ReconCompleted,
    RefundRequested,
    WireClaimed,
    WireReceived,
)
from otd_shared.migrations import upgrade_head_async

TOKENS = {
    "finance": "tok-finance-0001",
    "finance-approver": "tok-approver-0001",
    "sre": "tok-sre-0001",
    "app-backend": "tok-app-0001",
}


def auth(role: str) -> dict[str, str]:
    """Authorization header for a role."""
    return {"Authorization": f"Bearer {TOKENS[role]}"}


async def migrated(url: str) -> str:
    """Migrate the ledger schema of a fresh database; returns the URL."""
    await upgrade_head_async(MIGRATIONS_DIR, url, SCHEMA)
    return url


def settings_for(url: str, **overrides: Any) -> LedgerSettings:
    """Settings for a test: its database, dev tokens, no workers."""
    values: dict[str, Any] = {
        "database_url": url,
        "auth_tokens_json": json.dumps(TOKENS),
        "kafka_bootstrap_servers": "127.0.0.1:1",
        "db_pool_size": 10,
        "log_json": False,
        **overrides,
    }
    return LedgerSettings(**values)


@asynccontextmanager
async def running(settings: LedgerSettings) -> AsyncIterator[LedgerRuntime]:
    """A runtime whose engine is disposed at the end."""
    runtime = build(settings)
    try:
        yield runtime
    finally:
        await runtime.engine.dispose()


@asynccontextmanager
async def client_for(runtime: LedgerRuntime) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client on the app in-process, authenticated as finance."""
    app = create_app(runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ledger", headers=auth("finance")
    ) as client:
        yield client


async def integrity_of(url: str) -> IntegrityReport:
    """Run the books' invariant checks on a database."""
    engine = create_async_engine(asyncpg_url(url))
    try:
        async with AsyncSession(bind=engine) as session:
            return await check_books(session)
    finally:
        await engine.dispose()


def unique(prefix: str) -> str:
    """A code segment unique to this test run."""
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def journal(
    source_id: str, day: str, *lines: tuple[str, int, int], description: str = "t"
) -> dict[str, Any]:
    """A manual journal body; lines are (account, debit_fen, credit_fen)."""
    return {
        "source_id": source_id,
        "business_date": day,
        "description": description,
        "lines": [{"account": a, "debit_fen": d, "credit_fen": c} for a, d, c in lines],
    }


# ---------------------------------------------------------------- consumed events

AT = datetime(2024, 5, 1, 2, 0, tzinfo=UTC)  # 10:00 in Shanghai


def payment(
    order: str, channel: str, fen: int, outcome: str = "succeeded", **extra: object
) -> PaymentCallback:
    return PaymentCallback(
        order_id=order,
        billing_id="bill-1",
        payment_id=f"pay-{uuid.uuid4().hex[:6]}",
        channel=channel,  # type: ignore[arg-type]
        method="default",
        outcome=outcome,  # type: ignore[arg-type]
        out_trade_no=uuid.uuid4().hex,
        amount_fen=fen,
        completed_at=AT,
        **extra,  # type: ignore[arg-type]
    )


def scenario(order: str) -> list[EventPayload]:
    """One order's money, from the intent deposit to revenue (delivery comes later)."""
    return [
        payment(order, "wechatpay", 500_000),
        payment(order, "cash", 2_000_000, store_id="S1"),
        payment(order, "wire", 1_000_000),  # posted by WireReceived, not here
        WireReceived(
            wire_id="w1", bank_account="ICBC-001", payer_account_last4="1234",
            amount_fen=1_000_000, matched_order_id=order, received_at=AT,
        ),
        WireReceived(
            wire_id="w2", bank_account="ICBC-001", payer_account_last4="9999",
            amount_fen=300_000, received_at=AT,
        ),
        WireClaimed(
            wire_id="w2", order_id=order, billing_id="b", amount_fen=300_000, claimed_by="c"
        ),
        LoanDisbursed(
            order_id=order, loan_order_id="L1", amount_fen=10_000_000, bank_reference="r"
        ),
        payment(order, "alipay", 100_000),
        payment(order, "alipay", 100_000, outcome="refunded", refund_id="rf1"),
        RefundRequested(
            order_id=order, billing_id="b", refund_request_id="rq1", amount_fen=50_000,
            reason="overpaid", channel="cash",
        ),
        payment(order, "cash", 50_000, outcome="refunded", store_id="S1"),
        payment(order, "unionpay", 70_000, outcome="failed"),
        payment(order, "cash", 10_000),  # no store: the unassigned till
        payment("not an order id", "alipay", 10),  # refused, kept as unposted
        ReconCompleted(
            run_id="run-1", source="wechatpay", recon_date=date(2024, 5, 1), counts={},
            settled_fen=497_000, fee_fen=3_000, gross_fen=500_000,
        ),
        DiscrepancyResolved(
            discrepancy_id="d1", source="wechatpay", kind="channel_only", adjustment_fen=200,
            resolved_by="f1", reason="long",
        ),
    ]  # fmt: skip


async def snapshot(runtime: LedgerRuntime) -> tuple[object, ...]:
    async with runtime.sessions() as session:
        rows = await session.execute(
            sa.text(
                "SELECT j.source_id, l.line_no, l.account, l.debit_fen, l.credit_fen "
                "FROM ledger.journals j JOIN ledger.journal_lines l USING (journal_id) "
                "ORDER BY j.seq, l.line_no"
            )
        )
        lines = [tuple(row) for row in rows]
        balances = await session.execute(
            sa.text(
                "SELECT account, sum(debit_fen), sum(credit_fen) FROM ledger.account_balances "
                "GROUP BY account ORDER BY account"
            )
        )
        outbox = await session.scalar(sa.text("SELECT count(*) FROM ledger.outbox"))
    return (lines, [tuple(row) for row in balances], outbox)
