"""Steps every browser test takes: Debian's Chromium, a page that fails on
script errors, and the admin's login."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from chromium import ARGS
from manager_process import PASSWORD
from playwright.sync_api import Browser, Page, expect, sync_playwright
from tools import require_chromium

WAIT_MS = 15_000


@contextmanager
def chromium() -> Iterator[Browser]:
    """Debian's Chromium under Playwright; never a downloaded browser."""
    executable = require_chromium()
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@contextmanager
def open_page(
    browser: Browser, width: int | None = None, height: int = 900, **context: Any
) -> Iterator[Page]:
    """A fresh context (own cookies) with one page; fails on any script error in it."""
    if width is not None:
        context["viewport"] = {"width": width, "height": height}
    ctx = browser.new_context(**context)
    ctx.set_default_timeout(WAIT_MS)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    try:
        yield page
    finally:
        ctx.close()
    assert not errors, errors


def log_in(
    page: Page, base: str, *, next_path: str | None = None, lands_on: str | None = "/"
) -> None:
    """The admin logs in on the login page; waits for `lands_on` unless it is None."""
    page.goto(base + "/login" + (f"?next={next_path}" if next_path else ""))
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    if lands_on is not None:
        expect(page).to_have_url(base + lands_on)
