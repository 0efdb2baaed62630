"""OpenAPI parts of the users feature: the user schema, a wallbox's authorization fields, and
the paths of teach-in, session reports, login links and self-service.

Kept beside web/openapi.py, which merges them; the shapes follow its helpers' conventions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

Op = Callable[..., dict[str, Any]]
OBJ: dict[str, Any] = {"type": "object"}
E422 = {"$ref": "#/components/responses/Invalid"}
E404 = {"$ref": "#/components/responses/NotFound"}
E403 = {"$ref": "#/components/responses/Forbidden"}


def user_schema(id_pattern: str, name: dict[str, Any]) -> dict[str, Any]:
    """An RFID user as the API takes and shows it (PIN and password are write-only)."""
    ID_PATTERN, _NAME = id_pattern, name
    return {
        "type": "object",
        "properties": {
            "id": {"type": "string", "pattern": ID_PATTERN},
            "name": _NAME,
            "tags": {
                "type": "array",
                "items": {"type": "string", "maxLength": 36},
                "description": "RFID tags (printable ASCII; OCPP 1.6 boxes read at most 20)",
            },
            "id_tag": {
                "type": "string",
                "writeOnly": True,
                "deprecated": True,
                "description": "Old single tag; taken into tags",
            },
            "pin": {"type": ["string", "null"], "writeOnly": True, "pattern": "^\\d{4,8}$"},
            "pin_set": {"type": "boolean", "readOnly": True},
            "password": {"type": ["string", "null"], "writeOnly": True},
            "password_set": {"type": "boolean", "readOnly": True},
            "evses": {
                "type": "array",
                "items": {"type": "string"},
                "description": "Wallboxes (device ids) this user may use; empty: all",
            },
            "max_current_a": {"type": ["number", "null"], "minimum": 6, "maximum": 80},
            "phases": {"anyOf": [{"enum": [1, 3]}, {"type": "null"}]},
            "charge_mode": {
                "anyOf": [{"enum": ["off", "now", "minpv", "pv", "plan"]}, {"type": "null"}]
            },
            "priority": {"type": ["integer", "null"], "minimum": 0, "maximum": 9},
            "expires": {"type": ["string", "null"], "format": "date-time"},
            "enabled": {"type": "boolean"},
        },
        "required": ["name"],
    }


def device_fields() -> dict[str, Any]:
    """A wallbox's fields for authorization (who may charge, and whose sessions they are)."""
    return {
        "charge_mode": {"type": "string", "enum": ["off", "now", "minpv", "pv", "plan"]},
        "authorization": {"type": "string", "enum": ["free", "local", "gateway"]},
        "default_user": {"type": ["string", "null"], "maxLength": 40},
    }


def session_schema(number: dict[str, Any]) -> dict[str, Any]:
    """One charging session: who, where, how authorized, energy and signed data as sent."""
    text = {"type": ["string", "null"]}
    return {
        "type": "object",
        "properties": {
            "id": {"type": "integer"},
            "evse": text,
            "box": text,
            "connector": {"type": ["integer", "null"]},
            "id_tag": text,
            "user": text,
            "method": text | {"description": "local, backend, free, remote or fallback"},
            "result": text | {"description": "the status the tag got (Accepted, ...)"},
            "started_at": {"type": "string", "format": "date-time"},
            "stopped_at": {"type": ["string", "null"], "format": "date-time"},
            "energy_wh": number,
            "stop_reason": text,
            "signed_data": {"type": "array", "description": "signed meter values as sent"},
        },
    }


def _file(media: str, description: str) -> dict[str, Any]:
    return {"description": description, "content": {media: {"schema": {"type": "string"}}}}


def paths(op: Op, ok: Callable[[dict[str, Any]], dict[str, Any]],
          body: Callable[..., dict[str, Any]], filters: list[dict[str, Any]],
          id_param: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
    teach = OBJ | {"description": "user, result (waiting/assigned/timeout/cancelled), "
                                  "remaining_s, tag, box"}  # fmt: skip
    month = filters
    mine = [f for f in filters if f["name"] != "user"]
    sessions = {"type": "array", "items": {"$ref": "#/components/schemas/Session"}}
    return {
        "/api/sessions": {
            "get": op(
                "Charging sessions, oldest first",
                {"200": ok(sessions), "422": E422},
                params=month,
                tag="sessions",
                op_id="sessions",
            ),
        },
        "/api/sessions.csv": {
            "get": op(
                "Charging sessions as CSV (energy in kWh; file named by user and month)",
                {"200": _file("text/csv", "CSV"), "422": E422},
                params=month,
                tag="sessions",
                op_id="sessionsCsv",
            ),
        },
        "/api/teach-in": {
            "get": op("The teach-in window", {"200": ok(teach)}, tag="users", op_id="teachIn"),
            "post": op(
                "Add card: the next unknown tag at any box goes to this user (60 s)",
                {"200": ok(teach), "422": E422},
                body=body(OBJ, '{"user": id}'),
                tag="users",
                op_id="startTeachIn",
            ),
            "delete": op(
                "Cancel the teach-in window", {"200": ok(teach)}, tag="users", op_id="cancelTeachIn"
            ),
        },
        "/api/users/{id}/login-link": {
            "parameters": [id_param],
            "post": op(
                "A one-time login link for this user (7 days)",
                {"200": ok(OBJ), "404": E404},
                tag="users",
                op_id="loginLink",
            ),
        },
        "/api/sessions/totals": {
            "get": op(
                "Sessions and energy per user and month",
                {"200": ok({"type": "array", "items": OBJ}), "422": E422},
                params=month,
                tag="sessions",
                op_id="sessionTotals",
            ),
        },
        "/api/sessions/signed": {
            "get": op(
                "Signed meter data as the boxes sent it, one record per line",
                {"200": _file("text/plain", "OCMF and other signed records"), "422": E422},
                params=month,
                tag="sessions",
                op_id="signedData",
            ),
        },
        "/api/me": {
            "get": op(
                "A user's own login: name, tags, boxes with their charge mode",
                {"200": ok(OBJ), "403": E403, "422": E422},
                tag="self-service",
                op_id="me",
            ),
        },
        "/api/me/sessions": {
            "get": op(
                "A user's own sessions",
                {"200": ok({"type": "array", "items": OBJ}), "422": E422},
                params=mine,
                tag="self-service",
                op_id="mySessions",
            ),
        },
        "/api/me/sessions.csv": {
            "get": op(
                "A user's own sessions as CSV",
                {"200": _file("text/csv", "CSV"), "422": E422},
                params=mine,
                tag="self-service",
                op_id="mySessionsCsv",
            ),
        },
        "/api/me/evses/{id}": {
            "parameters": [id_param],
            "patch": op(
                "Switch the charge mode of a box this user may use",
                {"200": ok(OBJ), "404": E404, "422": E422},
                body=body(OBJ, '{"charge_mode": "pv"}'),
                tag="self-service",
                op_id="setMyChargeMode",
            ),
        },
    }
