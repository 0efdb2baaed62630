"""The manager's reasons ("limited by circuit Garage L2", "safe mode (...)") in the page language.

The manager states its reasons in English, composed of fixed phrases around names and numbers
(and nested: "safe mode (meter silent): limited by ..."). The dashboard shows them in the
reader's language, so each known phrase is rewritten where it occurs; names of circuits and
devices stay as the user typed them. The JSON API keeps the English original.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

_NUM = r"(-?[\d.]+)"

#: (English pattern, German replacement), applied in this order to every reason
_DE: tuple[tuple[str, str], ...] = (
    (r"\bGrid connection\b", "Netzanschluss"),
    (r"base load alone overloads circuit", "die Grundlast allein überlastet Stromkreis"),
    (r"base load alone exceeds the power limit of circuit", "die Grundlast allein überschreitet "
     "die Leistungsgrenze von Stromkreis"),
    (r"base load alone exceeds the unbalance limit of circuit", "die Grundlast allein "
     "überschreitet die Schieflastgrenze von Stromkreis"),
    (r"limited by power limit of circuit", "begrenzt durch die Leistungsgrenze von Stromkreis"),
    (r"limited by unbalance limit of circuit", "begrenzt durch die Schieflastgrenze von "
     "Stromkreis"),
    (r"power limit of circuit", "Leistungsgrenze von Stromkreis"),
    (r"unbalance limit of circuit", "Schieflastgrenze von Stromkreis"),
    (r"limited by circuit", "begrenzt durch Stromkreis"),
    (r"\bcircuit (.+?) (L[123]) full\b", r"Stromkreis \1 \2 voll"),
    (r"(Leistungsgrenze|Schieflastgrenze) von Stromkreis (.+?) reached\b",
     r"\1 von Stromkreis \2 erreicht"),
    (r"waiting for a slot", "wartet auf einen Ladeplatz"),
    (r"priority: higher-priority wallboxes first", "Priorität: Wallboxen mit höherer "
     "Priorität zuerst"),
    (rf"at its max {_NUM} A", r"am eigenen Maximum \1 A"),
    (rf"capped by demand {_NUM} A", r"begrenzt auf den Bedarf \1 A"),
    (r"must not charge", "darf nicht laden"),
    (rf"paused: demand {_NUM} A is below its min {_NUM} A",
     r"pausiert: Bedarf \1 A liegt unter dem Minimum \2 A"),
    (rf"paused: may resume in {_NUM} s \(no on/off flapping\)",
     r"pausiert: frühestens in \1 s wieder (kein Ein-Aus-Takten)"),
    (r"\bpaused\b", "pausiert"),
    (rf"car takes less: offer capped at {_NUM} A", r"Auto nimmt weniger: Angebot auf \1 A "
     "begrenzt"),
    (rf"offline: assumed to draw its last {_NUM} A", r"offline: zieht vermutlich weiter \1 A"),
    (rf"ramping up to {_NUM} A", r"steigt auf \1 A"),
    (r"waiting for (.+?) to reduce", r"wartet, bis \1 reduziert hat"),
    (r"no valid reading from grid meter (.+?) yet", r"noch kein gültiger Wert vom Netzzähler \1"),
    (rf"grid meter (.+?) silent for {_NUM} s", r"Netzzähler \1 seit \2 s stumm"),
    (r"\bsafe mode\b", "Sicherheitsmodus"),
    (r"^no car$", "kein Auto"),
    (r"^disabled$", "deaktiviert"),
    (r"^starting$", "startet"),
    (r"driver not running", "Treiber läuft nicht"),
    (r"cannot start driver", "Treiber startet nicht"),
    (r"\berror\b", "Fehler"),
    (r"box reports a fault", "Box meldet eine Störung"),
    (r"profiles cleared", "Ladeprofile gelöscht"),
    (r"not under control: the box refuses charging profiles, charging is refused",
     "nicht unter Kontrolle: Die Box lehnt Ladeprofile ab, Laden wird verweigert"),
    (r"profile rejected: box answered", "Ladeprofil abgelehnt: Box antwortete"),
    (r"\bbox answered\b", "Box antwortete"),
    (r"\bbox reports\b", "Box meldet"),
    (r"box did not answer", "Box hat nicht geantwortet"),
    (r"box not connected", "Box nicht verbunden"),
    (r"box not running", "Box läuft nicht"),
    (rf"released to its own failsafe current {_NUM} A", r"an eigenen Sicherheitsstrom \1 A "
     "übergeben"),
)  # fmt: skip

_RULES = {"de": tuple((re.compile(p), r) for p, r in _DE)}


@lru_cache(maxsize=2048)
def localize_reason(text: str, lang: str) -> str:
    rules = _RULES.get(lang)
    if not rules or not text:
        return text
    for pattern, replacement in rules:
        text = pattern.sub(replacement, text)
    return text


def localize(state: dict[str, Any], lang: str) -> dict[str, Any]:
    """A copy of a snapshot with its reasons in `lang` (the same object for English)."""
    if lang not in _RULES:
        return state
    site = dict(state.get("site") or {})
    if site.get("safe_reason"):
        site["safe_reason"] = localize_reason(str(site["safe_reason"]), lang)
    evses = []
    for e in state.get("evses") or []:
        e = dict(e)
        for key in ("reason", "deactivation", "detail"):
            if e.get(key):
                e[key] = localize_reason(str(e[key]), lang)
        evses.append(e)
    return {**state, "site": site, "evses": evses}
