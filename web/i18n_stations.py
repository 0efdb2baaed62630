"""German for the Station page, the audit log and station actions (merged into web.i18n)."""

from __future__ import annotations

from collections.abc import Mapping

#: labels of the station settings (merged into web.i18n.FIELD_LABELS)
FIELD_LABELS_STATIONS: Mapping[str, str] = {
    "ocpp.local_ca": "Local CA for charge point certificates",
    "ocpp.tariff_per_kwh": "Tariff per kWh",
    "ocpp.show_reasons": "Reasons on the display",
}

DE_STATIONS: Mapping[str, str] = {
    "Local CA for charge point certificates": "Lokale CA für Ladestations-Zertifikate",
    "Tariff per kWh": "Tarif je kWh",
    "Reasons on the display": "Gründe im Display",
    "Sign charge points' certificate requests with ampshare's own CA and accept the "
    "certificates it signed (security profile 3)": (
        "Zertifikatsanfragen der Ladestationen mit ampshares eigener CA signieren und die so "
        "signierten Zertifikate annehmen (Sicherheitsprofil 3)"
    ),
    "Fixed price per kWh: OCPP 2.0.1 boxes show the running cost (empty: off)": (
        "Fester Preis je kWh: OCPP-2.0.1-Boxen zeigen die laufenden Kosten (leer: aus)"
    ),
    "Show the current reason on the display of OCPP 2.0.1 boxes": (
        "Den aktuellen Grund im Display von OCPP-2.0.1-Boxen zeigen"
    ),
    "Station": "Station",
    "Identity": "Identität",
    "Vendor": "Hersteller",
    "Model": "Modell",
    "Serial number": "Seriennummer",
    "Firmware": "Firmware",
    "Protocol": "Protokoll",
    "Security profile": "Sicherheitsprofil",
    "Connected since": "Verbunden seit",
    "Address": "Adresse",
    "Configured as device": "Als Gerät eingerichtet",
    "no": "nein",
    "Charging profiles the box enforces": "Ladeprofile, die die Box durchsetzt",
    "Clear all profiles": "Alle Profile löschen",
    "Clear stale profiles": "Alte Ladeprofile löschen",
    "Asking the box…": "Frage die Box…",
    "Actions": "Aktionen",
    "Send": "Senden",
    "Configuration": "Konfiguration",
    "Read configuration": "Konfiguration lesen",
    "Key": "Schlüssel",
    "Value": "Wert",
    "Save": "Speichern",
    "read-only": "nur lesbar",
    "Connector": "Anschluss",
    "Answer": "Antwort",
    "Limit now": "Grenze jetzt",
    "Profile": "Profil",
    "Purpose": "Zweck",
    "Stack level": "Stapelebene",
    "Limit": "Grenze",
    "Owner": "Besitzer",
    "foreign": "fremd",
    "The box enforces no charging limit.": "Die Box setzt keine Ladegrenze durch.",
    "The box is not connected.": "Die Box ist nicht verbunden.",
    "The box did not answer in time.": "Die Box hat nicht rechtzeitig geantwortet.",
    "No charge point with this ID has connected since start.": (
        "Seit dem Start hat sich keine Ladestation mit dieser ID verbunden."
    ),
    "Audit log of station actions": "Protokoll der Stationsaktionen",
    "No station actions yet.": "Noch keine Stationsaktionen.",
    "Who": "Wer",
    "Box": "Box",
    "Action": "Aktion",
    "Request": "Anfrage",
    "Firmware and logs": "Firmware und Protokolle",
    "Firmware file (up to 64 MiB)": "Firmware-Datei (bis 64 MiB)",
    "Signing certificate (PEM, optional)": "Signaturzertifikat (PEM, optional)",
    "Signature (Base64, optional)": "Signatur (Base64, optional)",
    "Upload and install": "Hochladen und installieren",
    "Status": "Status",
    "Log type": "Protokollart",
    "Fetch log from the box": "Protokoll von der Box holen",
    # actions and their fields
    "profiles": "Ladeprofile",
    "clear_profiles": "Ladeprofile löschen",
    "reset": "Neustart",
    "unlock": "Entriegeln",
    "availability": "Verfügbarkeit",
    "trigger": "Nachricht anfordern",
    "remote_start": "Fernstart",
    "remote_stop": "Fernstopp",
    "configuration": "Konfiguration lesen",
    "configure": "Konfigurieren",
    "data_transfer": "Datenübertragung",
    "reserve": "Reservieren",
    "cancel_reservation": "Reservierung aufheben",
    "display": "Anzeige",
    "firmware": "Firmware-Update",
    "logs": "Protokolle holen",
    "certificates": "Zertifikate",
    "id": "ID",
    "connector_id": "Anschluss / EVSE",
    "stack_level": "Stapelebene",
    "type": "Art",
    "operative": "betriebsbereit",
    "message": "Nachricht",
    "id_tag": "RFID-Tag",
    "transaction_id": "Transaktion",
    "vendor_id": "Hersteller-ID",
    "message_id": "Nachrichten-ID",
    "data": "Daten",
    "minutes": "Minuten",
    "reservation_id": "Reservierung",
    "operation": "Vorgang",
    "certificate_type": "Zertifikatsart",
    "issuer_name_hash": "Hash des Ausstellernamens",
    "issuer_key_hash": "Hash des Ausstellerschlüssels",
    "serial_number": "Seriennummer",
}
