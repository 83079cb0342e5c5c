"""Real-browser tests: Debian's chromium driven by Playwright's Python API against a live server."""

import os
import shutil

import pytest

CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def pytest_collection_modifyitems(config, items):
    if os.path.exists(CHROMIUM) or os.environ.get("COS_REQUIRE_BROWSER") == "1":
        return
    skip = pytest.mark.skip(reason=f"needs Debian's chromium at {CHROMIUM} (apt-get install chromium)")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


@pytest.fixture
def browser_page(live_server, monkeypatch):
    """A phone-sized page in headless chromium; the live server shares the test database."""
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = browser.new_context(viewport={"width": 360, "height": 740}, is_mobile=True, has_touch=True)
        page = context.new_page()
        page.set_default_timeout(15_000)
        page.base_url = live_server.url
        yield page
        context.close()
        browser.close()


@pytest.fixture
def phone(browser_page):
    """The headless chromium page at the size of a current phone (390x844)."""
    from tests.e2e.phone import PHONE

    browser_page.set_viewport_size(PHONE)
    return browser_page
