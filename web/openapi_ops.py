"""The OpenAPI description of the operations endpoints (the mqtt and metrics settings are
generated from their models with the other settings).

Plain data, importing nothing of the web layer, so web/openapi.py can merge it in.
"""

from __future__ import annotations

from typing import Any

JSON = "application/json"
_ERROR = {"$ref": "#/components/schemas/Error"}
_AUTH = {
    "401": {"$ref": "#/components/responses/Unauthorized"},
    "429": {"$ref": "#/components/responses/Throttled"},
}


def _json(schema: dict[str, Any], description: str = "OK") -> dict[str, Any]:
    return {"description": description, "content": {JSON: {"schema": schema}}}


def paths() -> dict[str, Any]:
    archive = {"application/gzip": {"schema": {"type": "string", "format": "binary"}}}
    health = {
        "type": "object",
        "properties": {
            "status": {"type": "string", "enum": ["ok", "starting", "stalled"]},
            "version": {"type": "string"},
        },
    }
    log_line = {
        "type": "object",
        "properties": {k: {"type": "string"} for k in ("ts", "level", "logger", "message")},
    }
    return {
        "/api/health": {
            "get": {
                "summary": "Status and version, without login (no data)",
                "operationId": "health",
                "tags": ["operations"],
                "security": [],
                "responses": {
                    "200": _json(health, "the control loop runs"),
                    "503": _json(health, "starting, or the control loop stalled"),
                },
            }
        },
        "/metrics": {
            "get": {
                "summary": "Prometheus metrics (text exposition format)",
                "description": "Needs `Authorization: Bearer <metrics.token>` when a token is "
                "set; without one only clients on this machine (loopback) may read it.",
                "operationId": "metrics",
                "tags": ["operations"],
                "security": [{"metricsToken": []}, {}],
                "responses": {
                    "200": {
                        "description": "metrics",
                        "content": {"text/plain": {"schema": {"type": "string"}}},
                    },
                    "401": _json(_ERROR, "token missing or wrong"),
                    "403": _json(_ERROR, "not loopback and no token set"),
                },
            }
        },
        "/api/backup": {
            "get": {
                "summary": "One archive of all data; it holds the passwords and keys",
                "operationId": "backup",
                "tags": ["operations"],
                "responses": {"200": {"description": "archive", "content": archive}, **_AUTH},
            }
        },
        "/api/restore": {
            "post": {
                "summary": "Check an archive completely, switch to it, restart the manager",
                "description": "Nothing is changed unless every file checks out; the previous "
                "data is kept beside the data directory.",
                "operationId": "restore",
                "tags": ["operations"],
                "requestBody": {"required": True, "content": archive},
                "responses": {
                    "200": _json({"type": "object"}, "checked; the manager restarts"),
                    "422": {"$ref": "#/components/responses/Invalid"},
                    "403": {"$ref": "#/components/responses/Forbidden"},
                    **_AUTH,
                },
            }
        },
        "/api/log": {
            "get": {
                "summary": "The newest log lines at a level and above, newest first",
                "operationId": "log",
                "tags": ["operations"],
                "parameters": [
                    {
                        "name": "level",
                        "in": "query",
                        "schema": {"type": "string", "enum": ["INFO", "WARNING", "ERROR"]},
                    },
                    {
                        "name": "limit",
                        "in": "query",
                        "schema": {"type": "integer", "minimum": 1, "maximum": 1000},
                    },
                ],
                "responses": {
                    "200": _json({"type": "array", "items": log_line}),
                    "422": {"$ref": "#/components/responses/Invalid"},
                    **_AUTH,
                },
            }
        },
    }
