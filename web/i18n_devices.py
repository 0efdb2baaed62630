"""German for the device forms: driver names, the drivers' own fields and their help texts,
and the help texts of the settings. English is the key, as in web/i18n.py.

Product names (ABB B23, cFos Power Brain, ...) read the same in both languages and are listed
in SAME so the language test knows they are not untranslated English.
"""

from __future__ import annotations

from collections.abc import Mapping

#: texts that are the same in German (product names, protocol names, units)
SAME = frozenset(
    {
        "ABB B23 / B24",
        "ABL eMH1",
        "Alfen NG9xx (Eve)",
        "Carlo Gavazzi EM24 (RS485)",
        "Carlo Gavazzi EM24 Ethernet (E1)",
        "Eastron SDM120 (single phase)",
        "Eastron SDM630",
        "Eastron SDM72D-M V1 (totals only)",
        "Eastron SDM72D-M V2",
        "Heidelberg Energy Control",
        "Phoenix Contact EV-CC (ETH)",
        "Shelly Pro 3EM",
        "cFos Power Brain",
        "wallbe (Phoenix controller)",
        "SunSpec meter or inverter (auto-detect)",
        "Port",
        "TLS",
        "PV",
        "Name",
        "Gateway",
        "Wallbox",
        "Offline",
        "Info",
        "MQTT",
        "Admin",
        "Live",
        "Watchdog (s)",
    }
)

