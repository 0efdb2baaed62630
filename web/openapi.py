"""The OpenAPI 3.1 description of /api, written by hand so it documents the contract, not code.

Device and settings fields depend on the installed drivers; their full JSON schemas are served
at /api/schemas and /api/drivers, and this document points there.
"""

from __future__ import annotations

from typing import Any

from manager.model import ROTATIONS, MeterRole
from web import openapi_users
from web.openapi_stations import station_paths

JSON = "application/json"
#: as manager.config.ID_PATTERN and manager.auth.MIN_PASSWORD (web sees only the facade and
#: manager.model); the contract test checks that they agree
ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,39}$"
MIN_PASSWORD = 4


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _ok(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def _answer(description: str, schema: str = "Error") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": _ref(schema)}}}


def _body(schema: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {"required": True, "description": description, "content": {JSON: {"schema": schema}}}


_E422 = {"$ref": "#/components/responses/Invalid"}
_E404 = {"$ref": "#/components/responses/NotFound"}


def _op(
    summary: str,
    responses: dict[str, Any],
    *,
    body: dict[str, Any] | None = None,
    params: list[dict[str, Any]] | None = None,
    tag: str,
    op_id: str,
    changes: bool = False,
) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": op_id,
        "tags": [tag],
        "responses": {
            **responses,
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
    if body is not None:
        op["requestBody"] = body
    if body is not None or changes:
        op["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
        op["responses"]["503"] = {"$ref": "#/components/responses/WriteFailed"}
        op["responses"]["507"] = {"$ref": "#/components/responses/WriteFailed"}
    if params:
        op["parameters"] = params
    return op


def _q(name: str, description: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema or {"type": "string"},
    }


_ID = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
_TRIPLE = {"type": "array", "items": {"type": ["number", "null"]}, "minItems": 3, "maxItems": 3}
_NUM = {"type": ["number", "null"]}
_NAME = {"type": "string", "minLength": 1, "maxLength": 64}
_STATUSES = ["no_car", "connected", "charging", "paused", "error", "offline", "disabled"]


def _object(properties: dict[str, Any]) -> dict[str, Any]:
    """An object whose properties are all required."""
    return {"type": "object", "properties": properties, "required": list(properties)}


def _text(longest: int, *, null: bool = False) -> dict[str, Any]:
    return {"type": ["string", "null"] if null else "string", "maxLength": longest}


def _int(lo: int, hi: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    return schema if default is None else {**schema, "default": default}


def _num(lo: float, hi: float | None = None, *, above: bool = False, null: bool = False) -> dict:
    """A number schema with the limits the server enforces (`above`: lo itself is refused)."""
    schema: dict[str, Any] = {"type": ["number", "null"] if null else "number"}
    schema["exclusiveMinimum" if above else "minimum"] = lo
    if hi is not None:
        schema["maximum"] = hi
    return schema


def _schemas() -> dict[str, Any]:
    return {
        "Error": _object({"error": {"type": "string"}}),
        "Invalid": {
            "type": "object",
            "properties": {
                "errors": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "field": {"type": "string", "description": "dotted path"},
                            "message": {"type": "string"},
                        },
                        "required": ["field", "message"],
                    },
                }
            },
            "required": ["errors"],
        },
        "State": {
            "type": "object",
            "description": "Live snapshot, published about once per control cycle.",
            "properties": {
                "ts": {"type": "string", "format": "date-time"},
                "site": {
                    "type": "object",
                    "properties": {
                        "limit_a": _TRIPLE,
                        "grid_a": _TRIPLE,
                        "grid_w": _NUM,
                        "pv_w": _NUM,
                        "charge_w": _NUM,
                        "reserve_a": _NUM,
                        "safe_mode": {"type": "boolean"},
                        "safe_reason": {"type": ["string", "null"]},
                    },
                },
                "evses": {"type": "array", "items": _ref("EvseState")},
                "meters": {"type": "array", "items": _ref("MeterState")},
                "charge_points": {"type": "array", "items": _ref("ChargePoint")},
                "circuits": {"type": "array", "items": {"type": "object"}},
            },
        },
        "EvseState": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "driver": {"type": "string"},
                "enabled": {"type": "boolean"},
                "online": {"type": "boolean"},
                "status": {"type": "string", "enum": _STATUSES},
                "current_a": _TRIPLE,
                "setpoint_a": _NUM,
                "reason": {"type": ["string", "null"], "description": "why, in words"},
                "power_w": _NUM,
                "session_wh": _NUM,
                "user": {"type": ["string", "null"]},
                "detail": {"type": ["string", "null"]},
                "circuit": {"type": ["string", "null"]},
                "phases": {"type": "integer"},
                "priority": {"type": "integer"},
                "deactivation": {
                    "type": ["string", "null"],
                    "description": "result of the last deactivation (profiles cleared...)",
                },
                "gateway": {
                    "oneOf": [_ref("GatewayState"), {"type": "null"}],
                    "description": "the gateway to a billing backend; null: none configured",
                },
            },
        },
        "GatewayState": {
            "type": "object",
            "properties": {
                "connected": {"type": "boolean", "description": "booted at the backend"},
                "since": {"type": ["number", "null"], "description": "connected since (epoch s)"},
                "error": {
                    "type": ["string", "null"],
                    "description": "last failure as a code: http_401, http_<status>, "
                    "certificate_untrusted, tls_failed, unreachable, unknown_host, protocol, "
                    "closed, other",
                },
                "detail": {"type": ["string", "null"], "description": "the failure in detail"},
                "queued": {"type": "integer", "description": "transaction messages waiting"},
                "limit_a": {"type": ["number", "null"], "description": "the backend's cap (A)"},
                "insecure": {"type": "boolean", "description": "certificate not checked"},
                "protocol": {"type": "string", "enum": ["ocpp1.6", "ocpp2.0.1"]},
            },
        },
        "MeterState": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "name": {"type": "string"},
                "role": {"type": "string", "enum": ["grid", "pv", "battery", "consumer", "evse"]},
                "online": {"type": "boolean"},
                "current_a": _TRIPLE,
                "power_w": _NUM,
                "energy_wh": _NUM,
                "error": {"type": ["string", "null"]},
            },
        },
        "ChargePoint": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "description": "ChargeBox ID"},
                "vendor": {"type": ["string", "null"]},
                "model": {"type": ["string", "null"]},
                "connected": {"type": "boolean"},
                "configured": {"type": "boolean"},
            },
        },
        "Device": {
            "type": "object",
            "description": (
                "Common fields below plus the driver's own fields (see /api/drivers). "
                "Secrets are write-only: responses carry `<name>_set` instead."
            ),
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "name": _NAME,
                "kind": {"type": "string", "enum": ["evse", "meter"]},
                "driver": {"type": "string", "minLength": 1},
                "enabled": {"type": "boolean"},
                "address": {"type": "string", "maxLength": 256},
                "circuit": {"type": "string"},
                "min_current_a": _num(0, 80),
                "max_current_a": _num(0, 80, above=True),
                "phases": {"type": "integer", "enum": [1, 3]},
                "phase_rotation": {"type": "string", "enum": list(ROTATIONS)},
                "priority": _int(0, 9),
                "role": {"type": "string", "enum": [r.value for r in MeterRole]},
                "gateway_url": {**_text(512), "description": "ws:// or wss://; empty: none"},
                "gateway_client_id": _text(48),
                "gateway_password": {**_text(128, null=True), "writeOnly": True},
                "gateway_protocol": {"type": "string", "enum": ["ocpp1.6", "ocpp2.0.1"]},
                "gateway_ca_pem": _text(65536),
                "gateway_client_cert_pem": _text(65536),
                "gateway_client_key": {**_text(65536, null=True), "writeOnly": True},
                "gateway_verify_tls": {"type": "boolean"},
                "gateway_auth_fallback": {"type": "string", "enum": ["refuse", "local", "anyone"]},
                **openapi_users.device_fields(),
            },
            "additionalProperties": True,
        },
        "Circuit": {
            "type": "object",
            "properties": {
                "id": {"type": "string", "pattern": ID_PATTERN},
                "name": _NAME,
                "parent": {"type": ["string", "null"]},
                "max_current_a": _num(0, 2000, above=True),
                "max_power_w": _num(0, above=True, null=True),
                "max_unbalance_a": _num(0, 200, above=True, null=True),
                "reserve_a": _num(0, 100),
                "meter": {"type": ["string", "null"]},
            },
        },
        "Settings": {
            "type": "object",
            "description": "Sections `site` and `ocpp`; full schema at /api/schemas.",
            "properties": {
                "site": {
                    "type": "object",
                    "properties": {
                        "max_current_a": _num(0, 2000, above=True),
                        "max_power_w": _num(0, above=True, null=True),
                        "reserve_a": _num(0, 100),
                        "max_unbalance_a": _num(0, 200, above=True, null=True),
                        "unbalance_counts_base": {"type": "boolean"},
                        "control_interval_s": _num(0.2, 60),
                        "safe_current_a": _num(0, 2000),
                        "meter_timeout_s": _num(1, 600),
                        "nominal_voltage_v": _num(100, 300),
                        "rotation_s": _num(60, 86400),
                        "resume_delay_s": _num(0, 3600),
                    },
                },
                "ocpp": {
                    "type": "object",
                    "properties": {
                        "port": _int(1, 65535),
                        "tls": {"type": "string", "enum": ["off", "detect", "on"]},
                        "password": {**_text(64, null=True), "writeOnly": True},
                        "password_set": {"type": "boolean", "readOnly": True},
                        "clear_profiles_on_deactivate": {"type": "boolean"},
                        "unknown_tags": {"type": "string", "enum": ["accept", "known"]},
                        "ca_pem": _text(65536, null=True),
                        "local_ca": {"type": "boolean"},
                        "tariff_per_kwh": _num(0, 100, null=True),
                        "show_reasons": {"type": "boolean"},
                    },
                },
            },
        },
        "User": openapi_users.user_schema(ID_PATTERN, _NAME),
        "Session": openapi_users.session_schema(_NUM),
        "Event": {
            "type": "object",
            "properties": {
                "ts": {"type": "string", "format": "date-time"},
                "kind": {"type": "string"},
                "message": {"type": "string"},
                "device": {"type": ["string", "null"]},
            },
        },
        "HistoryPoint": {
            "type": "object",
            "properties": {
                "ts": {"type": "string", "format": "date-time"},
                "grid_w": _NUM,
                "pv_w": _NUM,
                "charge_w": _NUM,
            },
        },
        "Driver": {
            "type": "object",
            "properties": {
                "name": {"type": "string"},
                "kind": {"type": "string", "enum": ["evse", "meter"]},
                "title": {"type": "string"},
                "testable": {"type": "boolean"},
                "schema": {"type": "object", "description": "JSON schema of the driver fields"},
            },
        },
        "TestResult": {
            "type": "object",
            "properties": {
                "ok": {"type": "boolean"},
                "values": {"type": "object"},
                "error": {"type": "string"},
            },
            "required": ["ok"],
        },
        "PemPair": _object({"cert_pem": {"type": "string"}, "key_pem": {"type": "string"}}),
        "PasswordChange": _object(
            {
                "old_password": {"type": "string"},
                "new_password": {"type": "string", "minLength": MIN_PASSWORD},
            }
        ),
        "Ok": {"type": "object", "properties": {"ok": {"type": "boolean"}}},
    }


