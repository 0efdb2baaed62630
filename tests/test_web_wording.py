"""Reasons are data; the catalogue words every code in English and German, names untouched."""

from __future__ import annotations

import re
import string
from pathlib import Path

import pytest

from manager.model import Reason
from web.wording import DE, EN, english, localize, word

ROOT = Path(__file__).resolve().parent.parent

GARAGE_L1 = Reason("circuit_limit", {"circuit": "g", "circuit_name": "Garage", "phase": "L1"})
ROOT_L3 = Reason(
    "circuit_limit", {"circuit": "main", "circuit_name": "Grid connection", "phase": "L3"}
)
MAIN_POWER = Reason("power_limit", {"circuit": "m2", "circuit_name": "Main"})


@pytest.mark.parametrize(
    ("reason", "en", "de"),
    [
        (ROOT_L3, "limited by circuit Grid connection L3",
         "begrenzt durch Stromkreis Netzanschluss L3"),
        (Reason("circuit_limit", {"circuit": "g", "circuit_name": "Garage board", "phase": "L2"}),
         "limited by circuit Garage board L2", "begrenzt durch Stromkreis Garage board L2"),
        (Reason("at_max", {"amps": 16.0}), "at its max 16 A", "am eigenen Maximum 16 A"),
        (Reason("demand_cap", {"amps": 6.5}), "capped by demand 6.5 A",
         "begrenzt auf den Bedarf 6,5 A"),
        (Reason("car_takes_less", {"amps": 7.0}), "car takes less: offer capped at 7 A",
         "Auto nimmt weniger: Angebot auf 7 A begrenzt"),
        (Reason("resume_wait", {"seconds": 42}),
         "paused: may resume in 42 s (no on/off flapping)",
         "pausiert: frühestens in 42 s wieder (kein Ein-Aus-Takten)"),
        (Reason("safe_mode", {"why": "meter_silent", "meter": "Grid meter", "seconds": 12},
                cause=ROOT_L3),
         "safe mode (grid meter Grid meter silent for 12 s): limited by circuit Grid connection L3",
         "Sicherheitsmodus (Netzzähler Grid meter seit 12 s stumm): "
         "begrenzt durch Stromkreis Netzanschluss L3"),
        (Reason("waiting_slot", cause=GARAGE_L1), "waiting for a slot (circuit Garage L1 full)",
         "wartet auf einen Ladeplatz (Stromkreis Garage L1 voll)"),
        (Reason("priority", cause=MAIN_POWER),
         "priority: higher-priority wallboxes first (power limit of circuit Main reached)",
         "Priorität: Wallboxen mit höherer Priorität zuerst "
         "(Leistungsgrenze von Stromkreis Main erreicht)"),
        (Reason("ramping_up", {"amps": 16.0}, cause=GARAGE_L1),
         "ramping up to 16 A (limited by circuit Garage L1)",
         "steigt auf 16 A (begrenzt durch Stromkreis Garage L1)"),
        (Reason("waiting_for_reduce", {"names": "Carport, Garage"}, cause=Reason("at_max",
                {"amps": 11.0})),
         "waiting for Carport, Garage to reduce (at its max 11 A)",
         "wartet, bis Carport, Garage reduziert hat (am eigenen Maximum 11 A)"),
        (Reason("no_car"), "no car", "kein Auto"),
        (Reason("box_error"), "error: box reports a fault", "Fehler: Box meldet eine Störung"),
        (Reason("box_error", {"detail": "F3"}), "error: F3", "Fehler: F3"),
        (Reason("profiles_cleared"), "profiles cleared", "Ladeprofile gelöscht"),
        (Reason("released_failsafe", {"amps": 6.0}),
         "released to its own failsafe current 6 A",
         "an eigenen Sicherheitsstrom 6 A übergeben"),
        (Reason("charging_enabled", {"amps": 16.0, "phases": 3}),
         "charging enabled at 16 A, 3 phases", "Laden mit 16 A freigegeben, 3 Phasen"),
    ],
)  # fmt: skip
def test_sentences_in_both_languages(reason: Reason, en: str, de: str) -> None:
    assert english(reason) == en
    assert word(reason.data(), "de") == de


def test_names_users_typed_are_never_rewritten() -> None:
    """The old regexes rewrote any "error" or "safe mode" inside a circuit or meter name."""
    odd = Reason(
        "circuit_limit", {"circuit": "x", "circuit_name": "error safe mode paused", "phase": "L1"}
    )
    assert word(odd.data(), "de") == "begrenzt durch Stromkreis error safe mode paused L1"
    renamed_root = Reason(
        "circuit_limit", {"circuit": "main", "circuit_name": "Haus", "phase": "L2"}
    )
    assert word(renamed_root.data(), "de") == "begrenzt durch Stromkreis Haus L2"
    silent = Reason("meter_no_reading", {"meter": "no car {cause}"})
    assert word(silent.data(), "de") == "noch kein gültiger Wert vom Netzzähler no car {cause}"


def _codes_in_source() -> set[str]:
    """Every reason code written in the manager and the drivers (`Reason("code"`)."""
    found: set[str] = set()
    for folder in ("manager", "devices"):
        for path in (ROOT / folder).rglob("*.py"):
            text = path.read_text("utf-8")
            found.update(re.findall(r'Reason\(\s*"([a-z_]+)"', text))
            # the allocator names its limit codes as plain strings
            found.update(re.findall(r'"((?:circuit|power|unbalance)_limit|base_[a-z]+)"', text))
    return found


def test_every_code_in_the_code_base_has_both_languages() -> None:
    codes = _codes_in_source()
    assert {"no_car", "safe_mode", "circuit_limit", "profiles_cleared"} <= codes
    assert sorted(codes - set(EN)) == []
    assert sorted(codes - set(DE)) == []


def _fields(template: str) -> set[str]:
    return {f for _, f, _, _ in string.Formatter().parse(template) if f}


def test_catalogues_have_the_same_entries_and_placeholders() -> None:
    assert set(EN) == set(DE)
    for key, text in EN.items():
        assert _fields(text) == _fields(DE[key]), key


def test_unknown_code_and_missing_params_do_not_break_the_page() -> None:
    assert word({"code": "brand_new"}, "de") == "brand_new"
    assert word({"code": "at_max", "params": {}}, "en") == "at its max ? A"
    assert word(None, "en") == ""


def test_localize_adds_text_and_leaves_the_snapshot_alone() -> None:
    state = {
        "site": {"safe_reason": Reason("meter_no_reading", {"meter": "Netz"}).data()},
        "evses": [{"reason": Reason("no_car").data(), "deactivation": None}],
    }
    de = localize(state, "de")
    assert de["evses"][0]["reason"] == {"code": "no_car", "params": {}, "text": "kein Auto"}
    assert de["site"]["safe_reason"]["text"] == "noch kein gültiger Wert vom Netzzähler Netz"
    assert de["evses"][0]["deactivation"] is None
    assert "text" not in state["evses"][0]["reason"]
    assert localize(state, "en")["evses"][0]["reason"]["text"] == "no car"
