"""The discrepancy queue in a real browser: a discrepancy resolved by finance and approved by
the finance-approver as the second person, with its audit trail."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import httpx
import pytest
from playwright.async_api import Page, expect

from finance_console.testing.browser import console_users, shot, sign_in
from otd_shared.testing.cluster import RunningCluster
from recon_service.testing.statement_files import Txn, wechat_bill

pytestmark = pytest.mark.e2e
ABOVE_ADJUSTMENT_THRESHOLD_FEN = 2_500_000  # recon's default threshold: 1,000,000 fen


async def _as(page: Page, cluster: RunningCluster, role: str) -> str:
    base = cluster.urls["finance-console"]
    entry = console_users(cluster.var_dir)[role]
    await page.context.clear_cookies()
    await sign_in(page, base, entry["username"], entry["password"])
    return base


async def test_resolve_a_discrepancy_then_approve_it_as_the_second_person(
    page: Page, running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    day = date(2026, 5, 11)
    tag = uuid.uuid4().hex[:8].upper()
    bill = wechat_bill(
        [
            Txn(
                out_trade_no=f"UNKNOWN{tag}",
                channel_txn_id=f"4200{tag}{0:016d}",
                amount_fen=ABOVE_ADJUSTMENT_THRESHOLD_FEN,
                at=datetime(2026, 5, 11, 3, tzinfo=UTC),
            )
        ]
    )
    recon = running_cluster.urls["recon-service"]
    finance = running_cluster.auth("finance")
    loaded = await http.post(
        recon + "/v1/statements",
        headers=finance,
        data={"source": "wechatpay"},
        files={"file": ("bill.csv", bill, "text/csv")},
    )
    assert loaded.status_code in (200, 201), loaded.text
    run = await http.post(
        recon + "/v1/recon-runs",
        headers=finance,
        json={"source": "wechatpay", "date": day.isoformat()},
    )
    assert run.status_code == 201, run.text

    base = await _as(page, running_cluster, "finance")
    await page.goto(base + f"/discrepancies?source=wechatpay&date={day.isoformat()}")
    await expect(page.get_by_test_id("discrepancies")).to_contain_text("channel only")
    await shot(page, "10-discrepancy-queue")
    await page.get_by_test_id("discrepancies").get_by_role("link").first.click()
    await expect(page.get_by_test_id("channel-side")).to_contain_text("25,000.00")
    await expect(page.get_by_test_id("raw-line")).to_contain_text(f"UNKNOWN{tag}")
    await page.select_option("select[name=action]", "write_off")
    await page.fill("textarea[name=reason]", "unknown payer, booked to differences")
    async with page.expect_navigation():
        await page.click("[data-testid=resolve-form] button[type=submit]")
    await expect(page.get_by_test_id("adjustments")).to_contain_text("pending approval")
    await shot(page, "11-discrepancy-resolved-pending")
    detail_url = page.url

    await _as(page, running_cluster, "finance-approver")
    await page.goto(base + "/approvals")
    await expect(page.get_by_test_id("approvals")).to_contain_text("unknown payer")
    await shot(page, "12-approvals")
    await page.goto(detail_url)
    async with page.expect_navigation():
        await page.get_by_test_id("adjustments").get_by_role("button", name="Approve").click()
    await expect(page.get_by_test_id("adjustments")).to_contain_text("applied")
    trail = page.get_by_test_id("audit-trail")
    await expect(trail).to_contain_text("resolve:write_off")
    await expect(trail).to_contain_text("approve")
    await shot(page, "13-discrepancy-approved-audit")
