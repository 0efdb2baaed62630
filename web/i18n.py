"""English and German UI text, and choosing the language of a request.

English strings are the keys, so a missing German entry falls back to readable English instead
of a blank. The choice is the `lang` cookie (set by the switch in the header), else the browser's
Accept-Language, else English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

from starlette.requests import HTTPConnection

from web import gateway_words, mode_words, users_words, views_words
from web.i18n_devices import DE_DEVICES, FIELD_LABELS_DEVICES
from web.i18n_rules import DE_RULES, FIELD_LABELS_RULES
from web.i18n_stations import DE_STATIONS, FIELD_LABELS_STATIONS
from web.mode_words import DE_MODES, FIELD_LABELS_MODES

LANGUAGES = ("en", "de")
LANG_COOKIE = "lang"

DE: Mapping[str, str] = {
    # navigation and frame
    "Dashboard": "Übersicht",
    "Sessions": "Ladevorgänge",
    "Events": "Ereignisse",
    "Settings": "Einstellungen",
    "Log out": "Abmelden",
    "Log in": "Anmelden",
    "Password": "Passwort",
    "Admin password": "Admin-Passwort",
    "Wrong password.": "Falsches Passwort.",
    "Too many failed attempts. Try again in {s} s.": (
        "Zu viele Fehlversuche. Erneut versuchen in {s} s."
    ),
    "The login form expired. Please try again.": (
        "Das Anmeldeformular ist abgelaufen. Bitte erneut versuchen."
    ),
    "Load management for your wallboxes": "Lastmanagement für Ihre Wallboxen",
    "Language": "Sprache",
    "Live": "Live",
    "Connection lost — reconnecting…": "Verbindung verloren — verbinde neu…",
    "Page not found.": "Seite nicht gefunden.",
    "Back to the dashboard": "Zurück zur Übersicht",
    # site tile
    "Grid connection": "Netzanschluss",
    "Grid": "Netz",
    "PV": "PV",
    "Import": "Bezug",
    "Export": "Einspeisung",
    "Reserve": "Reserve",
    "Limit": "Grenze",
    "Safe mode": "Sicherheitsmodus",
    "Safe mode: every wallbox gets only the safe current.": (
        "Sicherheitsmodus: Jede Wallbox erhält nur den sicheren Strom."
    ),
    "Charging power": "Ladeleistung",
    "Last 24 hours": "Letzte 24 Stunden",
    "No history yet.": "Noch kein Verlauf.",
    # wallbox tile
    "Wallbox": "Wallbox",
    "Wallboxes": "Wallboxen",
    "Meters": "Zähler",
    "Meter": "Zähler",
    "no car": "kein Auto",
    "connected": "verbunden",
    "charging": "lädt",
    "paused": "pausiert",
    "error": "Fehler",
    "offline": "offline",
    "disabled": "deaktiviert",
    "online": "online",
    "Enabled": "Aktiv",
    "Setpoint": "Sollwert",
    "Session": "Ladevorgang",
    "User": "Benutzer",
    "Configure": "Konfigurieren",
    "Energy": "Energie",
    "Power": "Leistung",
    "Role": "Rolle",
    "grid": "Netz",
    "pv": "PV",
    "battery": "Batterie",
    "consumer": "Verbraucher",
    "evse": "Wallbox",
    "New charge point": "Neuer Ladepunkt",
    "Add": "Hinzufügen",
    "Added.": "Hinzugefügt.",
    "No devices yet.": "Noch keine Geräte.",
    "Add device": "Gerät hinzufügen",
    # forms
    "Save": "Speichern",
    "Saved.": "Gespeichert.",
    "Cancel": "Abbrechen",
    "Delete": "Löschen",
    "Deleted.": "Gelöscht.",
    "Really delete?": "Wirklich löschen?",
    "Test connection": "Verbindung testen",
    "Testing…": "Teste…",
    "Connection works.": "Verbindung funktioniert.",
    "Please correct the marked fields.": "Bitte die markierten Felder korrigieren.",
    "Something went wrong.": "Etwas ist schiefgelaufen.",
    "Could not save: the disk is full. Nothing was changed.": (
        "Speichern nicht möglich: Der Datenträger ist voll. Nichts wurde geändert."
    ),
    "Could not save: {why}. Nothing was changed.": (
        "Speichern nicht möglich: {why}. Nichts wurde geändert."
    ),
    "unchanged": "unverändert",
    "not set": "nicht gesetzt",
    "set": "gesetzt",
    "none": "keine",
    "Kind": "Art",
    "Driver": "Treiber",
    "Next": "Weiter",
    "Name": "Name",
    "Address": "Adresse",
    "Circuit": "Stromkreis",
    "Device": "Gerät",
    "New device": "Neues Gerät",
    "Driver settings": "Treiber-Einstellungen",
    "General": "Allgemein",
    "Devices": "Geräte",
    # circuits
    "Circuits": "Stromkreise",
    "The fuse of this sub-board ({fuse} A) is above that of {parent} ({parent_a} A), which "
    "limits it anyway. Save it like this?": (
        "Die Sicherung dieser Unterverteilung ({fuse} A) ist größer als die von {parent} "
        "({parent_a} A), die sie ohnehin begrenzt. So speichern?"
    ),
    "New circuit": "Neuer Stromkreis",
    "Add sub-board": "Unterverteilung hinzufügen",
    "Parent": "Übergeordnet",
    "Max current per phase (A)": "Max. Strom je Phase (A)",
    "Max power (W)": "Max. Leistung (W)",
    "Max unbalance (A)": "Max. Schieflast (A)",
    "main fuse": "Hauptsicherung",
    # settings
    "Charging manager": "Lademanager",
    "OCPP server": "OCPP-Server",
    "CA of the wallboxes' client certificates (PEM, security profile 3)": (
        "CA der Client-Zertifikate der Wallboxen (PEM, Sicherheitsprofil 3)"
    ),
    "Limit with ChargePointMaxProfile on connector 0 (boxes without TxDefaultProfile); used "
    "automatically when a box refuses TxDefaultProfile": (
        "Mit ChargePointMaxProfile auf Anschluss 0 begrenzen (Boxen ohne TxDefaultProfile); "
        "wird automatisch genutzt, wenn eine Box TxDefaultProfile ablehnt"
    ),
    "No OCPP password is set: any device on the network can connect to the OCPP server. "
    "Unconfigured boxes are never allowed to charge, but set a password to keep them out.": (
        "Kein OCPP-Passwort gesetzt: Jedes Gerät im Netzwerk kann sich mit dem OCPP-Server "
        "verbinden. Nicht eingerichtete Boxen dürfen nie laden, aber ein Passwort hält sie "
        "ganz fern."
    ),
    "Certificate": "Zertifikat",
    "Download certificate": "Zertifikat herunterladen",
    "Upload certificate": "Zertifikat hochladen",
    "Certificate (PEM)": "Zertifikat (PEM)",
    "Private key (PEM)": "Privater Schlüssel (PEM)",
    "Certificate imported.": "Zertifikat importiert.",
    "Change password": "Passwort ändern",
    "Current password": "Aktuelles Passwort",
    "New password": "Neues Passwort",
    "Password changed.": "Passwort geändert.",
    "RFID users": "RFID-Benutzer",
    "ID tag": "ID-Tag",
    "Add user": "Benutzer hinzufügen",
    "No users yet.": "Noch keine Benutzer.",
    "Admin": "Admin",
    # sessions and events
    "From": "Von",
    "Until": "Bis",
    "All": "Alle",
    "Filter": "Filtern",
    "Download CSV": "CSV herunterladen",
    "Start": "Beginn",
    "End": "Ende",
    "Duration": "Dauer",
    "Total": "Summe",
    "{n} sessions": "{n} Ladevorgänge",
    "No sessions in this period.": "Keine Ladevorgänge in diesem Zeitraum.",
    "Time": "Zeit",
    "Message": "Meldung",
    "No events yet.": "Noch keine Ereignisse.",
    "Refresh": "Aktualisieren",
    "running": "läuft",
    # the gateway to a billing backend
    "Gateway to a billing backend": "Gateway zu einem Abrechnungs-Backend",
    "Billing backend": "Abrechnungs-Backend",
    "connected since {time}": "verbunden seit {time}",
    "not connected": "nicht verbunden",
    "{n} queued": "{n} in der Warteschlange",
    "certificate is not checked": "Zertifikat wird nicht geprüft",
    "backend answered HTTP {code}": "Backend antwortete HTTP {code}",
    "wrong password (HTTP 401)": "falsches Passwort (HTTP 401)",
    "access refused (HTTP 403)": "Zugriff verweigert (HTTP 403)",
    "wrong URL or client id (HTTP 404)": "falsche URL oder Client-ID (HTTP 404)",
    "certificate not trusted": "Zertifikat nicht vertrauenswürdig",
    "TLS handshake failed": "TLS-Verbindungsaufbau fehlgeschlagen",
    "host unreachable": "Host nicht erreichbar",
    "host name not found": "Hostname nicht gefunden",
    "backend speaks another protocol": "Backend spricht ein anderes Protokoll",
    "backend closed the connection": "Backend hat die Verbindung geschlossen",
    "invalid URL": "ungültige URL",
    "connection failed": "Verbindung fehlgeschlagen",
    "Refuse": "Ablehnen",
    "Local": "Lokale Benutzer",
    "Anyone": "Jeden",
    "Billing backend, ws:// or wss://; the client id is appended. Empty: none": (
        "Abrechnungs-Backend, ws:// oder wss://; die Client-ID wird angehängt. Leer: keins"
    ),
    "Identity the backend knows this wallbox by": (
        "Kennung, unter der das Backend diese Wallbox kennt"
    ),
    "Basic Auth password at the backend (write-only)": (
        "Basic-Auth-Passwort beim Backend (nur schreibbar)"
    ),
    "OCPP version to speak": "OCPP-Version",
    "Trust only these CA certificates (PEM); empty: system": (
        "Nur diesen CA-Zertifikaten vertrauen (PEM); leer: System"
    ),
    "Client certificate (PEM, security profile 3)": (
        "Client-Zertifikat (PEM, Sicherheitsprofil 3)"
    ),
    "Private key of the client certificate (PEM, write-only)": (
        "Privater Schlüssel des Client-Zertifikats (PEM, nur schreibbar)"
    ),
    "Check the backend's certificate": "Zertifikat des Backends prüfen",
    "Tag refused or backend unreachable: refuse, local users (not billed), anyone": (
        "Tag abgelehnt oder Backend nicht erreichbar: ablehnen, lokale Benutzer "
        "(nicht abgerechnet), jeden"
    ),
    # log view, operations
    "Log": "Protokoll",
    "Level": "Stufe",
    "and above": "und höher",
    "Info": "Info",
    "Warning": "Warnung",
    "Error": "Fehler",
    "Source": "Quelle",
    "No log lines at this level.": "Keine Protokollzeilen auf dieser Stufe.",
    "The newest lines since the manager started. The full log is in the system journal "
    "(journalctl -u ampshare).": (
        "Die neuesten Zeilen seit dem Start. Das vollständige Protokoll steht im Systemjournal "
        "(journalctl -u ampshare)."
    ),
    "MQTT": "MQTT",
    "Prometheus metrics": "Prometheus-Metriken",
    "Backup and restore": "Sicherung und Wiederherstellung",
    "Download backup": "Sicherung herunterladen",
    "Restore": "Wiederherstellen",
    "Backup file": "Sicherungsdatei",
    "The backup holds everything: configuration, users, sessions, events, certificates and "
    "keys, and the passwords. Keep it as safe as this device.": (
        "Die Sicherung enthält alles: Konfiguration, Benutzer, Ladevorgänge, Ereignisse, "
        "Zertifikate und Schlüssel sowie die Passwörter. Bewahren Sie sie so sicher auf wie "
        "dieses Gerät."
    ),
    "Restoring replaces all data; the current data is kept beside it. The manager restarts.": (
        "Die Wiederherstellung ersetzt alle Daten; die bisherigen bleiben daneben erhalten. "
        "Der Manager startet neu."
    ),
    "Really replace all data with this backup?": (
        "Wirklich alle Daten durch diese Sicherung ersetzen?"
    ),
    "Restored. The manager restarts…": "Wiederhergestellt. Der Manager startet neu…",
    "Choose a backup file first.": "Bitte zuerst eine Sicherungsdatei wählen.",
    "Without a token only this machine may read /metrics.": (
        "Ohne Token darf nur dieser Rechner /metrics lesen."
    ),
    **DE_STATIONS,  # the Station page and station actions (web/i18n_stations.py)
    **DE_RULES,  # schedules, prices, plans, the external limit (web/i18n_rules.py)
    **DE_MODES,  # the charging modes (web/mode_words.py)
}

#: friendlier labels than the field names, by dotted name or by key (English; DE below)
FIELD_LABELS: Mapping[str, str] = {
    "site.max_current_a": "Main fuse per phase (A)",
    "site.max_power_w": "Max power of the connection (W)",
    "site.reserve_a": "Reserve per phase (A)",
    "site.max_unbalance_a": "Unbalanced-load limit (A)",
    "site.unbalance_counts_base": "Count household unbalance",
    "site.control_interval_s": "Control interval (s)",
    "site.safe_current_a": "Safe current (A)",
    "site.meter_timeout_s": "Meter timeout (s)",
    "site.nominal_voltage_v": "Nominal voltage (V)",
    "site.rotation_s": "Slot time when sharing (s)",
    "site.resume_delay_s": "Resume delay (s)",
    "ocpp.port": "Port",
    "ocpp.tls": "TLS",
    "ocpp.password": "Password",
    "ocpp.clear_profiles_on_deactivate": "Cancel charging current limit on deactivation",
    "ocpp.unknown_tags": "Unknown RFID tags",
    "mqtt.host": "Broker host",
    "mqtt.port": "Port",
    "mqtt.tls": "TLS",
    "mqtt.username": "User name",
    "mqtt.password": "Password",
    "mqtt.base_topic": "Base topic",
    "mqtt.retain": "Retain state",
    "metrics.token": "Metrics token",
    "ocpp.ca_pem": "CA of the client certificates (PEM)",
    "max_profile": "ChargePointMaxProfile only",
    "max_current_a": "Max current (A)",
    "min_current_a": "Min current (A)",
    "phase_rotation": "Phase rotation",
    "connector_id": "Connector",
    "unit_id": "Modbus unit id",
    "arrive_after_s": "First car after (s)",
    "resolution_a": "Setpoint step (A)",
    "failsafe_current_a": "Failsafe current (A)",
    "read_rfid": "Read RFID cards",
    "failsafe_timeout_s": "Failsafe timeout (s)",
    "max_power_w": "Max power (W)",
    "max_unbalance_a": "Unbalanced-load limit (A)",
    "reserve_a": "Reserve per phase (A)",
    "gateway_url": "Backend URL",
    "gateway_client_id": "Client id at the backend",
    "gateway_password": "Password at the backend",
    "gateway_protocol": "OCPP version",
    "gateway_ca_pem": "Trusted CA certificates (PEM)",
    "gateway_client_cert_pem": "Client certificate (PEM)",
    "gateway_client_key": "Client key (PEM)",
    "gateway_verify_tls": "Check the backend's certificate",
    "gateway_auth_fallback": "Tag refused or backend away",
    **FIELD_LABELS_STATIONS,
    **FIELD_LABELS_DEVICES,
    **FIELD_LABELS_RULES,
    **FIELD_LABELS_MODES,
}

DE_FIELDS: Mapping[str, str] = {
    "Backend URL": "Backend-URL",
    "Client id at the backend": "Client-ID beim Backend",
    "Password at the backend": "Passwort beim Backend",
    "OCPP version": "OCPP-Version",
    "Trusted CA certificates (PEM)": "Vertrauenswürdige CA-Zertifikate (PEM)",
    "Client certificate (PEM)": "Client-Zertifikat (PEM)",
    "Client key (PEM)": "Client-Schlüssel (PEM)",
    "Tag refused or backend away": "Tag abgelehnt oder Backend weg",
    "Main fuse per phase (A)": "Hauptsicherung je Phase (A)",
    "Max power of the connection (W)": "Max. Leistung des Anschlusses (W)",
    "Reserve per phase (A)": "Reserve je Phase (A)",
    "Unbalanced-load limit (A)": "Schieflastgrenze (A)",
    "Count household unbalance": "Schieflast des Haushalts mitzählen",
    "Control interval (s)": "Regelintervall (s)",
    "Safe current (A)": "Sicherer Strom (A)",
    "Meter timeout (s)": "Zähler-Timeout (s)",
    "Nominal voltage (V)": "Nennspannung (V)",
    "Slot time when sharing (s)": "Zeitscheibe beim Teilen (s)",
    "Resume delay (s)": "Wiederanlauf-Verzögerung (s)",
    "Port": "Port",
    "TLS": "TLS",
    "Cancel charging current limit on deactivation": (
        "Ladestrombegrenzung bei Deaktivierung aufheben"
    ),
    "Unknown RFID tags": "Unbekannte RFID-Tags",
    "CA of the client certificates (PEM)": "CA der Client-Zertifikate (PEM)",
    "ChargePointMaxProfile only": "Nur ChargePointMaxProfile",
    "Max current (A)": "Max. Strom (A)",
    "Min current (A)": "Min. Strom (A)",
    "Phases": "Phasen",
    "Phase rotation": "Phasendrehung",
    "Priority": "Priorität",
    "Connector": "Anschluss",
    "Modbus unit id": "Modbus-Geräteadresse",
    "Car": "Auto",
    "First car after (s)": "Erstes Auto nach (s)",
    "Offline": "Offline",
    "Setpoint step (A)": "Sollwert-Schritt (A)",
    "Failsafe current (A)": "Failsafe-Strom (A)",
    "Read RFID cards": "RFID-Karten lesen",
    "Read the RFID card of the session": "Die RFID-Karte des Ladevorgangs lesen",
    "Failsafe timeout (s)": "Failsafe-Zeit (s)",
    "Seconds without a write from ampshare after which the box falls back to the failsafe "
    "current": "Sekunden ohne Schreibzugriff von ampshare, nach denen die Box auf den "
    "Failsafe-Strom zurückfällt",
    'Read the RFID card of the session (needs "Allow UID disclose" on the box)': (
        'Die RFID-Karte des Ladevorgangs lesen (dazu an der Box "Allow UID Disclose" einschalten)'
    ),
    "Modbus unit id (255 on these boxes)": "Modbus-Geräteadresse (bei diesen Boxen 255)",
    "Max power (W)": "Max. Leistung (W)",
    "Reserve (A)": "Reserve (A)",
    "Remove": "Entfernen",
    "Off": "Aus",
    "Detect": "Erkennen",
    "On": "An",
    "Accept": "Akzeptieren",
    "Known": "Nur bekannte",
    "Auto": "Automatisch",
    "None": "Keins",
    # help texts of the common fields
    "Host:port, ChargeBox ID or serial port": "Host:Port, ChargeBox-ID oder serielle Schnittstelle",
    "Lowest current the car accepts": "Kleinster Strom, den das Auto annimmt",
    "Highest current of the box": "Größter Strom der Box",
    "Wired phases": "Angeschlossene Phasen",
    "Site phase of the box's L1, L2, L3": "Hausphase von L1, L2, L3 der Box",
    "Higher is served first": "Höhere wird zuerst bedient",
    "Circuit the box hangs in": "Stromkreis, an dem die Box hängt",
    "What the meter measures": "Was der Zähler misst",
    "Circuit this board hangs in": "Stromkreis, an dem diese Verteilung hängt",
    "Fuse per phase (A)": "Sicherung je Phase (A)",
    "Meter measuring this circuit (optional)": "Zähler dieses Stromkreises (optional)",
    # MQTT and metrics settings
    "Broker host": "Broker-Host",
    "User name": "Benutzername",
    "Base topic": "Basis-Topic",
    "Retain state": "Zustand mit Retain senden",
    "Metrics token": "Metrik-Token",
    "Broker host; empty: MQTT off": "Broker-Host; leer: MQTT aus",
    "Broker port (1883, TLS 8883)": "Broker-Port (1883, TLS 8883)",
    "Connect with TLS": "Mit TLS verbinden",
    "User name (optional)": "Benutzername (optional)",
    "Password (optional)": "Passwort (optional)",
    "Topic prefix, no wildcards": "Topic-Präfix, ohne Platzhalter",
    "Publish state retained": "Zustand mit Retain veröffentlichen",
    "Bearer token for /metrics; without one only this machine may read it": (
        "Bearer-Token für /metrics; ohne Token darf nur dieser Rechner sie lesen"
    ),
}

_TABLES: Mapping[str, Mapping[str, str]] = {
    "de": {**DE_DEVICES, **DE_FIELDS, **DE, **users_words.DE, **views_words.DE}
}


def translator(lang: str) -> Callable[..., str]:
    """`_("text", n=3)`: the text in `lang`, with {placeholders} filled in."""
    table = _TABLES.get(lang, {})

    def _(text: str, **values: object) -> str:
        out = table.get(text, text)
        return out.format(**values) if values else out

    return _


def parse_accept_language(header: str) -> str | None:
    """The supported language the browser prefers most, or None."""
    best: tuple[float, int, str] | None = None
    for pos, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        code = tag.strip().lower().split("-")[0]
        if code not in LANGUAGES:
            continue
        q = 1.0
        params = params.strip()
        if params.startswith("q="):
            try:
                q = float(params[2:])
            except ValueError:
                q = 0.0
        if q <= 0:
            continue
        key = (q, -pos, code)
        if best is None or key > best:
            best = key
    return best[2] if best else None


def choose_language(conn: HTTPConnection) -> str:
    cookie = conn.cookies.get(LANG_COOKIE, "")
    if cookie in LANGUAGES:
        return cookie
    return parse_accept_language(conn.headers.get("accept-language", "")) or "en"


FUSE_WARNING = (
    "The fuse of this sub-board ({fuse} A) is above that of {parent} ({parent_a} A), which "
    "limits it anyway. Save it like this?"
)
#: the strings the browser script needs (status words, messages), sent with each page
JS_STRINGS = (
    "no car",
    "connected",
    "charging",
    "paused",
    "error",
    "offline",
    "disabled",
    "online",
    "Import",
    "Export",
    "Saved.",
    "Deleted.",
    "Added.",
    "Really delete?",
    "Testing…",
    "Connection works.",
    "Please correct the marked fields.",
    "Something went wrong.",
    "Connection lost — reconnecting…",
    "Live",
    "Password changed.",
    "Certificate imported.",
    "Really replace all data with this backup?",
    "Restored. The manager restarts…",
    "Choose a backup file first.",
    "Clear stale profiles",
    FUSE_WARNING,
    "grid",
    "pv",
    "battery",
    "consumer",
    "evse",
)


#: a meter's role in words ("pv" alone is also a charge mode, worded differently)
ROLE_WORDS: Mapping[str, str] = {
    "grid": "Grid",
    "pv": "PV",
    "battery": "Battery",
    "consumer": "Consumer",
    "evse": "Wallbox",
}


def role_word(role: str | None, lang: str) -> str:
    return translator(lang)(ROLE_WORDS.get(role or "", role or "Meter"))


def js_strings(lang: str) -> dict[str, str]:
    _ = translator(lang)
    words = {s: _(s) for s in (*JS_STRINGS, *users_words.JS)}
    words.update({f"role.{k}": _(v) for k, v in ROLE_WORDS.items()})
    return {**words, **gateway_words.js_words(_), **mode_words.js_words(_)}
