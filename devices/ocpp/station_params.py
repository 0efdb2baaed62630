"""Admin station actions: their plain-named parameters, checked all at once, per OCPP version.

An action's body uses plain field names (`connector_id`, `id_tag`, `type`, ...). Each field is
declared once with its type and bounds; `check` returns the values or every mistake at once, so
the API can answer one 422 that names them all. The OCPP payload built from the values is then
checked against the official schema of the request too, so a box never sees a request it could
refuse as malformed.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from devices.ocpp.routing import validator_for
from manager.model import StationInputError


class BadParams(StationInputError):
    """Parameters an admin got wrong: every mistake, as `{"field", "message"}` rows."""

    @classmethod
    def one(cls, field: str, message: str) -> BadParams:
        return cls([{"field": field, "message": message}])


@dataclass(frozen=True)
class Field:
    """One parameter: `kind` is int, str, bool, list (of text) or any (JSON as given)."""

    name: str
    kind: str = "str"
    required: bool = False
    choices: tuple[str, ...] = ()
    lo: int | None = None
    hi: int | None = None
    max_len: int | None = None
    default: Any = None


def _int(f: Field, value: Any) -> tuple[Any, str | None]:
    if type(value) is not int:
        return None, "expected a whole number"
    if (f.lo is not None and value < f.lo) or (f.hi is not None and value > f.hi):
        return None, f"must be between {f.lo} and {f.hi}"
    return value, None


def _text(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, str) or not value.strip():
        return None, "expected text"
    if f.choices and value not in f.choices:
        return None, "one of " + ", ".join(f.choices)
    if f.max_len is not None and len(value) > f.max_len:
        return None, f"at most {f.max_len} characters"
    return value, None


def _names(f: Field, value: Any) -> tuple[Any, str | None]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        return None, "expected a list of names"
    return value, None


def _bool(f: Field, value: Any) -> tuple[Any, str | None]:
    return (value, None) if isinstance(value, bool) else (None, "expected true or false")


_KINDS = {
    "int": _int,
    "str": _text,
    "list": _names,
    "bool": _bool,
    "any": lambda f, value: (value, None),
}


def check(params: Any, fields: tuple[Field, ...]) -> dict[str, Any]:
    """The values of `fields` from `params`; raises BadParams with every mistake at once."""
    if not isinstance(params, Mapping):
        raise BadParams.one("body", "expected a JSON object")
    known = {f.name for f in fields}
    errors = [
        {"field": str(k), "message": "unknown field"}
        for k in sorted(map(str, params))
        if k not in known
    ]
    values: dict[str, Any] = {}
    for f in fields:
        value = params.get(f.name)
        if value is None:
            if f.required:
                errors.append({"field": f.name, "message": "required"})
            values[f.name] = f.default
            continue
        typed, problem = _KINDS[f.kind](f, value)
        if problem is not None:
            errors.append({"field": f.name, "message": problem})
        values[f.name] = typed
    if errors:
        raise BadParams(errors)
    return values


def check_payload(action: str, version: str, payload: dict[str, Any]) -> None:
    """The built request against the official OCPP schema (a last guard; field names are the
    OCPP ones then)."""
    validator, payload = validator_for(version, action, payload)
    errors = [
        {
            "field": ".".join(str(p) for p in e.absolute_path) or "body",
            "message": e.message,
        }
        for e in validator.iter_errors(payload)
    ]
    if errors:
        raise BadParams(errors)


# ------------------------------------------------------------------------------ field tables

RESET = {"1.6": ("Soft", "Hard"), "2.0.1": ("Immediate", "OnIdle")}
PURPOSES = {
    "1.6": ("ChargePointMaxProfile", "TxDefaultProfile", "TxProfile"),
    "2.0.1": (
        "ChargingStationExternalConstraints",
        "ChargingStationMaxProfile",
        "TxDefaultProfile",
        "TxProfile",
    ),
}
TRIGGERS = {
    "1.6": (
        "BootNotification",
        "DiagnosticsStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "StatusNotification",
    ),
    "2.0.1": (
        "BootNotification",
        "LogStatusNotification",
        "FirmwareStatusNotification",
        "Heartbeat",
        "MeterValues",
        "SignChargingStationCertificate",
        "SignV2GCertificate",
        "StatusNotification",
        "TransactionEvent",
        "SignCombinedCertificate",
        "PublishFirmwareStatusNotification",
    ),
}
TAG_LEN = {"1.6": 20, "2.0.1": 36}
PRIORITIES = ("AlwaysFront", "InFront", "NormalCycle")

CONNECTOR = Field("connector_id", "int", lo=0, hi=99)
CONNECTOR_1 = Field("connector_id", "int", lo=1, hi=99)


def fields(action: str, version: str) -> tuple[Field, ...]:
    """The parameters of `action` for a box speaking `version`."""
    tag = Field("id_tag", required=True, max_len=TAG_LEN[version])
    table: dict[str, tuple[Field, ...]] = {
        "profiles": (CONNECTOR, Field("duration_s", "int", lo=1, hi=86400, default=3600),
                     Field("unit", choices=("A", "W"))),
        "clear_profiles": (Field("id", "int", lo=-(2**31), hi=2**31 - 1), CONNECTOR,
                           Field("purpose", choices=PURPOSES[version]),
                           Field("stack_level", "int", lo=0, hi=1000)),
        "reset": (Field("type", choices=RESET[version],
                        default="Soft" if version == "1.6" else "OnIdle"),),
        "unlock": (Field("connector_id", "int", required=True, lo=1, hi=99),
                   Field("connector", "int", lo=1, hi=99, default=1)),
        "availability": (Field("operative", "bool", required=True), CONNECTOR),
        "trigger": (Field("message", required=True, choices=TRIGGERS[version]), CONNECTOR_1),
        "remote_start": (tag, CONNECTOR_1),
        "remote_stop": (Field("transaction_id", "any"), CONNECTOR_1),
        "configuration": (Field("keys", "list"),),
        "configure": (Field("key", required=True, max_len=200),
                      Field("value", required=True, max_len=1000)),
        "data_transfer": (Field("vendor_id", required=True, max_len=255),
                          Field("message_id", max_len=50), Field("data", "any")),
        "reserve": (Field("connector_id", "int", required=True, lo=0, hi=99), tag,
                    Field("minutes", "int", lo=1, hi=1440, default=30),
                    Field("reservation_id", "int", lo=1, hi=2**31 - 1)),
        "cancel_reservation": (Field("reservation_id", "int", required=True, lo=1,
                                     hi=2**31 - 1),),
        "display": (Field("operation", choices=("set", "get", "clear"), default="set"),
                    Field("message", max_len=512), Field("id", "int", lo=1, hi=2**31 - 1),
                    Field("priority", choices=PRIORITIES, default="NormalCycle"),
                    Field("minutes", "int", lo=1, hi=10080)),
        "firmware": (Field("location", required=True, max_len=512),
                     Field("retrieve_in_s", "int", lo=0, hi=7 * 86400, default=0),
                     Field("retries", "int", lo=0, hi=100),
                     Field("retry_interval_s", "int", lo=0, hi=86400),
                     *((Field("signing_certificate", max_len=5500),
                        Field("signature", max_len=800)) if version == "2.0.1" else ())),
        "logs": (Field("location", required=True, max_len=512),
                 Field("log_type", choices=("DiagnosticsLog", "SecurityLog"),
                       default="DiagnosticsLog"),
                 Field("retries", "int", lo=0, hi=100),
                 Field("retry_interval_s", "int", lo=0, hi=86400)),
        "certificates": (Field("operation", choices=("list", "install", "delete", "renew"),
                               default="list"),
                         Field("certificate_type", max_len=50),
                         Field("hash_algorithm", choices=("SHA256", "SHA384", "SHA512"),
                               default="SHA256"),
                         Field("issuer_name_hash", max_len=128),
                         Field("issuer_key_hash", max_len=128),
                         Field("serial_number", max_len=40)),
    }  # fmt: skip
    return table[action]
