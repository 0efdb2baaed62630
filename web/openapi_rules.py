"""OpenAPI paths and shapes of the charging rules: prices and the external charging limit."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

JSON = "application/json"
REF = "#/components/schemas/"


class PriceSlot(BaseModel):
    model_config = ConfigDict(extra="forbid")

    start: str = Field(description="ISO 8601; without an offset: local time")
    end: str = Field(description="ISO 8601; the next slot starts here (no gaps, no overlaps)")
    price_per_kwh: float = Field(description="price per kWh, any currency")


class ChargingLimitRequest(BaseModel):
    """`until` or `duration_s`, not both; the limit is lifted when it ends."""

    model_config = ConfigDict(extra="forbid")

    max_power_w: float = Field(ge=0, description="all wallboxes (or the circuit's) together (W)")
    until: str | None = Field(None, description="ISO 8601 end of the limit")
    duration_s: float | None = Field(None, gt=0, description="or: its length from now (s)")
    circuit: str | None = Field(None, description="a circuit id; absent: all wallboxes")


class ChargingLimit(BaseModel):
    max_power_w: float
    until: str = Field(description="ISO 8601 (UTC)")
    circuit: str | None = None


SHAPES: tuple[type[BaseModel], ...] = (PriceSlot, ChargingLimitRequest, ChargingLimit)


def rule_schemas() -> dict[str, Any]:
    return {m.__name__: m.model_json_schema(ref_template=REF + "{model}") for m in SHAPES}


def _ref(name: str) -> dict[str, str]:
    return {"$ref": REF + name}


def _op(summary: str, op_id: str, responses: dict[str, Any], body: Any = None) -> dict[str, Any]:
    op: dict[str, Any] = {
        "summary": summary,
        "operationId": op_id,
        "tags": ["rules"],
        "responses": {
            **responses,
            "401": {"$ref": "#/components/responses/Unauthorized"},
            "429": {"$ref": "#/components/responses/Throttled"},
        },
    }
    if body is not None:
        op["requestBody"] = {"required": True, "content": {JSON: {"schema": body}}}
        op["responses"]["403"] = {"$ref": "#/components/responses/Forbidden"}
        op["responses"]["422"] = {"$ref": "#/components/responses/Invalid"}
    return op


def _ok(schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": "OK", "content": {JSON: {"schema": schema}}}


def rule_paths() -> dict[str, Any]:
    prices = {"type": "array", "items": _ref("PriceSlot")}
    limit = {"anyOf": [_ref("ChargingLimit"), {"type": "null"}]}
    return {
        "/api/prices": {
            "get": _op("The price slots in time order", "prices", {"200": _ok(prices)}),
            "put": _op(
                "Replace the prices (from your own integration; ampshare never fetches any)",
                "setPrices",
                {"200": _ok(prices)},
                prices,
            ),
        },
        "/api/limits/charging": {
            "get": _op(
                "The external charging limit while it holds (null: none)",
                "chargingLimit",
                {"200": _ok(limit)},
            ),
            "put": _op(
                "Limit the wallboxes' power until a time (grid operator, EMS); renew it to keep it",
                "setChargingLimit",
                {"200": _ok(_ref("ChargingLimit"))},
                _ref("ChargingLimitRequest"),
            ),
            "delete": _op(
                "Lift the external charging limit",
                "liftChargingLimit",
                {"204": {"description": "lifted"}},
            ),
        },
    }
