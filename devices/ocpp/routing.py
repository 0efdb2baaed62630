"""Incoming requests other than the hot three: the route table and the schema check.

A handler is a plain method marked `@handles("Action")`. It gets the payload exactly as the box
sent it (camelCase, signed meter data untouched) and returns the reply payload. Before it runs
the payload is checked against the official OCPP JSON schema that ships with the `ocpp`
library; its reply is checked too. The error codes for a failed check are the ones the
library's own ChargePoint sends, so boxes see the same answers as before. Work that must
happen after the reply went out (a request back to the box) is queued with
`OcppConnection.after_reply`. Why not the library's ChargePoint: see docs/ocpp.md, "Design".
"""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any, TypeVar

import ocpp
from jsonschema import Draft4Validator
from jsonschema.exceptions import ValidationError as SchemaError
from ocpp.messages import MessageType, get_validator

from devices.ocpp.errors import BadMessage

F = TypeVar("F", bound=Callable[..., Any])

#: 1.6 requests with `multipleOf: 0.1` limits: checked with decimals, as the library does
_DECIMAL_16 = frozenset({"SetChargingProfile", "RemoteStartTransaction"})
#: jsonschema keyword -> OCPP error code, as the `ocpp` library maps them
_CODES = {
    "type": "TypeConstraintViolation",
    "maxLength": "TypeConstraintViolation",
    "additionalProperties": "FormatViolation",
    "required": "ProtocolError",
}


def handles(action: str, *, strict: bool = True) -> Callable[[F], F]:
    """Mark a method as the handler of an incoming `action` (stackable: one method may
    handle the 1.6 and the 2.0.1 name of a command).

    strict=False skips the schema check; real boxes send BootNotifications that break it
    (long serial numbers, odd firmware strings), and a refused boot would lock them out.
    """

    def mark(fn: F) -> F:
        routes = getattr(fn, "ocpp_routes", ())
        fn.ocpp_routes = (*routes, (action, strict))  # type: ignore[attr-defined]
        return fn

    return mark


def route_table(cls: type) -> dict[str, tuple[str, bool]]:
    """action -> (method name, strict) over the class and its bases; a subclass method of the
    same name replaces the base's handler, a new name for the same action wins."""
    table: dict[str, tuple[str, bool]] = {}
    for klass in reversed(cls.__mro__):
        for name, value in vars(klass).items():
            for action, strict in getattr(value, "ocpp_routes", ()):
                table[action] = (name, strict)
    return table


def check(version: str, action: str, payload: dict[str, Any], *, reply: bool = False) -> None:
    """Raise BadMessage with the library's error code if `payload` breaks the schema
    (FormatViolation also in 1.6, as the library's ChargePoint answers)."""
    try:
        validator, payload = validator_for(version, action, payload, reply=reply)
    except OSError:
        raise BadMessage("NotImplemented", f"no schema for {action}") from None
    try:
        validator.validate(payload)
    except SchemaError as exc:
        code = _CODES.get(str(exc.validator), "FormatViolation")
        where = ".".join(str(p) for p in exc.absolute_path)
        what = f"{where}: {exc.message}" if where else exc.message
        if reply:  # our own answer is wrong: a bug here, not the box's fault
            raise BadMessage("InternalError", f"reply to {action} not valid: {what}") from None
        raise BadMessage(code, what) from None


def validator_for(
    version: str, action: str, payload: dict[str, Any], *, reply: bool = False
) -> tuple[Draft4Validator, dict[str, Any]]:
    """The schema validator for a message and the payload as it must be checked: 1.6 limits
    as Decimal, so 7.3 A passes `multipleOf 0.1` (as a float it does not)."""
    if version == "1.6" and not reply and action in _DECIMAL_16:
        return _decimal_validator(action), json.loads(json.dumps(payload), parse_float=Decimal)
    kind = MessageType.CallResult if reply else MessageType.Call
    return get_validator(kind, action, version), payload


@cache
def _decimal_validator(action: str) -> Draft4Validator:
    """Own cache: the library caches one validator per schema, float or Decimal, whichever
    was asked for first, and a float payload against a Decimal schema fails."""
    path = Path(ocpp.__file__).parent / "v16" / "schemas" / f"{action}.json"
    return Draft4Validator(json.loads(path.read_text("utf-8-sig"), parse_float=Decimal))


def compact(value: Any) -> Any:
    """Drop None values (optional fields left out), as the library does with its payloads."""
    if isinstance(value, dict):
        return {k: compact(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [compact(v) for v in value]
    return value
