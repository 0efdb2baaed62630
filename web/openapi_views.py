"""OpenAPI parts of the views over what happened: session totals and decision timelines.

Kept beside web/openapi.py, which merges them; the shapes are generated from their models
(web/shapes.py, and the manager's timeline models through the facade).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from manager.service import DecisionTimeline

Op = Callable[..., dict[str, Any]]
REF = "#/components/schemas/"
E422 = {"$ref": "#/components/responses/Invalid"}
E404 = {"$ref": "#/components/responses/NotFound"}


def schemas() -> dict[str, Any]:
    """DecisionTimeline and what it holds, generated from the models the history store fills."""
    schema = DecisionTimeline.model_json_schema(ref_template=REF + "{model}", mode="serialization")
    defs = schema.pop("$defs", {})
    return {**defs, "DecisionTimeline": schema}


def paths(op: Op, ok: Callable[[dict[str, Any]], dict[str, Any]],
          filters: list[dict[str, Any]]) -> dict[str, Any]:  # fmt: skip
    by = {
        "name": "by",
        "in": "path",
        "required": True,
        "schema": {"type": "string", "enum": ["day", "month", "evse", "user"]},
    }
    evse = {
        "name": "evse",
        "in": "query",
        "required": False,
        "description": "only this wallbox (device id)",
        "schema": {"type": "string"},
    }
    return {
        "/api/sessions/totals/{by}": {
            "parameters": [by],
            "get": op(
                "Sessions and energy per local day, local month, wallbox or user; running "
                "sessions count with their energy so far",
                {"200": ok({"type": "array", "items": {"$ref": REF + "SessionTotal"}}),
                 "422": E422},
                params=filters,
                tag="sessions",
                op_id="sessionTotalsBy",
            ),
        },
        "/api/history/decisions": {
            "get": op(
                "Per wallbox, the last 24 h of setpoint and draw (one point a minute) and the "
                "reasons as bands; each reason worded in the request's language",
                {"200": ok({"type": "array", "items": {"$ref": REF + "DecisionTimeline"}}),
                 "404": E404, "422": E422},
                params=[evse],
                tag="live",
                op_id="decisions",
            ),
        },
    }  # fmt: skip
