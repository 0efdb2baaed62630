"""German words of the views over what happened: sub-board tiles, session totals, decisions.

Kept apart from i18n.py's main table, like web/users_words.py, so these views stay in their
own few files.
"""

from __future__ import annotations

from collections.abc import Mapping

DE: Mapping[str, str] = {
    "Decisions": "Entscheidungen",
    "Per wallbox, the last 24 hours: the current offered, what the car drew, and why.": (
        "Pro Wallbox die letzten 24 Stunden: der angebotene Strom, was das Auto bezog, und warum."
    ),
    "Draw": "Bezug",
    "limited": "begrenzt",
    "waiting": "wartet",
    "full current": "voller Strom",
    "idle": "ruht",
    "fault": "Störung",
    "removed": "entfernt",
    "No decisions recorded yet.": "Noch keine Entscheidungen aufgezeichnet.",
    "Fuse": "Sicherung",
    "Energy totals": "Energiesummen",
    "Running sessions count with their energy so far.": (
        "Laufende Ladevorgänge zählen mit ihrer bisherigen Energie."
    ),
    "per day": "pro Tag",
    "per month": "pro Monat",
    "per wallbox": "pro Wallbox",
    "per user": "pro Benutzer",
}
