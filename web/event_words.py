"""Events (a kind, a device and parameters) worded in English and German.

The event log stores what happened as data: its kind, the device, and parameters. This module
words the kind and, where the parameters are there, the whole message, in the reader's
language. The device is named the one way the dashboard names it (its configured name; an
unconfigured charge point by its ChargeBox ID). Events stored before they carried parameters
keep their stored English message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web.wording import amount, word

KINDS_EN: Mapping[str, str] = {
    "offline": "Offline",
    "online": "Online again",
    "deactivated": "Handed back",
    "safe_mode": "Safe mode",
    "safe_mode_end": "Safe mode ended",
    "overload": "Overload",
    "overdraw": "Draws too much",
    "tag_refused": "RFID card refused",
    "station_action": "Station action",
    "ocpp": "OCPP server",
    "mqtt": "MQTT",
    "charge_point_connected": "Charge point connected",
    "charge_point_disconnected": "Charge point disconnected",
    "charge_point_takeover_refused": "Second connection refused",
    "profile_rejected": "Profile rejected",
    "not_under_control": "Not under control",
    "under_control": "Under control again",
    "transaction_refused": "Charging refused",
    "profiles_cleared": "Profiles cleared",
    "security_event": "Security event",
    "certificate_refused": "Certificate refused",
    "certificate_signed": "Certificate signed",
    "reservation": "Reservation",
    "gateway_connected": "Gateway connected",
    "gateway_disconnected": "Gateway disconnected",
    "gateway_error": "Gateway error",
}

KINDS_DE: Mapping[str, str] = {
    "offline": "Offline",
    "online": "Wieder online",
    "deactivated": "Zurückgegeben",
    "safe_mode": "Sicherheitsmodus",
    "safe_mode_end": "Sicherheitsmodus beendet",
    "overload": "Überlast",
    "overdraw": "Zieht zu viel",
    "tag_refused": "RFID-Karte abgelehnt",
    "station_action": "Stationsaktion",
    "ocpp": "OCPP-Server",
    "mqtt": "MQTT",
    "charge_point_connected": "Ladepunkt verbunden",
    "charge_point_disconnected": "Ladepunkt getrennt",
    "charge_point_takeover_refused": "Zweite Verbindung abgelehnt",
    "profile_rejected": "Ladeprofil abgelehnt",
    "not_under_control": "Nicht unter Kontrolle",
    "under_control": "Wieder unter Kontrolle",
    "transaction_refused": "Laden abgelehnt",
    "profiles_cleared": "Ladeprofile gelöscht",
    "security_event": "Sicherheitsereignis",
    "certificate_refused": "Zertifikat abgelehnt",
    "certificate_signed": "Zertifikat signiert",
    "reservation": "Reservierung",
    "gateway_connected": "Gateway verbunden",
    "gateway_disconnected": "Gateway getrennt",
    "gateway_error": "Gateway-Fehler",
}

#: whole messages by kind; {name} is the device as the dashboard names it
MESSAGES_EN: Mapping[str, str] = {
    "offline": "{name} does not answer: {error}",
    "online": "{name} answers again",
    "deactivated": "{name} handed back to its own control: {result}",
    "safe_mode": "{reason}; the wallboxes share {amps} A",
    "safe_mode_end": "grid meter readings are back; safe mode ended",
    "overload": "grid {phase} at {amps} A above {limit} A for {seconds} s",
    "overdraw": "{name} draws {amps} A, offered {offered} A",
    "tag_refused": "{name}: RFID card {tag} refused ({status})",
    "charge_point_connected": "{name} connected",
    "charge_point_disconnected": "{name} disconnected",
    "station_action": "{who}: {action} on {name}: {status}",
    "under_control": "{name} accepts charging profiles again",
    "ocpp": "OCPP server cannot listen on port {port}: {error}",
    "mqtt": "MQTT broker {host}:{port}: {error}",
}

MESSAGES_DE: Mapping[str, str] = {
    "offline": "{name} antwortet nicht: {error}",
    "online": "{name} antwortet wieder",
    "deactivated": "{name} an die eigene Steuerung zurückgegeben: {result}",
    "safe_mode": "{reason}; die Wallboxen teilen sich {amps} A",
    "safe_mode_end": "Netzzähler liefert wieder Werte; Sicherheitsmodus beendet",
    "overload": "Netz {phase} mit {amps} A über {limit} A seit {seconds} s",
    "overdraw": "{name} zieht {amps} A, angeboten {offered} A",
    "tag_refused": "{name}: RFID-Karte {tag} abgelehnt ({status})",
    "charge_point_connected": "{name} verbunden",
    "charge_point_disconnected": "{name} getrennt",
    "station_action": "{who}: {action} an {name}: {status}",
    "under_control": "{name} nimmt wieder Ladeprofile an",
    "ocpp": "OCPP-Server kann nicht auf Port {port} lauschen: {error}",
    "mqtt": "MQTT-Broker {host}:{port}: {error}",
}

#: kinds whose message needs no parameter but the device's name
_NAME_ONLY = frozenset(
    {"charge_point_connected", "charge_point_disconnected", "safe_mode_end", "under_control"}
)
_AMOUNTS = frozenset({"amps", "limit", "offered"})


def kind_word(kind: str, lang: str) -> str:
    """The kind in words ("charge_point_disconnected" -> "Ladepunkt getrennt")."""
    table = KINDS_DE if lang == "de" else KINDS_EN
    return table.get(kind) or KINDS_EN.get(kind) or kind.replace("_", " ").capitalize()


def _values(params: Mapping[str, Any], lang: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for key, value in params.items():
        if isinstance(value, Mapping) and "code" in value:
            out[key] = word(value, lang)  # a reason inside an event
        elif key in _AMOUNTS:
            out[key] = amount(value, lang)
        else:
            out[key] = "" if value is None else str(value)
    return out


def message(event: Mapping[str, Any], name: str, lang: str) -> str:
    """The event's message in `lang`; its stored (English) one when it lacks the facts."""
    kind = str(event.get("kind", ""))
    params = event.get("params")
    stored = str(event.get("message", ""))
    if not isinstance(params, Mapping) and kind not in _NAME_ONLY:
        return stored
    template = (MESSAGES_DE if lang == "de" else MESSAGES_EN).get(kind)
    if template is None:
        return stored
    values = _values(params or {}, lang)
    values["name"] = name or values.get("name", "")
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return stored


def device_names(devices: list[Mapping[str, Any]]) -> dict[str, str]:
    """Device id and, for OCPP boxes, ChargeBox ID -> the configured name."""
    names: dict[str, str] = {}
    for d in devices:
        if d.get("driver") == "ocpp" and d.get("address"):
            names[str(d["address"])] = str(d["name"])
    for d in devices:
        names[str(d["id"])] = str(d["name"])
    return names


def shown_event(event: Mapping[str, Any], names: Mapping[str, str], lang: str) -> dict[str, Any]:
    """An event as the page and the live stream show it: kind and message in words."""
    device = event.get("device")
    name = names.get(str(device), str(device)) if device else ""
    return {
        **event,
        "kind_text": kind_word(str(event.get("kind", "")), lang),
        "device_name": name,
        "text": message(event, name, lang),
    }
