"""The charging modes in words: the tile's countdown line, labels and German (merged into
web.i18n). The page script gets the same words, so the first render and live updates agree."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: the tile's mode switch: value -> label
MODE_LABELS: tuple[tuple[str, str], ...] = (
    ("off", "Off"),
    ("pv", "Solar"),
    ("minpv", "Min+Solar"),
    ("now", "Now"),
    ("plan", "Plan"),
)
WORDS = (
    "Solar",
    "Min+Solar",
    "Now",
    "Plan",
    "Off",
    "Charging mode",
    "starts in {s} s",
    "pauses in {s} s",
    "1p/3p switch in {s} s",
    "1p/3p switch now",
)

FIELD_LABELS_MODES: Mapping[str, str] = {
    "charge_mode": "Charging mode",
    "phase_switching": "Phase switching",
    "site.surplus_reserve_w": "Surplus reserve (W)",
    "site.pv_enable_delay_s": "Solar start delay (s)",
    "site.pv_disable_delay_s": "Solar stop delay (s)",
    "site.surplus_average_s": "Surplus average (s)",
    "site.phase_switch_min_interval_s": "Min time between 1p/3p switches (s)",
    "site.battery_priority_soc": "Battery first below (%)",
    "site.battery_discharge_soc": "Battery may give to the car above (%)",
    "phase_relay": "1p/3p relay",
}

DE_MODES: Mapping[str, str] = {
    "Solar": "Solar",
    "Min+Solar": "Min+Solar",
    "Now": "Sofort",
    "Plan": "Plan",
    "Charging mode": "Lademodus",
    "Phase switching": "Phasenumschaltung",
    "1 phase": "1 Phase",
    "3 phases": "3 Phasen",
    "Surplus": "Überschuss",
    "To solar charging": "Ins Solarladen",
    "starts in {s} s": "startet in {s} s",
    "pauses in {s} s": "pausiert in {s} s",
    "1p/3p switch in {s} s": "1p/3p-Umschaltung in {s} s",
    "1p/3p switch now": "1p/3p-Umschaltung läuft",
    "Surplus reserve (W)": "Überschuss-Reserve (W)",
    "Solar start delay (s)": "Solar-Startverzögerung (s)",
    "Solar stop delay (s)": "Solar-Stoppverzögerung (s)",
    "Surplus average (s)": "Mittelung des Überschusses (s)",
    "Min time between 1p/3p switches (s)": "Mindestabstand der 1p/3p-Umschaltungen (s)",
    "Battery first below (%)": "Hausbatterie zuerst unter (%)",
    "Battery may give to the car above (%)": "Hausbatterie gibt ans Auto ab über (%)",
    "1p/3p relay": "1p/3p-Relais",
    "Can switch between 1 and 3 phases": "Kann zwischen 1 und 3 Phasen umschalten",
    "Switch between 1 and 3 phases (needs the 1p/3p relay)": (
        "Zwischen 1 und 3 Phasen umschalten (braucht das 1p/3p-Relais)"
    ),
    "off: no charging; now: as fast as the fuses allow; minpv: min current plus solar "
    "surplus; pv: solar surplus only; plan: by a deadline": (
        "off: kein Laden; now: so schnell die Sicherungen erlauben; minpv: Mindeststrom plus "
        "Solarüberschuss; pv: nur Solarüberschuss; plan: bis zu einem Termin"
    ),
    "For boxes that can switch: auto (1 phase when the surplus is small), always 1p or always 3p": (
        "Für Boxen, die umschalten können: auto (1 Phase bei kleinem Überschuss), immer 1p "
        "oder immer 3p"
    ),
    "Surplus kept back for the house (W)": "Überschuss, der dem Haus bleibt (W)",
    "Surplus must cover the min current this long (s)": (
        "So lange muss der Überschuss den Mindeststrom decken (s)"
    ),
    "Surplus short this long pauses solar charging (s)": (
        "So lange zu wenig Überschuss pausiert das Solarladen (s)"
    ),
    "Rolling average of the surplus against clouds (s)": (
        "Gleitender Mittelwert des Überschusses gegen Wolken (s)"
    ),
    "At most one 1p/3p switch per box this often (s)": (
        "Höchstens eine 1p/3p-Umschaltung je Box in dieser Zeit (s)"
    ),
    "Home battery charged first below this charge (%)": (
        "Hausbatterie wird unter diesem Ladestand zuerst geladen (%)"
    ),
    "Home battery may give to the car above this charge (%)": (
        "Hausbatterie darf über diesem Ladestand ans Auto abgeben (%)"
    ),
}


def countdown(evse: Mapping[str, Any], translate: Callable[..., str]) -> str:
    """The tile's countdown line: a solar start or pause, or a 1p/3p switch; "" for none."""
    start, stop = evse.get("pv_start_in_s"), evse.get("pv_stop_in_s")
    switch = evse.get("phase_switch_in_s")
    if start is not None:
        return translate("starts in {s} s", s=int(start))
    if stop is not None:
        return translate("pauses in {s} s", s=int(stop))
    if switch is not None:
        if switch <= 0:
            return translate("1p/3p switch now")
        return translate("1p/3p switch in {s} s", s=int(switch))
    return ""


def js_words(translate: Callable[..., str]) -> dict[str, str]:
    return {w: translate(w) for w in WORDS}
