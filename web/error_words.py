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
}

CATALOGUE: Mapping[str, Mapping[str, str]] = {"en": EN, "de": DE}
#: parameters that are numbers, written with the page's decimal mark
_NUMBERS = frozenset({"gt", "ge", "lt", "le", "max", "min", "parent_a"})


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