def _crud(tag: str, noun: str, schema: str, *, patch: bool = True) -> dict[str, Any]:
    item = {
        "get": _op(
            f"One {noun}", {"200": _ok(_ref(schema)), "404": _E404}, tag=tag, op_id=f"get{schema}"
        ),
        "delete": _op(
            f"Delete a {noun}",
            {"204": {"description": "deleted"}, "404": _E404, "422": _E422},
            tag=tag,
            op_id=f"delete{schema}",
            changes=True,
        ),
    }
    if patch:
        item["patch"] = _op(
            f"Change some fields of a {noun}; returns the stored object",
            {"200": _ok(_ref(schema)), "404": _E404, "422": _E422},
            body=_body({"type": "object"}, "only the fields to change"),
            tag=tag,
            op_id=f"update{schema}",
        )
    return item


def _collection(tag: str, noun: str, schema: str) -> dict[str, Any]:
    return {
        "get": _op(
            f"All {noun}s",
            {"200": _ok({"type": "array", "items": _ref(schema)})},
            tag=tag,
            op_id=f"list{schema}s",
        ),
        "post": _op(
            f"Add a {noun}; returns the stored object with its id",
            {"201": _ok(_ref(schema), "created"), "422": _E422},
            body=_body(_ref(schema)),
            tag=tag,
            op_id=f"create{schema}",
        ),
    }


