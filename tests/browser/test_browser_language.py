"""The dashboard in both languages at 360 px and 1280 px: forms that explain, no English on a
German page, notes that go away, events in words arriving live.

Runs against one `ampshare demo` process on loopback with Debian's Chromium.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from browser_support import WAIT_MS, log_in
from manager_process import ManagerProcess, running
from playwright.sync_api import Browser, Dialog, Page, expect

from web import error_words, event_words, wording
from web.i18n import _TABLES
from web.i18n_devices import SAME

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: every page a German admin can reach from the navigation and the settings
PAGES = (
    "/",
    "/sessions",
    "/users",
    "/users/new",
    "/events",
    "/log",
    "/settings",
    "/devices/new",
    "/devices/new?kind=meter",
    "/devices/new?kind=evse&driver=ocpp",
    "/circuits/new",
    "/circuits/main",
)


def _fragments(text: str) -> list[str]:
    """The literal pieces of a catalogue text, without its {placeholders}."""
    return [p.strip(" :;,.()") for p in re.split(r"\{[^}]*\}", text)]


def english_texts() -> list[str]:
    """The catalogue's English texts that German pages must not show.

    Texts that read the same in German (product names, "Port") are left out, and so are
    fragments too short to tell a language by.
    """
    german = _TABLES["de"]
    texts = {k for k, v in german.items() if v != k and k not in SAME}
    texts |= {v for k, v in wording.EN.items() if wording.DE.get(k) != v}
    texts |= set(error_words.EN.values()) | set(event_words.MESSAGES_EN.values())
    texts |= {v for k, v in event_words.KINDS_EN.items() if event_words.KINDS_DE.get(k) != v}
    out = set()
    for text in texts:
        for piece in _fragments(text):
            if len(piece) >= 10 or (" " not in piece and len(piece) >= 6 and piece[0].isupper()):
                out.add(piece)
    return sorted(out - SAME)


#: English catalogue words that are German words too
ALSO_GERMAN = frozenset({"Profile"})


def english_on(text: str, words: list[str]) -> list[str]:
    for same in sorted(SAME, key=len, reverse=True):  # "Heidelberg Energy Control" stays
        text = text.replace(same, "")
    return [
        w
        for w in words
        if w not in ALSO_GERMAN and re.search(rf"(?<![\w-]){re.escape(w)}(?![\w-])", text)
    ]


@pytest.fixture(scope="module")
def demo() -> Iterator[ManagerProcess]:
    with running("demo") as proc:
        yield proc


def open_page(browser: Browser, demo: ManagerProcess, width: int, lang: str) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    log_in(page, demo.url)
    page.goto(f"{demo.url}/lang/{lang}?next=/")
    expect(page.locator("html")).to_have_attribute("lang", lang)
    return page


@pytest.mark.parametrize("width", [360, 1280])
def test_german_pages_show_no_catalogue_english(
    browser: Browser, demo: ManagerProcess, width: int
) -> None:
    words = english_texts()
    assert "Please fill this in" in words and "Charge point disconnected" in words
    devices = [f"/devices/{d['id']}" for d in demo.api.get("/api/devices").json()]
    page = open_page(browser, demo, width, "de")
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    found = {}
    for path in (*PAGES, *devices):
        page.goto(demo.url + path)
        page.wait_for_load_state("networkidle" if path != "/" else "load")
        # the manager's own log lines are for the operator and stay as logged
        text = page.locator("body").evaluate(
            "b => { const c = b.cloneNode(true); c.querySelector('#log tbody')?.remove();"
            " return c.innerText; }"
        )
        if hits := english_on(text, words):
            found[path] = hits
        # nothing is cut off at the right on a phone
        assert page.evaluate("document.documentElement.scrollWidth") <= width, path
    page.context.close()
    assert not found, found
    assert not errors, errors


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("width", [360, 1280])
def test_three_mistakes_three_messages(
    browser: Browser, demo: ManagerProcess, width: int, lang: str
) -> None:
    page = open_page(browser, demo, width, lang)
    page.goto(demo.url + "/devices/new?kind=evse&driver=sim-evse")
    page.fill("#f-name", "")
    page.fill("#f-min_current_a", "20")
    page.fill("#f-max_current_a", "16")
    page.fill("#f-priority", "12")
    page.click("#device-form button[type=submit]")
    expected = {
        "en": {
            "name": "Please fill this in.",
            "min_current_a": "Minimum current must not be above maximum (16 A).",
            "priority": "Must not be above 9.",
        },
        "de": {
            "name": "Bitte ausfüllen.",
            "min_current_a": "Der Mindeststrom darf nicht über dem Maximum (16 A) liegen.",
            "priority": "Darf nicht größer als 9 sein.",
        },
    }[lang]
    for field, message in expected.items():
        expect(page.locator(f'[data-error-for="{field}"]')).to_have_text(message)
        expect(page.locator(f'[data-field-wrap="{field}"]')).to_have_class("field invalid")
        box = page.locator(f'[data-error-for="{field}"]').bounding_box()
        assert box is not None and box["x"] + box["width"] <= width
    assert not any(d["name"] == "" for d in demo.api.get("/api/devices").json())

    # an OCPP box needs its ChargeBox ID; Test connection needs no name
    page.goto(demo.url + "/devices/new?kind=evse&driver=ocpp")
    page.fill("#f-name", "Street")
    page.click("#device-form button[type=submit]")
    wanted = {"en": "ChargeBox ID", "de": "ChargeBox-ID"}[lang]
    expect(page.locator('[data-error-for="address"]')).to_contain_text(wanted)
    page.fill("#f-name", "")
    page.fill("#f-address", "NOT-THERE-1")
    page.click("[data-test]")
    expect(page.locator(".testresult .note")).to_be_visible()
    expect(page.locator('[data-error-for="name"]')).to_be_empty()
    page.context.close()


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("width", [360, 1280])
def test_notes_go_away_and_events_arrive_live(
    browser: Browser, demo: ManagerProcess, width: int, lang: str
) -> None:
    events = open_page(browser, demo, width, lang)
    events.goto(demo.url + "/events")
    expect(events.locator("#events-live")).to_be_visible()
    page = open_page(browser, demo, width, lang)
    tile = page.locator('[data-evse="garage-left"]')
    before = [e["kind"] for e in demo.api.get("/api/events/log?limit=1000").json()]
    note = tile.locator("[data-k=deactivation]")
    try:
        assert demo.api.patch("/api/devices/garage-left", json={"enabled": False}).is_success
        released = {"en": "released to its own failsafe current", "de": "Sicherheitsstrom"}
        expect(note).to_contain_text(released[lang])
        expect(note).to_contain_text(re.compile(r"^\d\d:\d\d · "))
        handed = {"en": "Handed back", "de": "Zurückgegeben"}[lang]
        expect(events.locator("#events tbody tr").first).to_contain_text(handed)
        expect(events.locator("#events tbody tr").first).to_contain_text("Garage left")
    finally:
        assert demo.api.patch("/api/devices/garage-left", json={"enabled": True}).is_success
    expect(note).to_be_hidden()
    page.reload()
    expect(tile.locator("[data-k=deactivation]")).to_be_hidden()
    # one hand-back, one event: no duplicate pair
    after = [e["kind"] for e in demo.api.get("/api/events/log?limit=1000").json()]
    assert after.count("deactivated") == before.count("deactivated") + 1
    assert after.count("profiles_cleared") == before.count("profiles_cleared")
    page.context.close()
    events.context.close()


@pytest.mark.parametrize("lang", ["en", "de"])
@pytest.mark.parametrize("width", [360, 1280])
def test_sub_board_above_its_parent_asks_first(
    browser: Browser, demo: ManagerProcess, width: int, lang: str
) -> None:
    page = open_page(browser, demo, width, lang)
    page.goto(demo.url + "/circuits/new?parent=garage")
    name = f"Shed {lang} {width}"
    page.fill("#f-name", name)
    page.fill("#f-max_current_a", "25")
    asked: list[str] = []

    def answer(dialog: Dialog) -> None:
        asked.append(dialog.message)
        dialog.dismiss()

    page.once("dialog", answer)
    page.click("#circuit-form button[type=submit]")
    expect(page.locator("#circuit-form button[type=submit]")).to_be_enabled()
    assert asked and "25 A" in asked[0] and "16 A" in asked[0] and "Garage board" in asked[0]
    assert {"en": "Save it like this?", "de": "So speichern?"}[lang] in asked[0]
    assert not any(c["name"] == name for c in demo.api.get("/api/circuits").json())
    page.once("dialog", lambda dialog: dialog.accept())
    page.click("#circuit-form button[type=submit]")
    expect(page).to_have_url(demo.url + "/settings#circuits")
    made = next(c for c in demo.api.get("/api/circuits").json() if c["name"] == name)
    assert demo.api.delete(f"/api/circuits/{made['id']}").status_code == 204
    page.context.close()
