"""Form and API mistakes (a field, a code and parameters) worded in English and German.

The facade names every mistake as data (`manager/invalid.py`): pydantic's error types and
their context, or ampshare's own codes. This is the one place that turns them into a plain
sentence, shown next to the field it concerns, so the field's name is not repeated. A mistake
without a code in this catalogue keeps the facade's English message.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from web.wording import amount

EN: Mapping[str, str] = {
    "missing": "Please fill this in.",
    "required": "Please fill this in.",
    "string_too_short": "Please enter at least {min_length} characters.",
    "string_too_long": "Please enter at most {max_length} characters.",
    "string_type": "Please enter text.",
    "string_pattern_mismatch": "This format is not accepted.",
    "greater_than": "Must be above {gt}.",
    "greater_than_equal": "Must be at least {ge}.",
    "less_than": "Must be below {lt}.",
    "less_than_equal": "Must not be above {le}.",
    "float_parsing": "Please enter a number.",
    "float_type": "Please enter a number.",
    "finite_number": "Please enter a number.",
    "int_parsing": "Please enter a whole number.",
    "int_type": "Please enter a whole number.",
    "int_from_float": "Please enter a whole number.",
    "bool_parsing": "Please choose yes or no.",
    "bool_type": "Please choose yes or no.",
    "literal_error": "Please choose one of: {expected}.",
    "enum": "Please choose one of: {expected}.",
    "one_of": "Please choose one of: {choices}.",
    "extra_forbidden": "This field is not known.",
    "min_above_max_current": "Minimum current must not be above maximum ({max} A).",
    "address_required": "Please enter the address.",
    "charge_box_id_required": "Please enter the ChargeBox ID the wallbox sends.",
    "invalid_address": "This address is not understood: {detail}",
    "unknown_circuit": "This circuit does not exist.",
    "unknown_driver": "This driver does not exist.",
    "wrong_kind": "This driver is for another kind of device.",
    "bad_id": "Use 1 to 40 lower-case letters, digits, - or _.",
    "id_taken": "The id {id} is taken.",
    "above_parent": "Above the fuse of {parent} ({parent_a} A).",
    "name_taken": "Another user has this name.",
    "in_the_past": "This date lies in the past.",
    "tag_taken": "The card {tag} belongs to {user}.",
    "bad_tag": "The card {tag} does not fit: printable ASCII without spaces, at most 36.",
    "tag_twice": "The card {tag} is listed twice.",
    "unknown_wallbox": "There is no wallbox {id}.",
    "unknown_user": "There is no user {id}.",
    "unknown_meter": "There is no meter {id}.",
    "password_short": "Please use at least {min} characters.",
    "wrong_password": "This is not the current password.",
    "needs_gateway_url": "This needs a backend URL in the gateway section.",
    "immutable": "This cannot be changed; delete and add instead.",
    "root_field": "The grid connection takes this from its own settings.",
    "root_delete": "The grid connection cannot be deleted.",
    "circuit_in_use": "Still in use by {names}; move them first.",
    "parent_cycle": "A circuit cannot hang in itself or below itself.",
    "bad_url": "This is not a valid URL.",
    "bad_url_scheme": "The URL must start with ws:// or wss://.",
    "bad_client_id": "No spaces and none of : / ? # %.",
    "not_pem_cert": "This is not a PEM certificate.",
    "not_pem_key": "This is not a PEM private key.",
    "key_needed": "The certificate needs its key.",
    "cert_needed": "The key needs its certificate.",
    "key_mismatch": "The key does not belong to the certificate.",
    "bad_date": "Please enter a date (YYYY-MM-DD).",
    "bad_month": "Please enter a month (YYYY-MM).",
    "between": "Must be between {lo} and {hi}.",
}

DE: Mapping[str, str] = {
    "missing": "Bitte ausfüllen.",
    "required": "Bitte ausfüllen.",
    "string_too_short": "Bitte mindestens {min_length} Zeichen eingeben.",
    "string_too_long": "Bitte höchstens {max_length} Zeichen eingeben.",
    "string_type": "Bitte Text eingeben.",
    "string_pattern_mismatch": "Dieses Format wird nicht angenommen.",
    "greater_than": "Muss größer als {gt} sein.",
    "greater_than_equal": "Muss mindestens {ge} sein.",
    "less_than": "Muss kleiner als {lt} sein.",
    "less_than_equal": "Darf nicht größer als {le} sein.",
    "float_parsing": "Bitte eine Zahl eingeben.",
    "float_type": "Bitte eine Zahl eingeben.",
    "finite_number": "Bitte eine Zahl eingeben.",
    "int_parsing": "Bitte eine ganze Zahl eingeben.",
    "int_type": "Bitte eine ganze Zahl eingeben.",
    "int_from_float": "Bitte eine ganze Zahl eingeben.",
    "bool_parsing": "Bitte ja oder nein wählen.",
    "bool_type": "Bitte ja oder nein wählen.",
    "literal_error": "Bitte eines davon wählen: {expected}.",
    "enum": "Bitte eines davon wählen: {expected}.",
    "one_of": "Bitte eines davon wählen: {choices}.",
    "extra_forbidden": "Dieses Feld ist unbekannt.",
    "min_above_max_current": "Der Mindeststrom darf nicht über dem Maximum ({max} A) liegen.",
    "address_required": "Bitte die Adresse eingeben.",
    "charge_box_id_required": "Bitte die ChargeBox-ID eingeben, die die Wallbox sendet.",
    "invalid_address": "Diese Adresse wird nicht verstanden: {detail}",
    "unknown_circuit": "Diesen Stromkreis gibt es nicht.",
    "unknown_driver": "Diesen Treiber gibt es nicht.",
    "wrong_kind": "Dieser Treiber ist für eine andere Geräteart.",
    "bad_id": "Bitte 1 bis 40 Kleinbuchstaben, Ziffern, - oder _ verwenden.",
    "id_taken": "Die ID {id} ist vergeben.",
    "above_parent": "Über der Sicherung von {parent} ({parent_a} A).",
    "name_taken": "Ein anderer Benutzer hat diesen Namen.",
    "in_the_past": "Dieses Datum liegt in der Vergangenheit.",
    "tag_taken": "Die Karte {tag} gehört {user}.",
    "bad_tag": "Die Karte {tag} passt nicht: nur druckbares ASCII ohne Leerzeichen, bis 36.",
    "tag_twice": "Die Karte {tag} steht doppelt in der Liste.",
    "unknown_wallbox": "Es gibt keine Wallbox {id}.",
    "unknown_user": "Es gibt keinen Benutzer {id}.",
    "unknown_meter": "Es gibt keinen Zähler {id}.",
    "password_short": "Bitte mindestens {min} Zeichen verwenden.",
    "wrong_password": "Das ist nicht das aktuelle Passwort.",
    "needs_gateway_url": "Dafür braucht es eine Backend-URL im Gateway-Abschnitt.",
    "immutable": "Das lässt sich nicht ändern; stattdessen löschen und neu anlegen.",
    "root_field": "Der Netzanschluss nimmt das aus seinen eigenen Einstellungen.",
    "root_delete": "Der Netzanschluss kann nicht gelöscht werden.",
    "circuit_in_use": "Noch belegt durch {names}; bitte zuerst umhängen.",
    "parent_cycle": "Ein Stromkreis kann nicht in oder unter sich selbst hängen.",
    "bad_url": "Das ist keine gültige URL.",
    "bad_url_scheme": "Die URL muss mit ws:// oder wss:// beginnen.",
    "bad_client_id": "Keine Leerzeichen und keines von : / ? # %.",
    "not_pem_cert": "Das ist kein PEM-Zertifikat.",
    "not_pem_key": "Das ist kein privater PEM-Schlüssel.",
    "key_needed": "Das Zertifikat braucht seinen Schlüssel.",
    "cert_needed": "Der Schlüssel braucht sein Zertifikat.",
    "key_mismatch": "Der Schlüssel gehört nicht zum Zertifikat.",
    "bad_date": "Bitte ein Datum eingeben (JJJJ-MM-TT).",
    "bad_month": "Bitte einen Monat eingeben (JJJJ-MM).",
    "between": "Muss zwischen {lo} und {hi} liegen.",
}

CATALOGUE: Mapping[str, Mapping[str, str]] = {"en": EN, "de": DE}
#: parameters that are numbers, written with the page's decimal mark
_NUMBERS = frozenset({"gt", "ge", "lt", "le", "max", "parent_a"})


def _key(code: str, params: Mapping[str, Any]) -> str:
    if code == "string_too_short" and params.get("min_length") == 1:
        return "required"  # an empty required text field
    return code


def _value(key: str, value: Any, lang: str) -> str:
    if key in _NUMBERS and isinstance(value, int | float) and not isinstance(value, bool):
        return amount(value, lang)
    text = str(value)
    return text.replace("'", "") if key == "expected" else text


def message(error: Mapping[str, Any], lang: str) -> str:
    """The sentence for one mistake in `lang`, or its English message if the code is unknown."""
    code = str(error.get("code") or "")
    params: Mapping[str, Any] = error.get("params") or {}
    table = CATALOGUE.get(lang, EN)
    template = table.get(_key(code, params))
    if template is None:
        return str(error.get("message", ""))
    values = {k: _value(k, v, lang) for k, v in params.items()}
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError):
        return str(error.get("message", ""))


def worded_errors(errors: list[dict[str, Any]], lang: str) -> list[dict[str, Any]]:
    """The API's 422 body items: field, message in `lang`, and the code for clients."""
    out = []
    for e in errors:
        item = {"field": e.get("field", "body"), "message": message(e, lang)}
        if e.get("code"):
            item["code"] = e["code"]
        out.append(item)
    return out
