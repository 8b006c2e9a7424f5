"""Cash in a real browser against the running cluster: the cashier finds the firm billing by
order id and records two receipts, the finance-approver reverses one with a reason, the
cashier closes the store's day and downloads its cash deposit report."""

from __future__ import annotations

import uuid

import httpx
import pytest
from playwright.async_api import Page, expect

from finance_console.testing.browser import shot, sign_in_as
from finance_console.testing.orders import firm_billing
from otd_shared.testing.cluster import RunningCluster

pytestmark = pytest.mark.e2e


async def _store(http: httpx.AsyncClient, cluster: RunningCluster) -> str:
    store_id = f"S-CON-{uuid.uuid4().hex[:8]}"
    registered = await http.put(
        cluster.urls["payment-gateway"] + f"/v1/pos/stores/{store_id}",
        headers=cluster.auth("sre"),
        json={"name": "Console test store", "terminals": {}},
    )
    assert registered.status_code == 200, registered.text
    return store_id


async def _record(page: Page, billing_id: str, amount: str, receipt_no: str) -> None:
    form = page.get_by_test_id("receipt-form")
    await form.locator("input[name=billing_id]").fill(billing_id)
    await form.locator("input[name=amount]").fill(amount)
    await form.locator("input[name=receipt_no]").fill(receipt_no)
    async with page.expect_navigation():
        await form.locator("button[type=submit]").click()
    await expect(page.get_by_test_id("cash-recorded")).to_contain_text(receipt_no)


async def test_record_receipts_reverse_one_and_close_the_day(
    page: Page, running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    firm = await firm_billing(http, running_cluster)
    store_id = await _store(http, running_cluster)
    tag = uuid.uuid4().hex[:6].upper()
    kept, wrong = f"R{tag}-1", f"R{tag}-2"

    base = await sign_in_as(page, running_cluster, "cashier")
    assert page.url.endswith("/cash")
    await page.goto(base + f"/cash?store_id={store_id}&order_id={firm['order_id']}")
    payable = page.get_by_test_id("payable-billings")
    await expect(payable).to_contain_text(firm["billing_id"])
    await expect(payable).to_contain_text("50,000.00")
    await shot(page, "30-cash-find-billing")
    await _record(page, firm["billing_id"], "10,000.00", kept)
    await _record(page, firm["billing_id"], "5000", wrong)
    receipts = page.get_by_test_id("receipts")
    await expect(receipts.locator(f"tr[data-receipt={kept}]")).to_contain_text("10,000.00")
    await expect(receipts.locator(f"tr[data-receipt={wrong}]")).to_contain_text("succeeded")
    await expect(receipts.get_by_role("button", name="Reverse")).to_have_count(0)
    await shot(page, "31-cash-receipts")
    day_url = page.url

    await sign_in_as(page, running_cluster, "finance-approver")
    await page.goto(day_url)
    row = receipts.locator(f"tr[data-receipt={wrong}]")
    await row.locator("input[name=reason]").fill("typed twice")
    async with page.expect_navigation():
        await row.get_by_role("button", name="Reverse").click()
    await expect(row).to_contain_text("reversed")
    await expect(row).to_contain_text("typed twice")
    await expect(page.get_by_test_id("close-form")).to_have_count(0)  # the cashier closes

    await sign_in_as(page, running_cluster, "cashier")
    await page.goto(day_url)
    async with page.expect_navigation():
        await page.get_by_test_id("close-form").locator("button").click()
    closed = page.get_by_test_id("day-close")
    await expect(closed).to_contain_text("2 · ¥15,000.00")
    await expect(closed).to_contain_text("1 · ¥5,000.00")
    await expect(closed).to_contain_text("¥10,000.00")
    await expect(page.get_by_test_id("receipt-form")).to_have_count(0)
    await expect(page.get_by_test_id("day-closed-note")).to_be_visible()
    await shot(page, "32-cash-day-closed")
    href = await page.get_by_test_id("day-report").get_attribute("href")
    assert href is not None
    report = await page.request.get(base + href)
    assert report.status == 200
    assert report.headers["content-type"].startswith("text/csv")
    assert "attachment" in report.headers["content-disposition"]
    rows = (await report.text()).strip().splitlines()
    assert len(rows) == 4, rows  # header, two receipts, one reversal
    assert sum(wrong in r for r in rows) == 2
    html = await page.content()
    for token in running_cluster.tokens.values():
        assert token not in html
