"""The users pages' words in German (RFID users, teach-in, self-service, sessions per user).

Kept apart from i18n.py's main table so the users feature stays in its own few files.
"""

from __future__ import annotations

from collections.abc import Mapping

DE: Mapping[str, str] = {
    "Users": "Benutzer",
    "Tags": "Karten",
    "RFID tags": "RFID-Karten",
    "Tags (comma-separated)": "Karten (durch Komma getrennt)",
    "PIN, 4-8 digits": "PIN, 4-8 Ziffern",
    "PIN": "PIN",
    "Wallboxes": "Wallboxen",
    "Wallboxes (device ids) allowed; empty: all": "Erlaubte Wallboxen (Geräte-IDs); leer: alle",
    "all wallboxes": "alle Wallboxen",
    "Max current (A)": "Maximaler Strom (A)",
    "Phases to charge with": "Phasen zum Laden",
    "Charge mode for this user": "Lademodus dieses Benutzers",
    "Higher is served first": "Höher wird zuerst bedient",
    "No longer accepted from then on": "Ab dann nicht mehr akzeptiert",
    "Off: every tag of this user is blocked": "Aus: Alle Karten dieses Benutzers sind gesperrt",
    "Enabled": "Aktiv",
    "Expires": "Läuft ab",
    "never": "nie",
    "Edit": "Bearbeiten",
    "Save": "Speichern",
    "Edit user": "Benutzer bearbeiten",
    "Add card": "Karte anlernen",
    "Cancel": "Abbrechen",
    "Hold the new card to any wallbox: {s} s left": (
        "Neue Karte an eine beliebige Wallbox halten: noch {s} s"
    ),
    "Card {tag} added at {box}.": "Karte {tag} an {box} angelernt.",
    "No card was presented within 60 s.": "Innerhalb von 60 s wurde keine Karte vorgehalten.",
    "Teach-in cancelled.": "Anlernen abgebrochen.",
    "Self-service password": "Passwort für die Selbstbedienung",
    "Login link": "Anmeldelink",
    "Create login link": "Anmeldelink erstellen",
    "Send this link to the user; it works once and for 7 days.": (
        "Diesen Link an den Benutzer schicken; er gilt einmal und 7 Tage lang."
    ),
    "Who may charge: free (plug and charge), local users, gateway": (
        "Wer laden darf: frei (Einstecken und Laden), lokale Benutzer, Gateway"
    ),
    "User a free box's sessions go to (user id)": (
        "Benutzer, dem die Ladevorgänge einer freien Box zugeordnet werden (Benutzer-ID)"
    ),
    "Method": "Methode",
    "Result": "Ergebnis",
    "Month": "Monat",
    "Totals per user and month": "Summen je Benutzer und Monat",
    "Download signed data": "Signierte Daten herunterladen",
    "My sessions": "Meine Ladevorgänge",
    "Charge mode": "Lademodus",
    "local": "lokal",
    "backend": "Backend",
    "free": "frei",
    "remote": "Fernstart",
    "fallback": "Ersatzregel",
    "Tag": "Karte",
    "User name": "Benutzername",
    "This page is for the admin only.": "Diese Seite ist nur für den Admin.",
    "This login link is used or expired.": "Dieser Anmeldelink ist benutzt oder abgelaufen.",
    "off": "aus",
    "now": "sofort",
    "minpv": "Min+PV",
    "pv": "nur PV",
    "plan": "Plan",
    # start as a user (device page) and why the API refuses it
    "Start charging as a user": "Laden als Benutzer starten",
    "Releases the plugged-in car for this user, with the user's first tag; an OCPP box gets a "
    "remote start. A billing backend is asked first.": (
        "Gibt das eingesteckte Auto für diesen Benutzer frei, mit seiner ersten Karte; eine "
        "OCPP-Box bekommt einen Fernstart. Ein Abrechnungs-Backend wird zuerst gefragt."
    ),
    "Start charging": "Laden starten",
    "no car plugged in": "kein Auto eingesteckt",
    "is disabled": "ist gesperrt",
    "has expired": "ist abgelaufen",
    "may not use this wallbox": "darf diese Wallbox nicht nutzen",
    "has no tag": "hat keine Karte",
    "refused by the billing backend ({status})": "vom Abrechnungs-Backend abgelehnt ({status})",
}

#: what the page script needs (the teach-in countdown)
JS: tuple[str, ...] = (
    "Hold the new card to any wallbox: {s} s left",
    "Card {tag} added at {box}.",
    "No card was presented within 60 s.",
    "Teach-in cancelled.",
)