DE_DEVICES: Mapping[str, str] = {
    # drivers (product names stay, descriptions are translated)
    "Eastron SDM120 (single phase)": "Eastron SDM120 (einphasig)",
    "Eastron SDM72D-M V1 (totals only)": "Eastron SDM72D-M V1 (nur Summen)",
    "wallbe (Phoenix controller)": "wallbe (Phoenix-Controller)",
    "SunSpec meter or inverter (auto-detect)": "SunSpec-Zähler oder -Wechselrichter (automatisch)",
    "OCPP charge point (1.6J / 2.0.1)": "OCPP-Ladepunkt (1.6J / 2.0.1)",
    "Simulated meter": "Simulierter Zähler",
    "Simulated wallbox with car": "Simulierte Wallbox mit Auto",
    # field labels
    "Authorization": "Freigabe",
    "Default user": "Standard-Benutzer",
    "Charge mode": "Lademodus",
    "Phase switching": "Phasenumschaltung",
    "Current when released": "Strom nach Freigabe",
    "Release current (A)": "Strom nach Freigabe (A)",
    "Energy meter id": "ID des Energiezählers",
    "Extra attempts after a timeout": "Weitere Versuche nach einer Zeitüberschreitung",
    "Function": "Funktion",
    "Holding": "Holding",
    "Input": "Input",
    "Inverter": "Wechselrichter",
    "Latency (s)": "Verzögerung (s)",
    "Max regs per read": "Max. Register je Lesevorgang",
    "Power unit": "Leistungseinheit",
    "Relative profiles": "Relative Profile",
    "Retries": "Wiederholungen",
    "Timeout (s)": "Zeitlimit (s)",
    "Tx profile": "Tx-Profil",
    "Voltage (V)": "Spannung (V)",
    "Free": "Frei",
    "Now": "Sofort",
    "Minpv": "Min+PV",
    "Plan": "Plan",
    "Battery": "Batterie",
    "Consumer": "Verbraucher",
    # help texts of the drivers' fields
    "'auto': cars come and go; else a car of that type stays plugged in": (
        "'auto': Autos kommen und gehen; sonst bleibt ein Auto dieses Typs angesteckt"
    ),
    "Connector (1.6) or EVSE id (2.0.1)": "Anschluss (1.6) oder EVSE-ID (2.0.1)",
    "Current the box falls back to on its own when ampshare stops talking to it "
    "(0 = stop charging)": (
        "Strom, auf den die Box selbst zurückfällt, wenn ampshare nicht mehr mit ihr spricht "
        "(0 = Laden stoppen)"
    ),
    "Current the box keeps when it is released (device switched off in ampshare)": (
        "Strom, den die Box behält, wenn sie freigegeben wird (Gerät in ampshare ausgeschaltet)"
    ),
    "Id of the energy meter component (0)": "ID der Energiezähler-Komponente (0)",
    "Largest read the meter accepts (registers)": "Größter Lesevorgang, den der Zähler annimmt "
    "(Register)",
    "Limit a running transaction with a TxProfile (boxes that apply TxDefaultProfile only to "
    "the next session)": (
        "Einen laufenden Ladevorgang mit einem TxProfile begrenzen (Boxen, die TxDefaultProfile "
        "erst beim nächsten Ladevorgang anwenden)"
    ),
    "Modbus unit id (255 on these boxes)": "Modbus-Geräteadresse (bei diesen Boxen 255)",
    "Modbus unit id (DIP switches of the box)": "Modbus-Geräteadresse (DIP-Schalter der Box)",
    "Modbus unit id (slave address)": "Modbus-Geräteadresse (Slave-Adresse)",
    "Own Basic Auth password of this box (write-only); empty: server password": (
        "Eigenes Basic-Auth-Passwort dieser Box (nur schreibbar); leer: Server-Passwort"
    ),
    "Phase voltage for the W unit": "Phasenspannung für die Einheit W",
    "Register table to read (input = FC4, holding = FC3)": (
        "Zu lesende Registertabelle (Input = FC4, Holding = FC3)"
    ),
    "Seconds to wait for an answer": "Sekunden, die auf eine Antwort gewartet wird",
    "Seconds until the first car arrives": "Sekunden, bis das erste Auto kommt",
    "Seconds without Modbus traffic after which the box falls back to the failsafe current": (
        "Sekunden ohne Modbus-Verkehr, nach denen die Box auf den Failsafe-Strom zurückfällt"
    ),
    "Send Relative instead of Absolute profiles": "Relative statt absolute Profile senden",
    "Send limits in W instead of A": "Grenzen in W statt A senden",
    "Setpoint step of the wallbox": "Sollwert-Schritt der Wallbox",
    "Simulate a meter that does not answer": "Einen Zähler simulieren, der nicht antwortet",
    "Simulate a slow answer (s)": "Eine langsame Antwort simulieren (s)",
    "Simulate a wallbox that does not answer": "Eine Wallbox simulieren, die nicht antwortet",
    "Socket: 1, or 2 for the second socket": "Steckdose: 1, oder 2 für die zweite",
    "Stack level of ampshare's profiles; empty: box's highest": (
        "Stapelebene der Profile von ampshare; leer: die höchste der Box"
    ),
    "Switch between 1 and 3 phases (needs the 1p/3p relay)": (
        "Zwischen 1 und 3 Phasen umschalten (braucht das 1p/3p-Relais)"
    ),
    "Switch between 1 and 3 phases (register 1215)": (
        "Zwischen 1 und 3 Phasen umschalten (Register 1215)"
    ),
    "User (RFID) the simulated car reports": "Benutzer (RFID), den das simulierte Auto meldet",
    "Which SunSpec block to read: 'auto' takes the first meter model, else the inverter": (
        "Welcher SunSpec-Block gelesen wird: 'auto' nimmt das erste Zählermodell, sonst den "
        "Wechselrichter"
    ),
    "Who may charge: free (plug and charge), local users, gateway": (
        "Wer laden darf: frei (anstecken und laden), lokale Benutzer, Gateway"
    ),
    "User a free box's sessions go to (user id)": (
        "Benutzer, dem die Ladevorgänge einer freien Box zugeordnet werden (Benutzer-ID)"
    ),
    # help texts of the settings
    "A paused car waits this long before it resumes (s)": (
        "So lange wartet ein pausiertes Auto, bevor es weiterlädt (s)"
    ),
    "Basic Auth password for charge points (optional)": (
        "Basic-Auth-Passwort für Ladepunkte (optional)"
    ),
    "Control cycle (s)": "Regelzyklus (s)",
    "Count the household's own unbalance too, not only the wallboxes'": (
        "Auch die Schieflast des Haushalts mitzählen, nicht nur die der Wallboxen"
    ),
    "For power limits (V)": "Für Leistungsgrenzen (V)",
    "Grid meter silent this long -> safe mode (s)": (
        "So lange ohne Werte vom Netzzähler -> Sicherheitsmodus (s)"
    ),
    "Kept free on every phase (A)": "Auf jeder Phase frei gehalten (A)",
    "Max difference between phases (A); VDE-AR-N 4100: 20 A": (
        "Größter Unterschied zwischen den Phasen (A); VDE-AR-N 4100: 20 A"
    ),
    "OCPP server port": "Port des OCPP-Servers",
    "Optional power limit (W)": "Optionale Leistungsgrenze (W)",
    "RFID tags not in the users list: accept or refuse": (
        "RFID-Tags, die nicht in der Benutzerliste stehen: annehmen oder ablehnen"
    ),
    "Slot time when not every car can charge (s)": (
        "Zeitscheibe, wenn nicht jedes Auto laden kann (s)"
    ),
    "TLS: off, detect or on": "TLS: aus, erkennen oder an",
    "Total per phase for all wallboxes in safe mode (A)": (
        "Summe je Phase für alle Wallboxen im Sicherheitsmodus (A)"
    ),
    "Sign charge points' certificate requests with ampshare's own CA and accept the "
    "certificates it signed (security profile 3)": (
        "Zertifikatsanfragen der Ladepunkte mit der eigenen CA von ampshare signieren und die "
        "so signierten Zertifikate annehmen (Sicherheitsprofil 3)"
    ),
    "Fixed price per kWh: OCPP 2.0.1 boxes show the running cost (empty: off)": (
        "Fester Preis je kWh: OCPP-2.0.1-Boxen zeigen die laufenden Kosten (leer: aus)"
    ),
    "Show the current reason on the display of OCPP 2.0.1 boxes": (
        "Den aktuellen Grund auf dem Display von OCPP-2.0.1-Boxen zeigen"
    ),
}

#: labels for driver fields whose key alone reads badly
FIELD_LABELS_DEVICES: Mapping[str, str] = {
    "em_id": "Energy meter id",
    "role": "Role",
}
