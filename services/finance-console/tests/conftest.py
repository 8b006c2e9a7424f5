"""Browser fixtures for the console tests (Debian's chromium through Playwright)."""

from finance_console.testing.browser import browser, page

__all__ = ["browser", "page"]
