"""Debian's chromium driven by Playwright for the console's browser tests.

Never a downloaded browser: ``/usr/bin/chromium`` (``apt-get install chromium``; the test
command installs it when missing, see scripts/run_tests.py). A missing browser fails the
tests, it does not skip them. Screenshots go to var/test-artifacts/console/ (gitignored).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from playwright.async_api import Browser, Page, async_playwright, expect

from otd_shared.settings import REPO_ROOT
from otd_shared.testing.cluster import RunningCluster

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "var" / "test-artifacts" / "console"
# A loaded CI machine (2 cores, many processes) needs patience; a real failure still fails.
TIMEOUT_MS = 60_000
VIEWPORT_W = 1440
VIEWPORT_H = 900


def require_chromium() -> None:
    """Fail (never skip) when Debian's chromium is not installed."""
    assert CHROMIUM.is_file(), (
        f"{CHROMIUM} is missing: run `apt-get install -y chromium` (make test does it as root)"
    )


@pytest.fixture(scope="session")
async def browser() -> AsyncIterator[Browser]:
    """One headless chromium for the session (Playwright's async API on the test loop)."""
    require_chromium()
    async with async_playwright() as playwright:
        launched = await playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=CHROMIUM_ARGS
        )
        try:
            yield launched
        finally:
            await launched.close()


@pytest.fixture
async def page(browser: Browser) -> AsyncIterator[Page]:
    """A fresh browser context (no cookies) and page."""
    context = await browser.new_context(viewport={"width": VIEWPORT_W, "height": VIEWPORT_H})
    context.set_default_timeout(TIMEOUT_MS)
    expect.set_options(timeout=TIMEOUT_MS)
    opened = await context.new_page()
    try:
        yield opened
    finally:
        await context.close()


async def shot(page: Page, name: str) -> Path:
    """Save a full-page screenshot as a test artefact."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    return path


def console_users(var_dir: Path) -> dict[str, dict[str, str]]:
    """The users the launcher wrote."""
    users: dict[str, dict[str, str]] = json.loads((var_dir / "console-users.json").read_text())
    return users


async def sign_in_as(page: Page, cluster: RunningCluster, role: str) -> str:
    """Drop the page's cookies and sign in as the launcher's user of ``role``; the console's
    base URL."""
    base = cluster.urls["finance-console"]
    entry = console_users(cluster.var_dir)[role]
    await page.context.clear_cookies()
    await sign_in(page, base, entry["username"], entry["password"])
    return base


async def sign_in(page: Page, base_url: str, username: str, password: str) -> None:
    """Fill and send the sign-in form."""
    await page.goto(base_url + "/login")
    await page.fill("input[name=username]", username)
    await page.fill("input[name=password]", password)
    # "commit": the redirect to the role's home arrived; callers wait for what they need
    async with page.expect_navigation(wait_until="commit"):
        await page.click("form button[type=submit]")
