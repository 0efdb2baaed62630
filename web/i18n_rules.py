"""German for the charging rules' fields, banner and plan (merged into web.i18n)."""

from __future__ import annotations

from collections.abc import Mapping

#: labels of the rules' fields (merged into web.i18n.FIELD_LABELS)
FIELD_LABELS_RULES: Mapping[str, str] = {
    "limits.keep_14a_minimum": "Keep 4.2 kW per wallbox under a limit (§14a)",
    "price_limit": "Charge now at or below price (per kWh)",
    "plan_energy_wh": "Plan: energy (Wh)",
    "plan_time": "Plan: ready by",
    "schedules": "Schedules (JSON)",
}

DE_RULES: Mapping[str, str] = {
    "Keep 4.2 kW per wallbox under a limit (§14a)": (
        "4,2 kW je Wallbox bei einer Begrenzung halten (§14a)"
    ),
    "Charge now at or below price (per kWh)": "Sofort laden bis zum Preis (je kWh)",
    "Plan: energy (Wh)": "Plan: Energie (Wh)",
    "Plan: ready by": "Plan: fertig bis",
    "Schedules (JSON)": "Zeitpläne (JSON)",
    "§14a EnWG: keep at least 4 200 W per charging wallbox while an external limit is active": (
        "§14a EnWG: Während einer externen Begrenzung mindestens 4 200 W je ladender Wallbox halten"
    ),
    "Charge now while the price per kWh is at most this": (
        "Sofort laden, solange der Preis je kWh höchstens so hoch ist"
    ),
    "Plan mode: energy to deliver (Wh)": "Planmodus: zu ladende Energie (Wh)",
    "Plan mode: deliver by this time (ISO 8601; local time if no offset)": (
        "Planmodus: fertig bis zu dieser Zeit (ISO 8601; ohne Zeitzone: Ortszeit)"
    ),
    'Time windows, read top down, e.g. [{"days": ["mon", "tue"], "from": "22:00", "to": '
    '"06:00", "mode": "now"}]; outside them the box\'s own mode applies': (
        'Zeitfenster, von oben gelesen, z. B. [{"days": ["mon", "tue"], "from": "22:00", '
        '"to": "06:00", "mode": "now"}]; außerhalb gilt der eigene Modus der Box'
    ),
}
