"""The external limit's banner on the live dashboard, in real Chromium: it appears when a
limit is set over the API and goes when the limit is lifted, without a reload."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from browser_support import log_in, open_page
from manager_process import ManagerProcess
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with open_page(browser, 360, height=800, locale="de-DE") as p:
        yield p


def test_limit_banner_comes_and_goes_live(page: Page, demo: ManagerProcess) -> None:
    log_in(page, demo.url, lands_on=None)
    banner = page.locator("#limit-banner")
    expect(banner).to_be_hidden()
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    body = {"max_power_w": 4200, "until": until.isoformat()}
    assert demo.api.put("/api/limits/charging", json=body).status_code == 200
    hhmm = until.astimezone().strftime("%H:%M")
    expect(banner).to_be_visible()
    expect(banner).to_have_text(f"Laden begrenzt auf 4,2 kW bis {hhmm}")  # German browser
    assert demo.api.delete("/api/limits/charging").status_code == 204
    expect(banner).to_be_hidden()


def test_schedules_are_edited_on_the_device_page(page: Page, demo: ManagerProcess) -> None:
    """The list is a JSON field; overlapping windows get their message and are not saved."""
    log_in(page, demo.url, next_path="/devices/carport", lands_on=None)
    field = page.locator("#f-schedules")
    expect(field).to_have_value("[]")
    overlap = (
        '[{"days": ["mon"], "from": "22:00", "to": "06:00", "mode": "now"},'
        ' {"days": ["tue"], "from": "05:00", "to": "07:00", "mode": "pv"}]'
    )
    field.fill(overlap)
    page.click("#device-form button[type=submit]")
    expect(page.locator('[data-error-for="schedules"]')).to_contain_text(
        "window 1 overlaps window 2"
    )
    assert not demo.api.get("/api/devices/carport").json().get("schedules")
    nights = '[{"days": ["mon", "tue"], "from": "22:00", "to": "06:00", "mode": "now"}]'
    field.fill(nights)
    page.click("#device-form button[type=submit]")
    expect(page).to_have_url(demo.url + "/")
    saved = demo.api.get("/api/devices/carport").json()["schedules"]
    assert saved == [{"days": ["mon", "tue"], "from": "22:00", "to": "06:00", "mode": "now"}]
