"""Reasons (`manager.model.Reason`: a code plus parameters) worded in English and German.

The manager states why as data; this catalogue is the one place that turns a code into a
sentence. Parameters are inserted as they are: names a user typed (circuits, meters, wallboxes)
are never rewritten, amounts are formatted like the tiles format numbers. A code with optional
parameters has a variant keyed `code/param`, used when that parameter is present. A nested
`cause` is worded too and inserted as `{cause}`; under `waiting_slot` and `priority` a limit
reads in its "full" form ("circuit Garage L1 full").
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from manager.model import Reason
from manager.service import ROOT_CIRCUIT, State
from web.wording_rules import DE_RULES, EN_RULES

#: parameters that are amounts in A (formatted with up to two decimals)
_AMOUNTS = frozenset({"amps", "demand", "min", "max", "step", "safe_a", "kw"})
#: parameters that are times (epoch s, shown as local HH:MM)
_TIMES = frozenset({"until", "start", "deadline"})
#: parameters in W, worded in kW with one decimal
_KILOWATTS = frozenset({"surplus_w", "need_w"})

EN: Mapping[str, str] = {
    # the allocator
    "circuit_limit": "limited by circuit {circuit_name} {phase}",
    "power_limit": "limited by power limit of circuit {circuit_name}",
    "unbalance_limit": "limited by unbalance limit of circuit {circuit_name}",
    "circuit_limit.full": "circuit {circuit_name} {phase} full",
    "power_limit.full": "power limit of circuit {circuit_name} reached",
    "unbalance_limit.full": "unbalance limit of circuit {circuit_name} reached",
    "waiting_slot": "waiting for a slot ({cause})",
    "priority": "priority: higher-priority wallboxes first ({cause})",
    "base_overload": "paused: base load alone overloads circuit {circuit_name} {phase}",
    "base_power": "paused: base load alone exceeds the power limit of circuit {circuit_name}",
    "base_unbalance": (
        "paused: base load alone exceeds the unbalance limit of circuit {circuit_name}"
    ),
    "at_max": "at its max {amps} A",
    "demand_cap": "capped by demand {amps} A",
    "no_demand": "must not charge (demand 0)",
    "below_min": "paused: demand {demand} A is below its min {min} A",
    "min_above_max": (
        "paused: its min {min} A, rounded up to its {step} A steps, is above its max {max} A"
    ),
    # the control loop
    "starting": "starting",
    "disabled": "disabled",
    "driver_not_running": "driver not running",
    "driver_failed": "cannot start driver: {error}",
    "offline": "offline: assumed to draw its last {amps} A",
    "no_car": "no car",
    "box_error": "error: box reports a fault",
    "box_error/detail": "error: {detail}",
    "box_error/cause": "error: {cause}",
    "reserved": "reserved until {until} (reservation {reservation_id})",
    "resume_wait": "paused: may resume in {seconds} s (no on/off flapping)",
    "car_takes_less": "car takes less: offer capped at {amps} A",
    "backend_cap": "limited by the billing backend to {amps} A",
    "backend_stopped": "stopped by the billing backend",
    "auth_wait": "waiting for an RFID card",
    "auth_refused": "RFID card {tag} refused ({status})",
    "user_limit": "limited by user {user} to {amps} A",
    "safe_mode": "safe mode ({why}): {cause}",
    "waiting_for_reduce": "waiting for {names} to reduce ({cause})",
    "ramping_up": "ramping up to {amps} A ({cause})",
    "meter_no_reading": "no valid reading from grid meter {meter} yet",
    "meter_silent": "grid meter {meter} silent for {seconds} s",
    # deactivation
    "profiles_cleared": "profiles cleared",
    "box_answered": "box answered {status}",
    "box_not_connected": "box not connected",
    "box_no_answer": "box did not answer",
    "box_not_running": "box not running",
    "device_error": "{error}",
    "released_failsafe": "released to its own failsafe current {amps} A",
    "current_set": "current set to {amps} A",
    "charging_enabled": "charging enabled at {amps} A",
    "charging_enabled/phases": "charging enabled at {amps} A, {phases} phases",
    "watchdog_off": "watchdog switched off, max current set to {amps} A",
    "refresh_stopped": (
        "set to {amps} A; with no more refreshes the box returns to its safe current in 60 s"
    ),
    "refresh_stopped/safe_a": (
        "set to {amps} A; with no more refreshes the box returns to {safe_a} A in 60 s"
    ),
    # what a box reports (its detail)
    "not_under_control": (
        "not under control: the box refuses charging profiles, charging is refused"
    ),
    "profile_rejected": "profile rejected: box answered {status}",
    "profile_rejected/reason": "profile rejected: box answered {status} ({reason})",
    "box_reports": "box reports {code}",
    "box_reports/info": "box reports {code}: {info}",
    "box_says": "{text}",
    # the charging modes (manager/solar.py, manager/phaseswitch.py)
    "mode_off": "off: charging switched off, the box stays under control",
    "pv_waiting": "waiting for surplus ({surplus_w} of {need_w} kW)",
    "pv_starting": "surplus {surplus_w} of {need_w} kW: starts in {seconds} s",
    "pv_stopping": "surplus short ({surplus_w} of {need_w} kW): pauses in {seconds} s",
    "pv_bridging": (
        "surplus short for now ({surplus_w} of {need_w} kW): kept at its min, the last "
        "minutes covered it"
    ),
    "pv_budget": "limited by the solar surplus ({surplus_w} kW)",
    "surplus_unknown": "waiting: no grid meter reading to measure the surplus",
    "phase_switching": "switching to {phases} phase(s), paused meanwhile",
    # names ampshare gives (not typed by a user)
    "Grid connection": "Grid connection",
    **EN_RULES,  # schedules, prices, plans, users, the external limit (web/wording_rules.py)
}

DE: Mapping[str, str] = {
    "circuit_limit": "begrenzt durch Stromkreis {circuit_name} {phase}",
    "power_limit": "begrenzt durch die Leistungsgrenze von Stromkreis {circuit_name}",
    "unbalance_limit": "begrenzt durch die Schieflastgrenze von Stromkreis {circuit_name}",
    "circuit_limit.full": "Stromkreis {circuit_name} {phase} voll",
    "power_limit.full": "Leistungsgrenze von Stromkreis {circuit_name} erreicht",
    "unbalance_limit.full": "Schieflastgrenze von Stromkreis {circuit_name} erreicht",
    "waiting_slot": "wartet auf einen Ladeplatz ({cause})",
    "priority": "Priorität: Wallboxen mit höherer Priorität zuerst ({cause})",
    "base_overload": "pausiert: die Grundlast allein überlastet Stromkreis {circuit_name} {phase}",
    "base_power": (
        "pausiert: die Grundlast allein überschreitet die Leistungsgrenze von Stromkreis "
        "{circuit_name}"
    ),
    "base_unbalance": (
        "pausiert: die Grundlast allein überschreitet die Schieflastgrenze von Stromkreis "
        "{circuit_name}"
    ),
    "at_max": "am eigenen Maximum {amps} A",
    "demand_cap": "begrenzt auf den Bedarf {amps} A",
    "no_demand": "darf nicht laden (Bedarf 0)",
    "below_min": "pausiert: Bedarf {demand} A liegt unter dem Minimum {min} A",
    "min_above_max": (
        "pausiert: das Minimum {min} A, aufgerundet auf Schritte von {step} A, liegt über dem "
        "Maximum {max} A"
    ),
    "starting": "startet",
    "disabled": "deaktiviert",
    "driver_not_running": "Treiber läuft nicht",
    "driver_failed": "Treiber startet nicht: {error}",
    "offline": "offline: zieht vermutlich weiter {amps} A",
    "no_car": "kein Auto",
    "box_error": "Fehler: Box meldet eine Störung",
    "box_error/detail": "Fehler: {detail}",
    "box_error/cause": "Fehler: {cause}",
    "reserved": "reserviert bis {until} (Reservierung {reservation_id})",
    "resume_wait": "pausiert: frühestens in {seconds} s wieder (kein Ein-Aus-Takten)",
    "car_takes_less": "Auto nimmt weniger: Angebot auf {amps} A begrenzt",
    "backend_cap": "begrenzt durch das Abrechnungs-Backend auf {amps} A",
    "backend_stopped": "vom Abrechnungs-Backend gestoppt",
    "auth_wait": "wartet auf eine RFID-Karte",
    "auth_refused": "RFID-Karte {tag} abgelehnt ({status})",
    "user_limit": "begrenzt durch Benutzer {user} auf {amps} A",
    "safe_mode": "Sicherheitsmodus ({why}): {cause}",
    "waiting_for_reduce": "wartet, bis {names} reduziert hat ({cause})",
    "ramping_up": "steigt auf {amps} A ({cause})",
    "meter_no_reading": "noch kein gültiger Wert vom Netzzähler {meter}",
    "meter_silent": "Netzzähler {meter} seit {seconds} s stumm",
    "profiles_cleared": "Ladeprofile gelöscht",
    "box_answered": "Box antwortete {status}",
    "box_not_connected": "Box nicht verbunden",
    "box_no_answer": "Box hat nicht geantwortet",
    "box_not_running": "Box läuft nicht",
    "device_error": "{error}",
    "released_failsafe": "an eigenen Sicherheitsstrom {amps} A übergeben",
    "current_set": "Strom auf {amps} A gesetzt",
    "charging_enabled": "Laden mit {amps} A freigegeben",
    "charging_enabled/phases": "Laden mit {amps} A freigegeben, {phases} Phasen",
    "watchdog_off": "Watchdog ausgeschaltet, Maximalstrom auf {amps} A gesetzt",
    "refresh_stopped": (
        "auf {amps} A gesetzt; ohne Auffrischung kehrt die Box in 60 s zu ihrem "
        "Sicherheitsstrom zurück"
    ),
    "refresh_stopped/safe_a": (
        "auf {amps} A gesetzt; ohne Auffrischung kehrt die Box in 60 s zu {safe_a} A zurück"
    ),
    "not_under_control": (
        "nicht unter Kontrolle: Die Box lehnt Ladeprofile ab, Laden wird verweigert"
    ),
    "profile_rejected": "Ladeprofil abgelehnt: Box antwortete {status}",
    "profile_rejected/reason": "Ladeprofil abgelehnt: Box antwortete {status} ({reason})",
    "box_reports": "Box meldet {code}",
    "box_reports/info": "Box meldet {code}: {info}",
    "box_says": "{text}",
    "mode_off": "aus: Laden abgeschaltet, die Box bleibt unter Kontrolle",
    "pv_waiting": "wartet auf Überschuss ({surplus_w} von {need_w} kW)",
    "pv_starting": "Überschuss {surplus_w} von {need_w} kW: startet in {seconds} s",
    "pv_stopping": "Überschuss zu knapp ({surplus_w} von {need_w} kW): pausiert in {seconds} s",
    "pv_bridging": (
        "Überschuss gerade zu knapp ({surplus_w} von {need_w} kW): bleibt am Minimum, die "
        "letzten Minuten reichten"
    ),
    "pv_budget": "begrenzt durch den Solarüberschuss ({surplus_w} kW)",
    "surplus_unknown": "wartet: kein Wert vom Netzzähler, um den Überschuss zu messen",
    "phase_switching": "schaltet auf {phases} Phase(n) um, pausiert solange",
    "Grid connection": "Netzanschluss",
    **DE_RULES,
}

CATALOGUE: Mapping[str, Mapping[str, str]] = {"en": EN, "de": DE}
#: the name ampshare gives the root circuit (translated; names users type never are)
_ROOT_NAME = "Grid connection"
#: causes worded in their "full" form under these codes
_FULL_UNDER = frozenset({"waiting_slot", "priority"})


def amount(value: Any, lang: str) -> str:
    """16 -> "16", 6.5 -> "6.5" ("6,5" in German): at most two decimals, no trailing zeros."""
    try:
        text = f"{float(value):.2f}".rstrip("0").rstrip(".")
    except (TypeError, ValueError):
        return str(value)
    if text == "-0":
        text = "0"
    return text.replace(".", ",") if lang == "de" else text


def _param(key: str, value: Any, lang: str) -> str:
    if key in _AMOUNTS:
        return amount(value, lang)
    if key in _KILOWATTS and isinstance(value, int | float):
        return amount(round(value / 1000.0, 1), lang)
    if key in _TIMES and isinstance(value, int | float):  # epoch seconds, local time
        return datetime.fromtimestamp(value).strftime("%H:%M")
    if key == "mode":  # a charging mode
        return CATALOGUE.get(lang, EN).get(f"mode.{value}", str(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _template(table: Mapping[str, str], code: str, params: Mapping[str, Any], cause: object) -> str:
    if cause and f"{code}/cause" in table:
        return table[f"{code}/cause"]
    for key in params:
        variant = table.get(f"{code}/{key}")
        if variant is not None:
            return variant
    return table.get(code, EN.get(code, code))


def word(reason: Mapping[str, Any] | None, lang: str = "en", *, full: bool = False) -> str:
    """The sentence for a reason in its JSON form (`code`, `params`, `cause`)."""
    if not reason:
        return ""
    table = CATALOGUE.get(lang, EN)
    code = str(reason.get("code", ""))
    params: Mapping[str, Any] = reason.get("params") or {}
    values = {k: _param(k, v, lang) for k, v in params.items()}
    if params.get("circuit") == ROOT_CIRCUIT and params.get("circuit_name") == _ROOT_NAME:
        values["circuit_name"] = table.get(_ROOT_NAME, _ROOT_NAME)  # named by ampshare
    if "why" in params:  # safe mode: the site's reason, with the same parameters
        rest = {k: v for k, v in params.items() if k != "why"}
        values["why"] = word({"code": params["why"], "params": rest}, lang)
    cause = reason.get("cause")
    values["cause"] = word(cause, lang, full=code in _FULL_UNDER) if cause else ""
    key = f"{code}.full" if full and f"{code}.full" in table else code
    return _template(table, key, params, cause).format_map(_Blank(values))


class _Blank(dict[str, str]):
    """A parameter the template names but the reason lacks reads as "?", never an error."""

    def __missing__(self, key: str) -> str:
        return "?"


def english(reason: Reason) -> str:
    """The English sentence for a reason (what logs and tests compare against)."""
    return word(reason.data(), "en")


def worded(reason: Mapping[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """A reason's JSON form plus `text`, its sentence in `lang` (its causes' too)."""
    if not reason:
        return None
    out = {**reason, "text": word(reason, lang)}
    if reason.get("cause"):
        out["cause"] = worded(reason["cause"], lang)
    return out


def shown(state: State, lang: str) -> dict[str, Any]:
    """The live state as the API, SSE and the dashboard send it: JSON, reasons worded."""
    return localize(state.model_dump(mode="json"), lang)


def localize(state: Mapping[str, Any], lang: str) -> dict[str, Any]:
    """A copy of a snapshot (JSON form) whose reasons carry their `text` in `lang`."""
    site = dict(state.get("site") or {})
    site["safe_reason"] = worded(site.get("safe_reason"), lang)
    site["charging_limit"] = limit_banner(site.get("charging_limit"), lang)
    evses = [
        {
            **e,
            "reason": worded(e.get("reason"), lang),
            "deactivation": worded(e.get("deactivation"), lang),
            "detail": worded(e.get("detail"), lang),
            "rule": worded(e.get("rule"), lang),
            "plan": plan_line(e.get("plan"), lang),
        }
        for e in state.get("evses") or []
    ]
    return {**state, "site": site, "evses": evses}


def limit_banner(limit: Mapping[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """The external limit with its banner text ("Charging limited to 11 kW until 18:00")."""
    if not limit:
        return None
    params = {"kw": limit.get("max_power_w", 0) / 1000, "until": limit.get("until")}
    return {**limit, "text": word({"code": "limit_banner", "params": params}, lang)}


def plan_line(plan: Mapping[str, Any] | None, lang: str) -> dict[str, Any] | None:
    """A box's plan with its line for the tile (planned start and end, the deadline)."""
    if not plan:
        return None
    params = {k: plan.get(k) for k in ("start", "end", "deadline")}
    code = "plan_line" if plan.get("start") is not None else "plan_line_nothing"
    return {**plan, "text": word({"code": code, "params": params}, lang)}
