"""Browsers for tests: Debian's Chromium driven by Playwright (no browser download), and a
browser context on a node's ``/ui`` pages, signed in or not.

``make test`` installs Chromium (``make chromium``); a test that needs it and finds none
fails saying so, never skips.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright

__all__ = ["CHROMIUM", "launched_chromium", "ui_session"]

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]


@contextmanager
def launched_chromium() -> Iterator[Browser]:
    """Debian's Chromium, headless, until the block ends."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: run `make chromium` (or `make test`)", pytrace=False)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def ui_session(browser: Browser, url: str, token: str | None) -> Iterator[Page]:
    """A fresh context's page on the node at ``url``, signed in to its ``/ui`` with
    ``token`` through the sign-in form (not signed in when ``token`` is None); the block
    fails if any page broke the node's Content-Security-Policy meanwhile."""
    context = browser.new_context()
    violations: list[str] = []

    def watch(message: ConsoleMessage) -> None:
        if "Content Security Policy" in message.text:
            violations.append(message.text)

    try:
        page = context.new_page()
        page.on("console", watch)
        if token is not None:
            page.goto(url + "/ui/login")
            page.fill("input[name=token]", token)
            page.click("button[type=submit]")
            page.wait_for_url("**/ui/situation")
        yield page
        assert not violations, violations
    finally:
        context.close()
