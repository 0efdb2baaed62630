"""Turn a JSON schema (as pydantic writes it) into form fields the templates can render.

Every device, circuit and settings form is built from the schema the manager publishes, so a
new driver field shows up in the UI without touching a template. The browser script converts
values back by each field's `type` and sends JSON; the server validates and names bad fields.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from manager.service import is_secret
from web.i18n import FIELD_LABELS, ROLE_WORDS

#: keys that are never edited in a form (identity, bookkeeping)
SKIP_KEYS = frozenset({"id", "kind", "driver"})
OPTION_WORDS = {
    "pv": "PV",
    "evse": "Wallbox",
    "accept": "Accept",
    "known": "Known",
    "minpv": "Min+Solar",
    "1p": "1 phase",
    "3p": "3 phases",
}


@dataclass
class FormField:
    name: str  # dotted path as sent in the JSON body, e.g. "site.max_current_a"
    key: str  # last segment
    label: str
    widget: str  # text | number | select | checkbox | password
    type: str  # string | integer | number | boolean
    value: str = ""
    checked: bool = False
    nullable: bool = False
    required: bool = False
    help: str = ""
    options: list[tuple[str, str]] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"
    secret_set: bool = False
    unit: str = ""
    multiline: bool = False  # PEM text: a textarea


def _resolve(schema: Mapping[str, Any], root: Mapping[str, Any]) -> Mapping[str, Any]:
    """Follow $ref and single-entry allOf so the caller sees the real type."""
    seen = 0
    while seen < 10:
        seen += 1
        ref = schema.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target: Any = root
            for part in ref[2:].split("/"):
                target = target.get(part, {}) if isinstance(target, Mapping) else {}
            merged = dict(target)
            merged.update({k: v for k, v in schema.items() if k != "$ref"})
            schema = merged
            continue
        all_of = schema.get("allOf")
        if isinstance(all_of, list) and len(all_of) == 1:
            merged = dict(all_of[0])
            merged.update({k: v for k, v in schema.items() if k != "allOf"})
            schema = merged
            continue
        break
    return schema


def _unwrap_nullable(
    schema: Mapping[str, Any], root: Mapping[str, Any]
) -> tuple[Mapping[str, Any], bool]:
    schema = _resolve(schema, root)
    variants = schema.get("anyOf") or schema.get("oneOf")
    if isinstance(variants, list):
        non_null = [v for v in variants if _resolve(v, root).get("type") != "null"]
        if len(non_null) == 1 and len(non_null) < len(variants):
            inner = dict(_resolve(non_null[0], root))
            for k in ("title", "description", "default"):
                if k in schema:
                    inner[k] = schema[k]
            return inner, True
    typ = schema.get("type")
    if isinstance(typ, list) and "null" in typ:
        rest = [t for t in typ if t != "null"]
        inner = dict(schema)
        inner["type"] = rest[0] if rest else "string"
        return inner, True
    return schema, False


UNIT_SUFFIXES = ((" a", " (A)"), (" w", " (W)"), (" s", " (s)"), (" wh", " (Wh)"), (" v", " (V)"))


def humanize(key: str) -> str:
    words = key.replace("_", " ").strip()
    for suffix, unit in UNIT_SUFFIXES:
        if words.endswith(suffix):
            words = words[: -len(suffix)] + unit
            break
    return words[:1].upper() + words[1:]


def option_label(value: Any, translate: Callable[[str], str], key: str = "") -> str:
    """Enum values as words: "off" -> "Off" (or its translation); codes stay as they are.
    A meter's role has words of its own ("pv" is also a charge mode, worded differently)."""
    text = _fmt(value)
    if key == "role" and text in ROLE_WORDS:
        return translate(ROLE_WORDS[text])
    translated = translate(text)
    if translated != text:
        return translated
    if text in OPTION_WORDS:
        return translate(OPTION_WORDS[text])
    if text.isalpha() and text.islower():
        return translate(text.capitalize())
    return text


