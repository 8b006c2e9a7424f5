"""The foreign keys recon checks instead of enforcing (migrations 0011/0012): after loads and
runs no line or result names a missing statement or run, and an orphan is found."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import pytest
import sqlalchemy as sa

from recon_service.adapters.integrity_repo import orphan_counts
from recon_service.adapters.tables import SCHEMA, recon_results
from recon_service.entrypoints.cli import integrity
from recon_service.testing.days import Day, load

pytestmark = pytest.mark.integration


async def test_no_orphans_after_loads_and_runs_and_an_orphan_is_found(recon: Any) -> None:
    d = Day(date(2031, 10, 20))
    await recon.deliver(d.callback(1, 100_000, d.at(10)))
    await load(recon, [d.line(1, 100_000, d.at(10)), d.line(2, 5_000, d.at(11))], d.day)
    await recon.run("wechatpay", d.day.isoformat())
    assert await integrity(recon.runtime) == {
        "integrity": {"statement_lines_without_statement": 0, "results_without_run": 0},
        "ok": True,
    }
    async with recon.runtime.engine.connect() as conn:
        transaction = await conn.begin()
        await conn.execute(
            sa.insert(recon_results).values(
                run_id=uuid.uuid4(),
                source="wechatpay",
                recon_date=d.day,
                outcome="matched",
                kind="payment",
                discrepancy_key="k",
            ),
        )
        assert (await orphan_counts(conn, SCHEMA))["results_without_run"] == 1
        await transaction.rollback()
