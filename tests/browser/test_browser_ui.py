"""A person using the dashboard in real Chromium, on a desktop and on a 360 px phone.

Runs against `ampshare demo` as a real process on loopback. Chromium is Debian's; Playwright
never downloads a browser. Screenshots of the dashboard go to artifacts/ (git-ignored).
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import httpx
import pytest
from browser_support import WAIT_MS, open_page
from manager_process import PASSWORD, ManagerProcess
from modbus_emu import Emulator
from playwright.sync_api import Browser, Page, expect
from ports import free_port
from test_modbus_meters import sdm
from websockets.sync.client import ClientConnection, connect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


@pytest.fixture(params=[1280, 360], ids=["desktop", "phone"])
def width(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def page(browser: Browser, width: int) -> Iterator[Page]:
    with open_page(browser, width, locale="en-US", accept_downloads=True) as p:
        yield p


@pytest.fixture
def desktop(browser: Browser) -> Iterator[Page]:
    with open_page(browser, 1280, locale="en-US", accept_downloads=True) as p:
        yield p


class FakeChargePoint:
    """A minimal OCPP 1.6 charge point: boots, then accepts whatever the server asks."""

    def __init__(self, url: str, vendor: str, model: str) -> None:
        self.stack = ExitStack()
        self.ws: ClientConnection = self.stack.enter_context(
            connect(url, subprotocols=["ocpp1.6"], open_timeout=10)
        )
        self.ws.send(
            json.dumps(
                [
                    2,
                    "boot-1",
                    "BootNotification",
                    {"chargePointVendor": vendor, "chargePointModel": model},
                ]
            )
        )
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._answer, daemon=True)
        self.thread.start()

    def _answer(self) -> None:
        while not self.stop.is_set():
            try:
                raw = self.ws.recv(timeout=0.3)
            except TimeoutError:
                continue
            except Exception:
                return
            msg = json.loads(raw)
            if msg[0] != 2:
                continue
            action = msg[2]
            payload: dict[str, Any] = {"status": "Accepted"}
            if action == "GetConfiguration":
                payload = {"configurationKey": [], "unknownKey": []}
            elif action in ("DataTransfer",):
                payload = {"status": "Rejected"}
            try:
                self.ws.send(json.dumps([3, msg[1], payload]))
            except Exception:
                return

    def close(self) -> None:
        self.stop.set()
        self.thread.join(timeout=5)
        self.stack.close()


def login(page: Page, base: str) -> None:
    page.goto(base + "/")
    expect(page).to_have_url(f"{base}/login?next=%2F")
    page.fill("#password", "wrong")
    page.click("button[type=submit]")
    expect(page.locator(".field-error")).to_have_text("Wrong password.")
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    expect(page).to_have_url(base + "/")


def test_dashboard_flow(page: Page, demo: ManagerProcess, width: int) -> None:
    base = demo.url
    login(page, base)

    # the tiles are there and change live
    expect(page.locator("#site")).to_be_visible()
    expect(page.locator("[data-evse]")).to_have_count(3)
    expect(page.locator("[data-meter]")).to_have_count(2)
    expect(page.locator("#live.on")).to_be_visible()
    first = page.locator("#site [data-k=a0]").text_content()
    page.wait_for_function(
        "t => document.querySelector('#site [data-k=a0]').textContent !== t",
        arg=first,
        timeout=WAIT_MS,
    )
    carport = page.locator('[data-evse="carport"]')
    expect(carport.locator("[data-k=reason]")).not_to_be_empty()
    ARTIFACTS.mkdir(exist_ok=True)
    name = "desktop" if width > 600 else "phone"
    page.screenshot(path=str(ARTIFACTS / f"dashboard-{name}.png"), full_page=True)
    # nothing overflows sideways on a phone
    assert page.evaluate("document.documentElement.scrollWidth") <= width

    # add a simulated wallbox through the form and see its tile
    page.click("text=Add device")
    expect(page).to_have_url(base + "/devices/new")
    page.select_option("#pick-driver", "sim-evse")
    page.fill("#f-name", "Visitor box")
    page.fill("#f-max_current_a", "20")
    page.click("#device-form button[type=submit]")
    expect(page).to_have_url(base + "/")
    tile = page.locator("[data-evse]", has_text="Visitor box")
    expect(tile).to_have_count(1)
    device = next(d for d in demo.api.get("/api/devices").json() if d["name"] == "Visitor box")
    assert device["max_current_a"] == 20

    # an invalid value gets its message next to the field, and nothing is saved
    tile.locator("[data-k=gear]").click()
    expect(page).to_have_url(f"{base}/devices/{device['id']}")
    page.fill("#f-max_current_a", "lots")
    page.click("#device-form button[type=submit]")
    error = page.locator('[data-error-for="max_current_a"]')
    expect(error).not_to_be_empty()
    expect(page.locator('[data-field-wrap="max_current_a"]')).to_have_class("field invalid")
    page.fill("#f-max_current_a", "500")
    page.click("#device-form button[type=submit]")
    expect(error).to_contain_text("80")
    assert demo.api.get(f"/api/devices/{device['id']}").json()["max_current_a"] == 20

    # delete it again, after confirming
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#device-form [data-delete]")
    expect(page).to_have_url(base + "/")
    expect(page.locator("[data-evse]", has_text="Visitor box")).to_have_count(0)
    assert demo.api.get(f"/api/devices/{device['id']}").status_code == 404

    # switch a box off: the tile says so and shows what releasing it did
    switch = page.locator('[data-evse="garage-left"] [data-k=enabled]')
    expect(switch).to_be_checked()
    switch.click()
    left = page.locator('[data-evse="garage-left"]')
    expect(left).to_have_attribute("data-status", "disabled")
    expect(left.locator("[data-k=deactivation]")).to_be_visible()
    assert demo.api.get("/api/devices/garage-left").json()["enabled"] is False
    switch.click()
    expect(left).not_to_have_attribute("data-status", "disabled")

    # change the OCPP TLS mode
    page.goto(base + "/settings")
    page.select_option("#f-ocpp-tls", "detect")
    page.click("#ocpp-form button[type=submit]")
    expect(page.locator("#toast")).to_have_text("Saved.")
    assert demo.api.get("/api/settings").json()["ocpp"]["tls"] == "detect"
    page.select_option("#f-ocpp-tls", "off")
    page.click("#ocpp-form button[type=submit]")
    page.wait_for_function("() => !document.querySelector('#ocpp-form button').disabled")
    assert demo.api.get("/api/settings").json()["ocpp"]["tls"] == "off"

    # a charge point nobody configured connects: one tap adds it
    cp_id = f"WEB-CP-{width}"
    cp = FakeChargePoint(f"ws://127.0.0.1:{demo.ocpp_port}/ocpp/{cp_id}", "Acme", "Volt 11")
    try:
        page.goto(base + "/")
        new = page.locator(f'[data-cp="{cp_id}"]')
        expect(new).to_be_visible()
        expect(new).to_contain_text("Acme Volt 11")
        new.locator("[data-k=add]").click()
        expect(new).to_have_count(0)
        added = page.locator("[data-evse]", has_text=cp_id)
        expect(added).to_have_count(1)
        devices = demo.api.get("/api/devices").json()
        assert any(d["driver"] == "ocpp" and d["address"] == cp_id for d in devices)
    finally:
        cp.close()

    # sessions: download the CSV
    page.goto(base + "/sessions")
    with page.expect_download() as info:
        page.click("#csv")
    path = info.value.path()
    assert Path(path).read_text(encoding="utf-8").splitlines()[0].startswith("id,")


def test_language_switch(desktop: Page, demo: ManagerProcess) -> None:
    page = desktop
    base = demo.url
    login(page, base)
    page.click(".langs >> text=DE")
    expect(page.locator("h1")).to_have_text("Übersicht")
    expect(page.locator('[data-evse="carport"] .switch')).to_contain_text("Aktiv")
    # reasons stay German after live updates: the script shows the text the server worded
    first = page.locator("#site [data-k=a0]").text_content()
    page.wait_for_function(
        "t => document.querySelector('#site [data-k=a0]').textContent !== t",
        arg=first,
        timeout=WAIT_MS,
    )
    german = r"^(begrenzt|am eigenen|wartet|Priorität|steigt|Auto nimmt|pausiert|Sicherheits)"
    reason = page.locator('[data-evse="carport"] [data-k=reason]')
    expect(reason).to_have_text(re.compile(german), timeout=WAIT_MS)
    page.goto(base + "/settings")
    expect(page.locator("#ocpp h2")).to_have_text("OCPP-Server")
    page.click(".langs >> text=EN")
    expect(page.locator("h1")).to_have_text("Settings")


def start_serve(data_dir: Path, http_port: int, ocpp_port: int) -> subprocess.Popen[str]:
    args = [
        sys.executable, "-m", "manager.cli", "serve", "--data", str(data_dir),
        "--host", "127.0.0.1", "--http-port", str(http_port), "--ocpp-port", str(ocpp_port),
    ]  # fmt: skip
    env = {**os.environ, "AMPSHARE_ADMIN_PASSWORD": PASSWORD}
    return subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def wait_up(base: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/login", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise AssertionError(f"{base} did not come up in {timeout_s} s")


def stop(proc: subprocess.Popen[str]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)


def test_live_tiles_reconnect_after_server_restart(desktop: Page, tmp_path: Path) -> None:
    page = desktop
    http_port, ocpp_port = free_port(), free_port()
    base = f"http://127.0.0.1:{http_port}"
    proc = start_serve(tmp_path / "data", http_port, ocpp_port)
    try:
        wait_up(base)
        login(page, base)
        expect(page.locator("#live.on")).to_be_visible()
        proc.kill()  # a crash or power cut; the page must notice and come back by itself
        proc.wait(timeout=10)
        expect(page.locator("#live.off")).to_be_visible()
        proc = start_serve(tmp_path / "data", http_port, ocpp_port)
        expect(page.locator("#live.on")).to_be_visible(timeout=30_000)
        expect(page).to_have_url(base + "/")  # same login: the cookie survived the restart
    finally:
        stop(proc)


class EmulatedMeter:
    """An SDM630 on a real Modbus/TCP port, served from its own thread and event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.emu = Emulator()
        sdm(self.emu)
        asyncio.run_coroutine_threadsafe(self.emu.start(), self.loop).result(timeout=10)

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.emu.stop(), self.loop).result(timeout=10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def test_test_connection_shows_live_values(desktop: Page, demo: ManagerProcess) -> None:
    page = desktop
    meter = EmulatedMeter()
    try:
        login(page, demo.url)
        page.goto(demo.url + "/devices/new?kind=meter&driver=sdm630")
        expect(page.locator("[data-test]")).to_be_visible()
        page.fill("#f-name", "Sub meter")
        page.fill("#f-address", meter.emu.address)
        page.click("[data-test]")
        result = page.locator(".testresult")
        expect(result).to_contain_text("Connection works.")
        expect(result).to_contain_text("231.20")  # L1 voltage read from the emulated meter
        assert not any(d["name"] == "Sub meter" for d in demo.api.get("/api/devices").json())
        page.fill("#f-address", f"127.0.0.1:{free_port()}")
        page.click("[data-test]")
        expect(result.locator(".note.warn")).to_be_visible()
    finally:
        meter.close()


def test_mode_switch_on_the_tile(page: Page, demo: ManagerProcess, width: int) -> None:
    """One tap on the tile sets the charging mode; the box follows at once."""
    login(page, demo.url)
    carport = page.locator('[data-evse="carport"]')
    solar = carport.locator('[data-mode="pv"]')
    expect(solar).to_be_visible()
    assert solar.bounding_box()["height"] >= 36  # big enough for a thumb
    solar.click()
    expect(solar).to_have_attribute("aria-pressed", "true")
    expect(carport.locator('[data-mode="now"]')).to_have_attribute("aria-pressed", "false")
    device = demo.api.get("/api/devices/carport").json()
    assert device["charge_mode"] == "pv"
    demo.wait_for(
        lambda s: next(e for e in s["evses"] if e["id"] == "carport")["charge_mode"] == "pv"
    )
    carport.locator('[data-mode="off"]').click()
    expect(carport.locator("[data-k=reason]")).to_contain_text("off: charging switched off")
    expect(carport.locator("[data-k=setpoint]")).to_have_text("0.0 A")
    assert demo.api.get("/api/devices/carport").json()["enabled"] is True  # still under control
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    carport.locator('[data-mode="now"]').click()
    expect(carport.locator('[data-mode="now"]')).to_have_attribute("aria-pressed", "true")
