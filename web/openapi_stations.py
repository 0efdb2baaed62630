"""OpenAPI paths of station management (admin actions on charge points, the audit log).

The answers' schemas are generated from their models (web/shapes_stations.py).
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
REF = "#/components/schemas/"
_ERROR = {"$ref": REF + "Error"}
_CB = {"name": "charge_box_id", "in": "path", "required": True, "schema": {"type": "string"}}
_ACTION = {
    "name": "action",
    "in": "path",
    "required": True,
    "description": "profiles, clear_profiles, reset, unlock, availability, trigger, remote_start, "
    "remote_stop, configuration, configure, data_transfer, reserve, cancel_reservation, display, "
    "firmware, logs",
    "schema": {"type": "string"},
}
_COMMON = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/Throttled"},
}
_PARAMS_DOC = (
    "Body: plain field names, e.g. reset {type: Soft|Hard (1.6), Immediate|OnIdle (2.0.1)}; "
    "trigger {message, connector_id}; configure {key, value} (2.0.1 key: Component.Variable); "
    "clear_profiles {} clears every profile, or {id, purpose, stack_level, connector_id}; "
    "reserve {connector_id, id_tag, minutes}; display {operation: set|get|clear, message, id}; "
    "firmware {file_id (from POST /api/firmware), signing_certificate, signature (2.0.1)}; "
    "logs {log_type (2.0.1)}: the box uploads to a one-time URL, see GET /api/stations/{id}."
)


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def station_paths() -> dict[str, Any]:
    return {
        "/api/stations/{charge_box_id}": {
            "parameters": [_CB],
            "get": {
                "summary": "Identity, security profile and transfers of a charge point",
                "operationId": "station",
                "tags": ["stations"],
                "responses": {
                    "200": _json({"$ref": REF + "Station"}, "the charge point"),
                    "404": {"$ref": "#/components/responses/NotFound"},
                    **_COMMON,
                },
            },
        },
        "/api/stations/{charge_box_id}/{action}": {
            "parameters": [_CB, _ACTION],
            "post": {
                "summary": "Run an admin action on a connected charge point (audited)",
                "description": _PARAMS_DOC,
                "operationId": "stationAction",
                "tags": ["stations"],
                "requestBody": {
                    "required": False,
                    "content": {JSON: {"schema": {"type": "object"}}},
                },
                "responses": {
                    "200": _json({"$ref": REF + "StationAnswer"}, "the box's answer"),
                    "404": {"$ref": "#/components/responses/NotFound"},
                    "409": _json(_ERROR, "the box is not connected"),
                    "422": {"$ref": "#/components/responses/Invalid"},
                    "504": _json(_ERROR, "the box did not answer in time"),
                    "403": {"$ref": "#/components/responses/Forbidden"},
                    **_COMMON,
                },
            },
        },
        "/api/firmware": {
            "get": {
                "summary": "Firmware files uploaded for boxes",
                "operationId": "firmwareFiles",
                "tags": ["stations"],
                "responses": {
                    "200": _json({"type": "array", "items": {"$ref": REF + "StoredFile"}}, "files"),
                    **_COMMON,
                },
            },
            "post": {
                "summary": "Upload a firmware file (raw body, up to 64 MiB; ?name=)",
                "operationId": "uploadFirmware",
                "tags": ["stations"],
                "requestBody": {
                    "required": True,
                    "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                },
                "responses": {
                    "201": _json({"$ref": REF + "StoredFile"}, "stored"),
                    "413": _json(_ERROR, "larger than 64 MiB"),
                    "403": {"$ref": "#/components/responses/Forbidden"},
                    **_COMMON,
                },
            },
        },
        "/api/logs/{file_id}": {
            "parameters": [
                {"name": "file_id", "in": "path", "required": True, "schema": {"type": "string"}}
            ],
            "get": {
                "summary": "Download a diagnostics/log file a box uploaded",
                "operationId": "logFile",
                "tags": ["stations"],
                "responses": {
                    "200": {
                        "description": "the file",
                        "content": {"application/octet-stream": {"schema": {"type": "string"}}},
                    },
                    "404": {"$ref": "#/components/responses/NotFound"},
                    **_COMMON,
                },
            },
        },
        "/api/audit": {
            "get": {
                "summary": "Audit log of admin actions on charge points, newest first",
                "operationId": "audit",
                "tags": ["stations"],
                "parameters": [
                    {
                        "name": "limit",
                        "in": "query",
                        "required": False,
                        "schema": {"type": "integer"},
                    },
                    {"name": "box", "in": "query", "required": False, "schema": {"type": "string"}},
                ],
                "responses": {
                    "200": _json(
                        {"type": "array", "items": {"$ref": REF + "AuditEntry"}}, "entries"
                    ),
                    "422": {"$ref": "#/components/responses/Invalid"},
                    **_COMMON,
                },
            }
        },
    }
