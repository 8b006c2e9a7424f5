"""The wire claim queue in a real browser against the running cluster: two unmatched
transfers from the bank link; the store cashier finds the billing by order and confirms the
first ("wire confirmation", below the threshold: claimed at once; an over-claim is refused with
the gateway's reason), finance splits the second over two orders' firm deposits (above the
threshold: pending), the finance-approver approves both parts, the first order's firm deposit
is paid in full, and a wrong part is unclaimed with a reason."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from playwright.async_api import Page, expect

from finance_console.domain.recon_day import business_today
from finance_console.testing.browser import shot, sign_in_as
from finance_console.testing.orders import firm_billing
from otd_shared.testing.cluster import RunningCluster, eventually

pytestmark = pytest.mark.e2e
BELOW_THRESHOLD_FEN = 1_000_000  # the gateway's default threshold: 5,000,000 fen
SPLIT_A_FEN = 4_000_000
SPLIT_B_FEN = 2_000_000  # 6,000,000 in all: above the threshold
WIRE_AGE_DAYS = 5


async def _wires(http: httpx.AsyncClient, cluster: RunningCluster, tag: str) -> list[str]:
    value_date = (business_today(datetime.now(UTC)) - timedelta(days=WIRE_AGE_DAYS)).isoformat()
    digits = f"{uuid.uuid4().int % 10**8:08d}"
    transfers = [
        {
            "bank_reference": f"CON{tag}{n}",
            "payer_name": f"Payer {tag} {n}",
            "payer_account": f"6222{digits}{n:04d}",
            "amount_fen": amount_fen,
            "value_date": value_date,
            "memo": "deposit",
        }
        for n, amount_fen in enumerate((BELOW_THRESHOLD_FEN, SPLIT_A_FEN + SPLIT_B_FEN))
    ]
    posted = await http.post(
        cluster.urls["payment-gateway"] + "/v1/wires",
        headers=cluster.auth("bank"),
        json={"transfers": transfers},
    )
    assert posted.status_code == 200, posted.text
    results = posted.json()["results"]
    assert [r["status"] for r in results] == ["queued", "queued"], results
    return [r["wire_id"] for r in results]


async def _wire(http: httpx.AsyncClient, cluster: RunningCluster, wire_id: str) -> Any:
    response = await http.get(
        cluster.urls["payment-gateway"] + f"/v1/wires/{wire_id}", headers=cluster.auth("finance")
    )
    return response.json()


async def test_confirm_a_wire_then_split_one_above_the_threshold_and_approve_it(
    page: Page, running_cluster: RunningCluster, http: httpx.AsyncClient
) -> None:
    firm_a, firm_b = await asyncio.gather(
        firm_billing(http, running_cluster), firm_billing(http, running_cluster)
    )
    tag = uuid.uuid4().hex[:8].upper()
    small, large = await _wires(http, running_cluster, tag)

    base = await sign_in_as(page, running_cluster, "cashier")
    await page.goto(base + f"/wires?bank_reference=CON{tag}0")
    row = page.locator(f"[data-testid=wires] tr[data-wire=CON{tag}0]")
    await expect(row).to_contain_text("10,000.00")
    await expect(row).to_contain_text(f"{WIRE_AGE_DAYS} d")
    await page.goto(base + "/wires")
    await expect(page.get_by_test_id("wire-ageing")).to_contain_text("4-7 days")
    await shot(page, "20-wire-queue")

    await page.goto(base + f"/wires/{small}")
    await page.fill("[data-testid=billing-search] input[name=order_id]", firm_a["order_id"])
    async with page.expect_navigation():
        await page.click("[data-testid=billing-search] button")
    billing_row = page.locator(f"[data-testid=billings] tr[data-billing='{firm_a['billing_id']}']")
    await expect(billing_row).to_contain_text("firm")
    await expect(billing_row).to_contain_text("50,000.00")
    await shot(page, "21-wire-billing-search")
    await billing_row.locator("input[name=amount]").fill("20,000")
    async with page.expect_navigation():
        await page.click("[data-testid=claim-form] button[type=submit]")
    await expect(page.get_by_test_id("error")).to_contain_text("exceeds what is unclaimed")
    await shot(page, "22-wire-overclaim-refused")
    async with page.expect_navigation():
        await page.get_by_test_id("error-back").click()
    await billing_row.locator("input[name=amount]").fill("10,000.00")
    async with page.expect_navigation():
        await page.click("[data-testid=claim-form] button[type=submit]")
    await expect(page.get_by_test_id("claims")).to_contain_text("claimed")
    await expect(page.get_by_test_id("wire-state")).to_have_text("fully claimed")
    await shot(page, "23-wire-confirmed")

    await sign_in_as(page, running_cluster, "finance")
    await page.goto(base + f"/wires/{large}?order_id={firm_a['order_id']}")
    await billing_row.locator("input[name=amount]").fill("40000")
    await page.fill("input[aria-label='billing id 1']", firm_b["billing_id"])
    await page.fill("input[aria-label='claim for billing id 1']", "20000.00")
    async with page.expect_navigation():
        await page.click("[data-testid=claim-form] button[type=submit]")
    claims = page.get_by_test_id("claims")
    await expect(claims.locator("tbody tr", has_text="pending approval")).to_have_count(2)
    await expect(page.get_by_test_id("wire-state")).to_contain_text(
        "¥60,000.00 waiting for approval"
    )
    await shot(page, "24-wire-split-pending")

    await sign_in_as(page, running_cluster, "finance-approver")
    await page.goto(base + "/wires")
    pending = page.get_by_test_id("pending-claims")
    await expect(pending).to_contain_text(firm_b["billing_id"])
    await shot(page, "25-wire-claims-waiting")
    await page.goto(base + f"/wires/{large}")
    for _ in range(2):
        async with page.expect_navigation():
            await claims.get_by_role("button", name="Approve").first.click()
    await expect(claims.locator("tbody tr", has_text="pending approval")).to_have_count(0)
    await expect(claims.locator("tbody tr", has_text="claimed")).to_have_count(2)
    await shot(page, "26-wire-split-approved")

    fund = running_cluster.urls["billing-service"] + f"/v1/orders/{firm_a['order_id']}/fund-order"

    async def firm_a_paid() -> bool:
        response = await http.get(fund, headers=running_cluster.auth("finance"))
        firm = next(b for b in response.json()["billings"] if b["stage"] == "firm")
        return bool(firm["status"] == "paid" and firm["paid_fen"] == 5_000_000)

    await eventually(firm_a_paid, timeout_s=60)
    assert (await _wire(http, running_cluster, large))["unclaimed_fen"] == 0

    part_b = claims.locator("tbody tr", has_text=firm_b["billing_id"])
    await part_b.locator("input[name=reason]").fill("payer meant another order")
    async with page.expect_navigation():
        await part_b.get_by_role("button", name="Unclaim").click()
    await expect(part_b).to_contain_text("unclaimed")
    await expect(page.get_by_test_id("wire-state")).to_contain_text("20,000.00")
    await shot(page, "27-wire-part-unclaimed")
    assert (await _wire(http, running_cluster, large))["unclaimed_fen"] == SPLIT_B_FEN
