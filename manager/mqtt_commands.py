"""MQTT set topics: a payload turned into the facade call the API makes, so a value is checked
exactly as over HTTP. Raises InvalidInput or NotFound; the bridge reports them on the object's
`.../error` topic. No MQTT I/O here.

- `<base>/wallbox/<id>/set/enabled|max_current_a|mode|plan`
- `<base>/site/set/limit` (the body of `PUT /api/limits/charging`; empty or `null` lifts it)
- `<base>/site/set/prices` (the body of `PUT /api/prices`)
"""

from __future__ import annotations

import json
import logging
from typing import Any

from manager import discovery
from manager.config import InvalidInput
from manager.invalid import problem
from manager.service import Service

log = logging.getLogger("ampshare.mqtt")

TRUE = {"on", "true", "1", "yes"}
FALSE = {"off", "false", "0", "no"}
PLAN_FIELDS = ("plan_energy_wh", "plan_time")


def _word(text: str) -> str:
    """A plain value as HA or mosquitto_pub send it: spaces and JSON quotes do not matter."""
    return text.strip().strip('"').strip()


def parse_bool(text: str) -> bool:
    word = _word(text).lower()
    if word in TRUE:
        return True
    if word in FALSE:
        return False
    raise InvalidInput.one("enabled", "expected ON or OFF (or true/false)")


def parse_number(text: str, field: str) -> float:
    try:
        value = float(_word(text))
    except ValueError:
        raise InvalidInput.one(field, "expected a number") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidInput.one(field, "expected a finite number")
    return value


def parse_json(text: str, field: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        raise InvalidInput.one(field, "expected JSON") from None


def parse_plan(text: str) -> dict[str, Any]:
    """`{"plan_energy_wh", "plan_time"}`, the plan fields of the device API (null clears one)."""
    data = parse_json(text, "plan")
    if not isinstance(data, dict):
        raise InvalidInput.one("plan", 'expected {"plan_energy_wh": …, "plan_time": …}')
    unknown = sorted(set(data) - set(PLAN_FIELDS))
    if unknown:
        raise InvalidInput([problem(k, "extra_forbidden", "not a plan field") for k in unknown])
    if not data:
        raise InvalidInput.one("plan", "expected plan_energy_wh and/or plan_time")
    return data


def wallbox_patch(field: str, text: str) -> dict[str, Any]:
    """The `PATCH /api/devices/<id>` body a wallbox set topic stands for."""
    if field == "enabled":
        return {"enabled": parse_bool(text)}
    if field in ("max_current_a", "max_current"):
        return {"max_current_a": parse_number(text, "max_current_a")}
    if field == "mode":
        return {"charge_mode": _word(text)}
    if field == "plan":
        return parse_plan(text)
    raise InvalidInput.one(field, "unknown setting")


async def set_wallbox(service: Service, evse_id: str, field: str, text: str) -> None:
    device = service.get_device(evse_id)
    if device.get("kind") != "evse":
        raise InvalidInput.one("id", f"{evse_id!r} is not a wallbox")
    patch = wallbox_patch(field, text)
    await service.update_device(evse_id, patch)
    log.info("MQTT: wallbox %s set %s", evse_id, patch)


async def set_site(service: Service, field: str, text: str) -> None:
    if field == "limit":
        data = None if not text.strip() else parse_json(text, "limit")
        if data is None:
            await service.lift_charging_limit()
            log.info("MQTT: charging limit lifted")
        else:
            limit = await service.set_charging_limit(data)
            log.info("MQTT: charging limit set %s", limit)
    elif field == "prices":
        slots = await service.set_prices(parse_json(text, "prices"))
        log.info("MQTT: %d price slots set", len(slots))
    else:
        raise InvalidInput.one(field, "unknown setting")


def error_topic(base: str, parts: list[str]) -> str:
    """Where a refusal of the set topic `parts` (split after the base) is reported."""
    if len(parts) == 4 and parts[0] == "wallbox" and parts[2] == "set":
        return f"{discovery.wallbox_topic(base, parts[1])}/error"
    if len(parts) == 3 and parts[:2] == ["site", "set"]:
        return f"{base}/site/error"
    return f"{base}/error"


async def apply(service: Service, base: str, topic: str, text: str) -> None:
    """Applies one set topic through the facade; raises InvalidInput/NotFound when refused."""
    parts = topic[len(base) + 1 :].split("/")
    if len(parts) == 4 and parts[0] == "wallbox" and parts[2] == "set":
        await set_wallbox(service, parts[1], parts[3], text)
    elif len(parts) == 3 and parts[:2] == ["site", "set"]:
        await set_site(service, parts[2], text)
    else:
        raise InvalidInput.one("topic", "unknown set topic")
