"""The OpenAPI 3.1 description of /api.

The live state (`/api/state`, `/api/events`) is described by schemas generated from its models
(manager/state.py), the same objects the control loop builds, so the document cannot drift from
what is sent. The paths are listed here by hand. Device and settings fields depend on the
installed drivers; their full JSON schemas are served at /api/schemas and /api/drivers, and this
document points there.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from manager.service import (
    CircuitConfig,
    EvseConfig,
    MeterConfig,
    Settings,
    State,
    UserConfig,
    is_secret,
)
from web import openapi_ops, openapi_users, openapi_views
from web.openapi_rules import rule_paths, rule_schemas
from web.openapi_stations import station_paths
from web.shapes import SHAPES
from web.shapes_stations import STATION_SHAPES

JSON = "application/json"


REF = "#/components/schemas/"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


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
_NUM = {"type": ["number", "null"]}


def _int(lo: int, hi: int, default: int | None = None) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "integer", "minimum": lo, "maximum": hi}
    return schema if default is None else {**schema, "default": default}


def state_schemas() -> dict[str, Any]:
    """The live state's schemas, generated from its models (State, EvseState, ReasonState...)."""
    schema = State.model_json_schema(ref_template=REF + "{model}", mode="serialization")
    defs = schema.pop("$defs", {})
    return {**defs, "State": schema}


#: configuration models as the API takes and answers them
CONFIG: tuple[type[BaseModel], ...] = (CircuitConfig, EvseConfig, MeterConfig, Settings, UserConfig)


def _as_answered(schema: dict[str, Any]) -> None:
    """A stored object as the API answers it: `id` is given by the server, secrets are
    write-only and answered as `<name>_set`."""
    props = schema.get("properties", {})
    if "id" in props:
        props["id"]["readOnly"] = True
        schema["required"] = [k for k in schema.get("required", []) if k != "id"]
    for name in [k for k in props if is_secret(k, props[k])]:
        props[name]["writeOnly"] = True
        props[f"{name}_set"] = {"type": "boolean", "readOnly": True}


def config_schemas() -> dict[str, Any]:
    """The configuration's schemas, generated from the models the store validates with."""
    _, top = models_json_schema(
        [(model, "validation") for model in CONFIG], ref_template=REF + "{model}"
    )
    defs: dict[str, Any] = top["$defs"]
    for schema in defs.values():
        _as_answered(schema)
    openapi_users.as_user_api(defs["UserConfig"])
    # the grid connection `main` is answered as a circuit without a parent
    parent = defs["CircuitConfig"]["properties"]["parent"]
    defs["CircuitConfig"]["properties"]["parent"] = {"anyOf": [parent, {"type": "null"}]}
    aliases = {"Circuit": _ref("CircuitConfig"), "User": _ref("UserConfig")}
    aliases["Device"] = {
        "description": (
            "Common fields plus the driver's own fields (see /api/drivers). "
            "Secrets are write-only: responses carry `<name>_set` instead."
        ),
        "anyOf": [_ref("EvseConfig"), _ref("MeterConfig")],
    }
    return {**defs, **aliases}


def _schemas() -> dict[str, Any]:
    shapes = {}
    for model in (*SHAPES, *STATION_SHAPES):
        schema = model.model_json_schema(ref_template=REF + "{model}")
        shapes.update(schema.pop("$defs", {}))
        shapes[model.__name__] = schema
    return {
        **state_schemas(),
        **config_schemas(),
        **openapi_views.schemas(),
        **shapes,
        **rule_schemas(),
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
        "/api/events/live": {
            "get": _op(
                "Server-Sent Events: each new event as it happens, kind and message in words",
                {
                    "200": {
                        "description": (
                            "An endless text/event-stream: one `data:` line per new event, an "
                            "Event plus `kind_text`, `device_name` and `text` in the request's "
                            "language"
                        ),
                        "content": {"text/event-stream": {"schema": {"type": "string"}}},
                    }
                },
                tag="live",
                op_id="eventsLive",
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
        **openapi_ops.paths(),
    }
    paths.update(openapi_users.paths(_op, _ok, _body, filters, _ID))
    paths.update(openapi_views.paths(_op, _ok, filters))
    paths.update(station_paths())
    paths.update(rule_paths())
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
                "metricsToken": {"type": "http", "scheme": "bearer"},
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
