"""Operations in real Chromium: the log view's level filter, a bad and a good restore upload,
the version in the footer, in German."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import log_in, open_page
from manager_process import ManagerProcess
from playwright.sync_api import Browser, Page, expect

from manager.version import VERSION

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with open_page(browser, 1280, locale="de-DE") as p:
        yield p


def test_log_filter_and_restore(page: Page, demo: ManagerProcess, tmp_path: Path) -> None:
    base = demo.url
    log_in(page, base)
    expect(page.locator("footer")).to_have_text(f"ampshare {VERSION}")

    page.click("nav >> text=Protokoll")
    expect(page.locator("h1")).to_have_text("Protokoll")
    expect(page.locator("#log")).to_contain_text("ampshare up in")
    page.select_option("select[name=level]", "WARNING")  # submits by itself
    expect(page).to_have_url(re.compile(r"/log\?level=WARNING$"))
    expect(page.locator("main")).not_to_contain_text("ampshare up in")

    archive = tmp_path / "backup.tar.gz"
    archive.write_bytes(demo.api.get("/api/backup").content)
    broken = tmp_path / "broken.tar.gz"
    broken.write_bytes(archive.read_bytes()[:300])
    page.goto(base + "/settings#backup")
    page.on("dialog", lambda dialog: dialog.accept())
    page.set_input_files("#f-archive", str(broken))
    page.click("#restore-form button[type=submit]")
    expect(page.locator("#restore-form .form-error")).to_contain_text("archive is damaged")
    page.set_input_files("#f-archive", str(archive))
    page.click("#restore-form button[type=submit]")
    expect(page.locator("#toast")).to_have_text("Wiederhergestellt. Der Manager startet neu…")
    expect(page).to_have_url(re.compile(r"/settings"), timeout=20_000)
    expect(page.locator("h1")).to_have_text("Einstellungen", timeout=20_000)
