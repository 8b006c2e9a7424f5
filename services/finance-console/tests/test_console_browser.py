"""The console in a real browser against the running cluster: sign-in, a refused role,
the dashboard's seven sources and charts, statement upload with real progress, sign-out."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

import pytest
from playwright.async_api import Page, expect

from finance_console.testing.browser import console_users, shot, sign_in
from otd_shared.testing.cluster import RunningCluster
from recon_service.testing.statement_files import Txn, wechat_bill

pytestmark = pytest.mark.e2e
UPLOAD_BYTES_PER_S = 600_000
BIG_BILL_LINES = 6_000
SOURCE_LABELS_IN_ORDER = ["WeChat", "Alipay", "Lakala", "UnionPay", "Allinpay", "cash", "wire"]


def _console(cluster: RunningCluster) -> str:
    return cluster.urls["finance-console"]


def _user(cluster: RunningCluster, role: str) -> tuple[str, str]:
    entry = console_users(cluster.var_dir)[role]
    return entry["username"], entry["password"]


async def test_wrong_password_is_refused(page: Page, running_cluster: RunningCluster) -> None:
    username, _ = _user(running_cluster, "finance")
    await sign_in(page, _console(running_cluster), username, "not-the-password")
    await expect(page.get_by_role("alert")).to_contain_text("Wrong user name or password")
    assert await page.context.cookies() == [] or all(
        c["name"] != "otd_console_session" for c in await page.context.cookies()
    )
    await shot(page, "01-login-refused")


async def test_cashier_is_refused_the_finance_pages(
    page: Page, running_cluster: RunningCluster
) -> None:
    base = _console(running_cluster)
    await sign_in(page, base, *_user(running_cluster, "cashier"))
    await expect(page.get_by_test_id("who")).to_contain_text("cashier")
    await expect(page.locator("nav")).not_to_contain_text("Recon dashboard")
    response = await page.goto(base + "/dashboard")
    assert response is not None
    assert response.status == 403
    await expect(page.get_by_test_id("error")).to_contain_text("may not")
    await shot(page, "02-cashier-refused-dashboard")


async def test_finance_sees_the_dashboard_with_charts(
    page: Page, running_cluster: RunningCluster
) -> None:
    base = _console(running_cluster)
    await sign_in(page, base, *_user(running_cluster, "finance"))
    assert page.url.endswith("/dashboard")
    cookie = next(c for c in await page.context.cookies() if c["name"] == "otd_console_session")
    assert cookie["httpOnly"] is True
    assert await page.evaluate("document.cookie") == ""
    sources = await page.locator(
        "[data-testid=recon-day] tbody tr td:first-child"
    ).all_inner_texts()
    assert sources == SOURCE_LABELS_IN_ORDER
    await expect(page.locator("#chart-matched")).to_have_attribute("data-rendered", "true")
    await expect(page.locator("#chart-settlement svg")).to_have_count(1)
    html = await page.content()
    for token in running_cluster.tokens.values():
        assert token not in html
    await shot(page, "03-dashboard")


def _bill(day: date, lines: int) -> bytes:
    at = datetime(day.year, day.month, day.day, 4, 0, tzinfo=UTC)
    txns = [
        Txn(
            out_trade_no=f"CONSOLE{day:%Y%m%d}{n:08d}",
            channel_txn_id=f"4200{day:%Y%m%d}{n:020d}",
            amount_fen=10_000 + n,
            at=at + timedelta(seconds=n),
            fee_fen=60,
        )
        for n in range(lines)
    ]
    return wechat_bill(txns)


async def test_upload_streams_with_progress_then_shows_the_parse_result(
    page: Page, running_cluster: RunningCluster
) -> None:
    base = _console(running_cluster)
    await sign_in(page, base, *_user(running_cluster, "finance"))
    await page.goto(base + "/statements")
    day = date(2026, 3, 2)
    content = _bill(day, BIG_BILL_LINES)
    cdp = await page.context.new_cdp_session(page)
    await cdp.send("Network.enable")
    await cdp.send(
        "Network.emulateNetworkConditions",
        {
            "offline": False,
            "latency": 0,
            "downloadThroughput": -1,
            "uploadThroughput": UPLOAD_BYTES_PER_S,
        },
    )
    await page.select_option("select[name=source]", "wechatpay")
    await page.set_input_files(
        "input[type=file]",
        files=[{"name": "wechat-bill.csv", "mimeType": "text/csv", "buffer": content}],
    )
    await page.click("#upload-form button[type=submit]")
    await expect(page.locator("#upload-progress")).to_be_visible()
    between = re.compile(r"^[1-9][0-9]?$")  # 1..99: the file is on its way
    await expect(page.locator("#upload-progress")).to_have_attribute("data-percent", between)
    await shot(page, "04-upload-in-progress")
    result = page.get_by_test_id("upload-result")
    await expect(result).to_contain_text("Loaded wechatpay statement", timeout=60_000)
    await expect(result).to_contain_text(f"{BIG_BILL_LINES} lines")
    steps = [
        int(s)
        for s in (await page.locator("#upload-progress").get_attribute("data-steps") or "").split(
            ","
        )
        if s
    ]
    assert any(0 < s < 100 for s in steps), steps
    assert steps == sorted(steps)
    await expect(page.get_by_test_id("upload-pct")).to_have_text("100%")
    await shot(page, "05-upload-loaded")
    await page.reload()
    await expect(page.get_by_test_id("statements")).to_contain_text("wechat-bill.csv")
    await page.goto(base + f"/dashboard?date={day.isoformat()}")
    wechat = page.locator("[data-testid=recon-day] tr[data-source=wechatpay]")
    await expect(wechat).to_contain_text("arrived")
    await expect(wechat.locator("td").nth(2)).to_have_text(str(BIG_BILL_LINES))
    await expect(wechat).to_contain_text("not reconciled")
    await expect(page.locator("tr[data-source=alipay]")).to_contain_text("late")
    await shot(page, "07-dashboard-after-upload")


async def test_a_broken_statement_shows_the_exact_error_and_line(
    page: Page, running_cluster: RunningCluster
) -> None:
    base = _console(running_cluster)
    await sign_in(page, base, *_user(running_cluster, "finance"))
    await page.goto(base + "/statements")
    good = _bill(date(2026, 3, 3), 3).decode("utf-8")
    lines = good.split("\r\n")
    lines[2] = lines[2].replace("`SUCCESS`", "`SUCCESS").replace(",`", ",", 3)
    broken = "\r\n".join(lines).encode("utf-8")
    await page.select_option("select[name=source]", "wechatpay")
    await page.set_input_files(
        "input[type=file]",
        files=[{"name": "broken.csv", "mimeType": "text/csv", "buffer": broken}],
    )
    await page.click("#upload-form button[type=submit]")
    result = page.get_by_test_id("upload-result")
    await expect(result).to_contain_text(re.compile(r"Rejected: line 3: "), timeout=30_000)
    await shot(page, "06-upload-rejected")
    await page.reload()
    listed = page.get_by_test_id("upload-exceptions")
    await expect(listed).to_contain_text("broken.csv")
    await expect(listed).to_contain_text("statement_format")


async def test_sign_out_ends_the_session(page: Page, running_cluster: RunningCluster) -> None:
    base = _console(running_cluster)
    await sign_in(page, base, *_user(running_cluster, "finance-approver"))
    await expect(page.get_by_test_id("who")).to_contain_text("finance-approver")
    await page.click("form.who button")
    await page.wait_for_url(re.compile(r".*/login$"))
    await page.goto(base + "/ledger")
    assert page.url.endswith("/login")