def document() -> dict[str, Any]:
    filters = [
        _q("since", "sessions started at or after (YYYY-MM-DD or ISO 8601)"),
        _q("until", "sessions started before; a date includes that whole day"),
        _q("evse", "device id or ChargeBox ID"),
        _q("user", "user name or RFID tag"),
        _q("month", "sessions started in this month (YYYY-MM)"),
    ]
    paths: dict[str, Any] = {
        "/api/state": {
            "get": _op(
                "Live state snapshot", {"200": _ok(_ref("State"))}, tag="live", op_id="state"
            )
        },
        "/api/events": {
            "get": _op(
                "Server-Sent Events: one `data:` JSON state snapshot per control cycle",
                {
                    "200": {
                        "description": (
                            "An endless text/event-stream: a `retry:` line, then one event per "
                            "snapshot whose `data:` line is a JSON object of schema State"
                        ),
                        "content": {
                            "text/event-stream": {
                                "schema": {"type": "string"},
                                "x-event-data": _ref("State"),
                            }
                        },
                    }
                },
                tag="live",
                op_id="events",
            )
        },
        "/api/events/log": {
            "get": _op(
                "Recent events, newest first",
                {"200": _ok({"type": "array", "items": _ref("Event")}), "422": _E422},
                params=[_q("limit", "how many, newest first", _int(1, 1000, 200))],
                tag="live",
                op_id="eventLog",
            )
        },
        "/api/history": {
            "get": _op(
                "Grid, PV and charging power, one point per minute",
                {"200": _ok({"type": "array", "items": _ref("HistoryPoint")}), "422": _E422},
                params=[_q("hours", "how far back", _int(1, 168, 24))],
                tag="live",
                op_id="history",
            )
        },
        "/api/devices": _collection("devices", "device", "Device"),
        "/api/devices/test": {
            "post": _op(
                "Read a device once with these settings, without saving",
                {"200": _ok(_ref("TestResult")), "422": _E422},
                body=_body(_ref("Device")),
                tag="devices",
                op_id="testDevice",
            )
        },
        "/api/devices/{id}": {"parameters": [_ID], **_crud("devices", "device", "Device")},
        "/api/drivers": {
            "get": _op(
                "Installed drivers and the JSON schema of their fields",
                {"200": _ok({"type": "array", "items": _ref("Driver")})},
                tag="devices",
                op_id="drivers",
            )
        },
        "/api/schemas": {
            "get": _op(
                "JSON schemas of the common device fields (per kind) and of the settings",
                {"200": _ok({"type": "object"})},
                tag="devices",
                op_id="schemas",
            )
        },
        "/api/circuits": _collection("circuits", "circuit", "Circuit"),
        "/api/circuits/{id}": {"parameters": [_ID], **_crud("circuits", "circuit", "Circuit")},
        "/api/settings": {
            "get": _op(
                "Settings", {"200": _ok(_ref("Settings"))}, tag="settings", op_id="settings"
            ),
            "patch": _op(
                "Change settings (sections and fields to change); returns all settings",
                {"200": _ok(_ref("Settings")), "422": _E422},
                body=_body(_ref("Settings")),
                tag="settings",
                op_id="updateSettings",
            ),
        },
        "/api/ocpp/certificate": {
            "get": _op(
                "The OCPP server's certificate (PEM)",
                {
                    "200": {
                        "description": "PEM",
                        "content": {"application/x-pem-file": {"schema": {"type": "string"}}},
                    },
                    "404": _E404,
                },
                tag="settings",
                op_id="certificate",
            ),
            "post": _op(
                "Import an own certificate and private key (JSON or multipart form)",
                {"200": _ok(_ref("Ok")), "404": _E404, "422": _E422},
                body={
                    "required": True,
                    "content": {
                        JSON: {"schema": _ref("PemPair")},
                        "multipart/form-data": {"schema": _ref("PemPair")},
                    },
                },
                tag="settings",
                op_id="importCertificate",
            ),
        },
        "/api/admin/password": {
            "post": _op(
                "Change the admin password",
                {"200": _ok(_ref("Ok")), "422": _E422},
                body=_body(_ref("PasswordChange")),
                tag="settings",
                op_id="changePassword",
            )
        },
        "/api/users": _collection("users", "RFID user", "User"),
        "/api/users/{id}": {"parameters": [_ID], **_crud("users", "RFID user", "User")},
        "/api/openapi.json": {
            "get": _op(
                "This document", {"200": _ok({"type": "object"})}, tag="meta", op_id="openapi"
            )
        },
    }
    paths.update(openapi_users.paths(_op, _ok, _body, filters, _ID))
    paths.update(station_paths())
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "ampshare API",
            "version": "1",
            "description": (
                "Local load management for EV charging. Every call needs the admin login: "
                "HTTP Basic `admin:<password>`, or the session cookie of the login page plus "
                "the page's CSRF token in `X-CSRF-Token` for changes. Bad input gets 422 with "
                "the fields named; repeated failed logins get 429 with Retry-After."
            ),
        },
        "servers": [{"url": "/"}],
        "security": [{"basic": []}, {"cookie": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "basic": {"type": "http", "scheme": "basic"},
                "cookie": {"type": "apiKey", "in": "cookie", "name": "ampshare_session"},
            },
            "schemas": _schemas(),
            "responses": {
                "Invalid": _answer("invalid input; every bad field is named", "Invalid"),
                "NotFound": _answer("unknown id"),
                "Unauthorized": _answer("login required"),
                "Forbidden": _answer("missing CSRF token or cross-site request"),
                "WriteFailed": _answer(
                    "the change could not be stored (507: disk full); nothing was changed"
                ),
                "Throttled": {
                    "description": "too many failed logins; see Retry-After",
                    "headers": {"Retry-After": {"schema": {"type": "integer"}}},
                    "content": {JSON: {"schema": _ref("Error")}},
                },
            },
        },
    }
