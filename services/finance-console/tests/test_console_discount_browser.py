"""The discount report in a real browser against the running cluster: marketing's activity
approved by the finance-approver (the pool is dealt), a discounted WeChat payment through the
sandbox, then marketing reads the activity's day (drawn, confirmed, budget spent and left)
with its ECharts chart."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from finance_console.domain.access import ConsoleRole
from finance_console.testing.browser import console_users, shot, sign_in_as
from otd_shared.testing.cluster import RunningCluster, eventually, order_with_intent_billing
from otd_shared.testing.windows import within_today

pytestmark = pytest.mark.e2e
CARDS = 20
MAX_DISCOUNT_FEN = 500


async def _activity(http: httpx.AsyncClient, cluster: RunningCluster, store_id: str) -> str:
    starts_at, ends_at = within_today(datetime.now(UTC), timedelta(hours=1))
    created = await http.post(
        cluster.urls["payment-gateway"] + "/v1/discount-activities",
        headers=cluster.auth("marketing"),
        json={
            "name": f"console launch {store_id}",
            "starts_at": starts_at.isoformat(),
            "ends_at": ends_at.isoformat(),
            "stages": ["intent"],
            "channels": ["wechatpay"],
            "store_ids": [store_id],
            "threshold_fen": 1_000,
            "min_fen": 100,
            "max_fen": MAX_DISCOUNT_FEN,
            "cap_per_store_day": CARDS,
            "budget_fen": CARDS * MAX_DISCOUNT_FEN,
        },
    )
    assert created.status_code == 201, created.text
    return str(created.json()["activity_id"])


async def _pay_discounted(
    http: httpx.AsyncClient, cluster: RunningCluster, store_id: str
) -> dict[str, Any]:
    billing = await order_with_intent_billing(http, cluster)
    gateway = cluster.urls["payment-gateway"]
    app = cluster.auth("app-backend")
    started = await http.post(
        gateway + "/v1/payments",
        headers={**app, "Idempotency-Key": uuid.uuid4().hex},
        json={
            "billing_id": billing["billing_id"],
            "channel": "wechatpay",
            "amount_fen": billing["outstanding_fen"],
            "store_id": store_id,
        },
    )
    assert started.status_code == 201, started.text
    payment: dict[str, Any] = started.json()
    assert payment["discount_fen"] > 0
    paid = await http.post(
        cluster.urls["channel-sandbox"] + "/sandbox/actions",
        json={"channel": "wechatpay", "out_trade_no": payment["out_trade_no"], "action": "pay"},
    )
    assert paid.status_code in (200, 201, 202, 204), paid.text

    async def confirmed() -> bool:
        r = await http.get(gateway + f"/v1/payments/{payment['payment_id']}", headers=app)
        return bool(r.json()["discount"]["status"] == "confirmed")

    await eventually(confirmed, timeout_s=60)
    return payment


def _yuan(fen: int) -> str:
    return f"{fen // 100:,}.{fen % 100:02d}"


async def test_approve_an_activity_then_read_its_report_with_the_chart(
    page: Page, running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    assert ConsoleRole.MARKETING.value in console_users(running_cluster.var_dir)
    store_id = f"S-DSC-{uuid.uuid4().hex[:8]}"
    activity_id = await _activity(http, running_cluster, store_id)

    base = await sign_in_as(page, running_cluster, "finance-approver")
    await page.goto(base + "/discounts?status=pending_approval")
    row = page.locator(f"[data-testid=activities] tr[data-activity='{activity_id}']")
    await expect(row).to_contain_text("pending approval")
    await row.get_by_role("link").click()
    async with page.expect_navigation():
        await page.get_by_test_id("approve-activity").locator("button").click()
    await expect(page.get_by_test_id("activity-status")).to_have_text("approved")
    await expect(page.get_by_test_id("activity-rule")).to_contain_text(f"{CARDS} cards")
    await shot(page, "40-discount-approved")

    payment = await _pay_discounted(http, running_cluster, store_id)
    discount_fen = int(payment["discount_fen"])
    budget_fen = CARDS * MAX_DISCOUNT_FEN

    base = await sign_in_as(page, running_cluster, "marketing")
    assert page.url.endswith("/discounts")
    await expect(page.locator("nav")).not_to_contain_text("Recon dashboard")
    await page.goto(base + f"/discounts/{activity_id}")
    day = page.locator("[data-testid=report-days] tbody tr").first
    await expect(day).to_contain_text(f"1 · ¥{_yuan(discount_fen)}")
    cells = await day.locator("td").all_inner_texts()
    assert cells[5:] == [_yuan(discount_fen), _yuan(budget_fen - discount_fen)], cells
    budget = page.get_by_test_id("budget")
    await expect(budget).to_contain_text(f"¥{_yuan(budget_fen - discount_fen)}")
    await expect(page.locator("#chart-discount")).to_have_attribute("data-rendered", "true")
    await expect(page.locator("#chart-discount svg")).to_have_count(1)
    await expect(page.get_by_test_id("approve-activity")).to_have_count(0)
    await shot(page, "41-discount-report")