def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def fields_from_schema(
    schema: Mapping[str, Any],
    values: Mapping[str, Any] | None = None,
    *,
    prefix: str = "",
    choices: Mapping[str, Sequence[tuple[str, str]]] | None = None,
    skip: Iterable[str] = SKIP_KEYS,
    translate: Callable[[str], str] = lambda s: s,
    root: Mapping[str, Any] | None = None,
    labels: Mapping[str, str] = FIELD_LABELS,
) -> list[FormField]:
    """One FormField per property of an object schema, with current values filled in.

    `choices` turns a key into a select with the given (value, label) options (e.g. the circuit
    of a device). Secrets are never filled in: only whether one is set (`<key>_set`).
    """
    root = root if root is not None else schema
    schema = _resolve(schema, root)
    values = values or {}
    skip = set(skip)
    required = set(schema.get("required", ()))
    out: list[FormField] = []
    for key, raw in (schema.get("properties") or {}).items():
        if key in skip or key.endswith("_set"):
            continue
        prop, nullable = _unwrap_nullable(raw, root)
        typ = _type(prop)
        if typ == "object":
            continue  # nested objects get their own section, not an input
        f = FormField(
            name=prefix + key,
            key=key,
            label=translate(_title(key, prop, labels, prefix)),
            widget="text",
            type=typ if typ in ("string", "integer", "number", "boolean") else "string",
            nullable=nullable,
            required=key in required,
            help=translate(str(prop.get("description", ""))),
        )
        value = values.get(key, prop.get("default"))
        _widget(f, prop, typ, value, (choices or {}).get(key), translate)
        _secret(f, prop, typ, values)
        out.append(f)
    return out


def _type(prop: Mapping[str, Any]) -> str:
    """The JSON type of a property, `null` left out of a list of types."""
    typ = prop.get("type", "string")
    if isinstance(typ, list):
        typ = next((t for t in typ if t != "null"), "string")
    return str(typ)


def _secret(f: FormField, prop: Mapping[str, Any], typ: str, values: Mapping[str, Any]) -> None:
    """A secret text field becomes a password input that only says whether one is set; PEM
    text and private keys get a textarea."""
    if f.widget == "text" and typ != "array" and is_secret(f.key, prop):
        f.widget, f.value = "password", ""
        f.secret_set = bool(values.get(f"{f.key}_set"))
    f.multiline = (
        f.multiline or f.key.endswith("_pem") or (f.widget == "password" and "key" in f.key)
    )


def _title(key: str, prop: Mapping[str, Any], labels: Mapping[str, str], prefix: str) -> str:
    """The field's label (English): ours, else the schema's own unless it is pydantic's
    automatic one, which `humanize` words better."""
    title = labels.get(prefix + key) or labels.get(key) or prop.get("title")
    if not title or title == key.replace("_", " ").title():
        return humanize(key)
    return str(title)


def _widget(
    f: FormField,
    prop: Mapping[str, Any],
    typ: str,
    value: Any,
    choices: Sequence[tuple[str, str]] | None,
    translate: Callable[[str], str],
) -> None:
    """The input for one field: a select for choices, enums and constants, a checkbox, a
    number, JSON for a list of objects, else text (the caller turns secrets into passwords)."""
    f.value = _fmt(value)
    if choices is not None or "enum" in prop or "const" in prop:
        _select(f, prop, choices, translate)
    elif typ == "boolean":
        f.widget, f.value = "checkbox", ""
        f.checked = bool(value)
    elif typ in ("integer", "number"):
        f.widget = "number"
        f.step = "1" if typ == "integer" else "any"
        lo = prop.get("minimum", prop.get("exclusiveMinimum"))
        hi = prop.get("maximum", prop.get("exclusiveMaximum"))
        f.minimum = lo if isinstance(lo, int | float) else None
        f.maximum = hi if isinstance(hi, int | float) else None
    elif typ == "array":  # a list of objects (a box's schedules): edited as JSON
        f.type, f.multiline = "json", True
        f.value = json.dumps(value if value is not None else [], ensure_ascii=False)


def _select(
    f: FormField,
    prop: Mapping[str, Any],
    choices: Sequence[tuple[str, str]] | None,
    translate: Callable[[str], str],
) -> None:
    """A select: the caller's choices, else the enum's values in words, else the one constant."""
    f.widget = "select"
    if choices is not None:
        f.options = list(choices)
    elif "enum" in prop:
        enum = [v for v in prop["enum"] if v is not None]
        f.options = [(_fmt(v), option_label(v, translate, f.key)) for v in enum]
    else:
        f.options = [(_fmt(prop["const"]), option_label(prop["const"], translate))]
        f.value = _fmt(prop["const"])
        return
    if f.nullable:
        f.options.insert(0, ("", "—"))


def object_sections(schema: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """The nested object properties of a schema (e.g. settings: site, ocpp), resolved."""
    out: list[tuple[str, Mapping[str, Any]]] = []
    for key, raw in (_resolve(schema, schema).get("properties") or {}).items():
        prop, _ = _unwrap_nullable(raw, schema)
        if prop.get("type") == "object" or "properties" in prop:
            out.append((key, prop))
    return out
