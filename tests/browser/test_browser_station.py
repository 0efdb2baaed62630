"""The admin clears a stale charging profile of an unknown box from its Station page, in real
Chromium against a real `ampshare serve`, with a strict ocpp-rpc box (tests/interop)."""

from __future__ import annotations

import json
import select
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser_support import log_in, open_page
from manager_process import ManagerProcess, running
from playwright.sync_api import Browser, Page, expect
from tools import INTEROP, require_node

pytestmark = [pytest.mark.browser, pytest.mark.slow]

STALE = {"id": 7, "connector": 1, "purpose": "TxDefaultProfile", "stackLevel": 2, "limit": 0}


def wait_ready(proc: subprocess.Popen[str], timeout_s: float = 15.0) -> None:
    """Until station.js booted (bounded); fails on its schema errors."""
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        readable, _, _ = select.select([proc.stdout], [], [], 0.2)
        if not readable:
            continue
        line = proc.stdout.readline()
        if not line:
            raise AssertionError("station.js ended before it was ready")
        event = json.loads(line)
        assert event["event"] != "error", event
        if event["event"] == "ready":
            return
    raise AssertionError("station.js not ready in time")


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ManagerProcess]:
    with running("serve", data_dir=tmp_path / "data") as proc:
        yield proc


@pytest.fixture
def stale_box(serve: ManagerProcess) -> Iterator[subprocess.Popen[str]]:
    node = require_node()
    config = json.dumps({"profiles": [STALE], "lifetime_ms": 120_000})
    proc = subprocess.Popen(
        [node, "station.js", str(serve.ocpp_port), "STALE1", "2.0.1", config],
        cwd=INTEROP,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        wait_ready(proc)
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=5)
        for stream in (proc.stdin, proc.stdout):
            if stream is not None:
                stream.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    with open_page(browser, 1280, locale="en-US") as p:
        yield p


def test_admin_clears_a_stale_profile_on_the_station_page(
    page: Page, serve: ManagerProcess, stale_box: subprocess.Popen[str]
) -> None:
    base = serve.url
    log_in(page, base)
    tile = page.locator('[data-cp="STALE1"]')
    expect(tile).to_be_visible()
    expect(tile.locator('[data-k="clear-stale"]')).to_be_enabled()
    tile.locator('[data-k="station"]').click()
    expect(page).to_have_url(base + "/stations/STALE1")
    expect(page.locator('#identity [data-k="vendor"]')).to_have_text("Interop")
    expect(page.locator('#identity [data-k="protocol"]')).to_have_text("OCPP 2.0.1")
    stale = page.locator('#profile-list tr[data-profile="7"]')
    expect(stale).to_be_visible()
    expect(stale).to_contain_text("foreign")
    # connector 0 (ampshare's default-deny for unknown boxes) and connector 1
    expect(page.locator("#profiles figure.profile-chart svg polyline")).to_have_count(2)
    page.click('[data-k="clear-all"]')
    expect(page.locator('#profiles [data-k="no-profiles"]')).to_be_visible()
    expect(page.locator("#profile-list")).to_have_count(0)
    page.goto(base + "/events")
    expect(page.locator("#audit")).to_contain_text("clear_profiles")
