"""The views over what happened, in real Chromium at 360 and 1280 px, in English and German:
a running session shows its energy (and the totals include it), a sub-board tile shows its
phases against its fuse with the boxes under it, and each box has a decision timeline."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from browser_support import log_in, open_page
from manager_process import ManagerProcess, running
from playwright.sync_api import Browser, Page, expect

pytestmark = [pytest.mark.browser, pytest.mark.slow]

WAIT_MS = 15_000
#: no energy: a dash, or zero in either language
NO_ENERGY = re.compile(r"^(—|0[.,]00 kWh)$")
WORDS = {
    "en": {"fuse": "Fuse 16 A", "boxes": "Wallboxes", "running": "running",
           "totals": "Energy totals", "decisions": "Decisions", "limited": "limited by"},
    "de": {"fuse": "Sicherung 16 A", "boxes": "Wallboxen", "running": "läuft",
           "totals": "Energiesummen", "decisions": "Entscheidungen", "limited": "begrenzt durch"},
}  # fmt: skip


@pytest.fixture(scope="module")
def demo() -> Iterator[ManagerProcess]:
    with running("demo") as proc:
        yield proc


@pytest.fixture(params=[(360, "en"), (1280, "en"), (360, "de"), (1280, "de")],
                ids=["phone-en", "desktop-en", "phone-de", "desktop-de"])  # fmt: skip
def page(request: pytest.FixtureRequest, browser: Browser, demo: ManagerProcess) -> Iterator[Page]:
    width, lang = request.param
    with open_page(browser, width, locale="de-DE" if lang == "de" else "en-US") as p:
        log_in(p, demo.url)
        p.lang = lang  # type: ignore[attr-defined]
        yield p


def fits(page: Page) -> None:
    """Nothing in the page's content is wider than the window (the nav bar scrolls itself)."""
    wide = page.evaluate("document.querySelector('main').scrollWidth - window.innerWidth")
    assert wide <= 0, f"main is {wide} px wider than the window"


def test_sub_board_tile(page: Page, demo: ManagerProcess) -> None:
    words = WORDS[page.lang]  # type: ignore[attr-defined]
    tile = page.locator('[data-circuit="garage"]')
    expect(tile).to_be_visible()
    expect(tile.locator(".name")).to_have_text("Garage board")
    expect(tile.locator('[data-k="fuse"]')).to_have_text(words["fuse"])
    expect(tile.locator('[data-k="a0"]')).to_have_text(re.compile(r"^\d+[.,]\d / 16 A$"))
    expect(tile.locator('[data-k="boxes"]')).to_contain_text(words["boxes"])
    expect(tile.locator('[data-k="names"]')).to_have_text("Garage left, Garage right")
    # the live update keeps it current: a phase at its fuse is never alarm-red
    expect(tile.locator('[data-k="a0"]')).not_to_have_text("0.0 / 16 A")
    phases = page.evaluate(
        """() => [0, 1, 2].map((p) => {
            const tile = document.querySelector('[data-circuit="garage"]');
            return [tile.querySelector(`[data-k="a${p}"]`).textContent,
                    tile.querySelector(`[data-k="bar${p}"]`).className];
        })"""
    )  # read at once: both from the same snapshot
    for text, cls in phases:
        amps = float(text.split("/")[0].replace(",", "."))
        if abs(amps - 16.5) > 0.1:
            assert ("over" in cls) == (amps > 16.5), (text, cls)
        if abs(amps - 12.8) > 0.1 and abs(amps - 16.5) > 0.1:  # shown rounded to 0.1 A
            assert ("hi" in cls.split()) == (12.8 <= amps <= 16.5), (text, cls)
    fits(page)


def test_running_session_shows_energy(page: Page, demo: ManagerProcess) -> None:
    words = WORDS[page.lang]  # type: ignore[attr-defined]
    carport = demo.wait_for(
        lambda s: next(e for e in s["evses"] if e["id"] == "carport")["session_wh"] > 20,
        timeout_s=30,
    )
    assert carport
    page.goto(demo.url + "/sessions")
    row = page.locator("#sessions tr.running", has_text="Carport")
    expect(row).to_be_visible()
    expect(row).to_contain_text(words["running"])
    expect(row.locator('[data-k="energy"]')).not_to_have_text(NO_ENERGY)
    expect(row.locator('[data-k="duration"]')).to_have_text(re.compile(r"^\d+:\d\d h$"))
    expect(page.locator("#sessions-total")).not_to_have_text(NO_ENERGY)
    first = row.locator('[data-k="energy"]').inner_text()
    total = page.locator("#sessions-total").inner_text()
    expect(row.locator('[data-k="energy"]')).not_to_have_text(first)  # follows the live state
    expect(page.locator("#sessions-total")).not_to_have_text(total)
    charts = page.locator("#totals-charts")
    expect(charts.locator("h2")).to_have_text(words["totals"])
    expect(charts.locator("#totals-evse .bar-row", has_text="Carport")).to_be_visible()
    fits(page)


def limited_once(demo: ManagerProcess, evse: str, timeout_s: float = 40.0) -> None:
    """Until the box has been limited by a fuse (both demo garage cars share a 16 A board)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        (view,) = demo.api.get("/api/history/decisions", params={"evse": evse}).json()
        if any(b["reason"]["code"] == "circuit_limit" for b in view["bands"]):
            return
        time.sleep(0.5)
    raise AssertionError(f"{evse} was never limited by a fuse in {timeout_s} s")


def test_decision_timeline(page: Page, demo: ManagerProcess) -> None:
    words = WORDS[page.lang]  # type: ignore[attr-defined]
    limited_once(demo, "garage-left")
    page.reload()
    page.click('[data-evse="garage-left"] [data-k="why"]')  # from the box's tile
    expect(page).to_have_url(demo.url + "/decisions#tl-garage-left")
    expect(page.locator("h1")).to_have_text(words["decisions"])
    box = page.locator("#tl-garage-left")
    expect(box).to_be_visible()
    expect(box.locator("h2")).to_have_text("Garage left")
    expect(box.locator(".tl-plot svg path.sp")).to_have_count(1)
    expect(box.locator(".tl-bands .band").first).to_be_visible()
    lines = box.locator(".tl-lines li")
    expect(lines.first).to_have_text(re.compile(r"^\d\d:\d\d"))
    expect(box.locator(".tl-lines")).to_contain_text(words["limited"])
    fits(page)
