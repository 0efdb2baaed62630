"""Reasons read in the page language; names stay as typed; English stays untouched."""

from __future__ import annotations

import pytest

from web.reasons import localize, localize_reason


@pytest.mark.parametrize(
    ("english", "german"),
    [
        ("limited by circuit Grid connection L1", "begrenzt durch Stromkreis Netzanschluss L1"),
        ("limited by circuit Garage board L2", "begrenzt durch Stromkreis Garage board L2"),
        ("at its max 16 A", "am eigenen Maximum 16 A"),
        ("car takes less: offer capped at 7 A", "Auto nimmt weniger: Angebot auf 7 A begrenzt"),
        ("paused: may resume in 42 s (no on/off flapping)",
         "pausiert: frühestens in 42 s wieder (kein Ein-Aus-Takten)"),
        ("safe mode (grid meter Grid meter silent for 12 s): limited by circuit Grid connection L3",
         "Sicherheitsmodus (Netzzähler Grid meter seit 12 s stumm): "
         "begrenzt durch Stromkreis Netzanschluss L3"),
        ("waiting for a slot (circuit Garage L1 full)",
         "wartet auf einen Ladeplatz (Stromkreis Garage L1 voll)"),
        ("priority: higher-priority wallboxes first (power limit of circuit Main reached)",
         "Priorität: Wallboxen mit höherer Priorität zuerst "
         "(Leistungsgrenze von Stromkreis Main erreicht)"),
        ("no car", "kein Auto"),
        ("profiles cleared", "Ladeprofile gelöscht"),
    ],
)  # fmt: skip
def test_german(english: str, german: str) -> None:
    assert localize_reason(english, "de") == german


def test_snapshot_copy_and_english_untouched() -> None:
    state = {
        "site": {"safe_reason": None},
        "evses": [{"reason": "no car", "deactivation": None}],
    }
    assert localize(state, "en") is state
    de = localize(state, "de")
    assert de["evses"][0]["reason"] == "kein Auto"
    assert state["evses"][0]["reason"] == "no car"
