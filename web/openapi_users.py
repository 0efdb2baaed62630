"""OpenAPI parts of the users feature: the user as the API shows it, and the paths of teach-in,
session reports, login links and self-service.

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


def as_user_api(schema: dict[str, Any]) -> None:
    """The stored user's generated schema as the API takes and answers it: the hashes are
    never shown, the PIN and the password are write-only and answered as `<name>_set`, the old
    single `id_tag` is still taken."""
    props = schema["properties"]
    for hidden in ("password_hash", "login_link_hash", "login_link_expires"):
        props.pop(hidden, None)
        props.pop(f"{hidden}_set", None)
    props["tags"]["items"] = {"type": "string", "maxLength": 36}
    props["tags"]["description"] = "RFID tags (printable ASCII; OCPP 1.6 boxes read at most 20)"
    props["pin"]["writeOnly"] = True
    props["pin_set"] = {"type": "boolean", "readOnly": True}
    props["password"] = {"type": ["string", "null"], "writeOnly": True}
    props["password_set"] = {"type": "boolean", "readOnly": True}
    props["id_tag"] = {
        "type": "string",
        "writeOnly": True,
        "deprecated": True,
        "description": "Old single tag; taken into tags",
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
        "/api/devices/{id}/start": {
            "parameters": [id_param],
            "post": op(
                "Start charging as a user: RemoteStart with the user's tag on an OCPP box, "
                "otherwise the plugged-in box is released as if the card had been presented; "
                "a box with a gateway sends Authorize with that tag to its backend first",
                {
                    "200": ok(OBJ | {"description": "evse, user, tag, status (the box's answer)"}),
                    "404": E404,
                    "409": ok(OBJ),
                    "422": E422,
                    "504": ok(OBJ),
                },
                body=body(OBJ, '{"user": id}'),
                tag="users",
                op_id="startAsUser",
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
                {
                    "200": ok(
                        {"type": "array", "items": {"$ref": "#/components/schemas/MonthTotal"}}
                    ),
                    "422": E422,
                },
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
