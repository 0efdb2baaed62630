"""Home Assistant MQTT discovery: which entities ampshare announces, as (topic, payload) pairs.

One device for the site (grid, PV, surplus, safe mode, meters) and one per wallbox (status,
currents, power, setpoint, reason, session energy, user, a mode select, a max-current number
and an enabled switch). Every entity reads its value from the JSON state topic of its object
and is unavailable when ampshare's LWT says `offline`. Pure: no I/O.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import Any

PREFIX = "homeassistant"
STATUS_TOPIC = f"{PREFIX}/status"
MODES = ("off", "now", "minpv", "pv", "plan")
PHASES = ("L1", "L2", "L3")


def topics(base: str) -> dict[str, str]:
    return {
        "status": f"{base}/status",
        "site": f"{base}/site/state",
        "event": f"{base}/event",
    }


def wallbox_topic(base: str, evse_id: str) -> str:
    return f"{base}/wallbox/{evse_id}"


def meter_topic(base: str, meter_id: str) -> str:
    return f"{base}/meter/{meter_id}"


def _node(text: str) -> str:
    """HA's node_id and object_id allow [a-zA-Z0-9_-] only."""
    return "".join(c if c.isalnum() or c in "_-" else "_" for c in text)


class _Device:
    """Builds the entities of one HA device."""

    def __init__(self, base: str, uid: str, device: dict[str, Any], state_topic: str) -> None:
        self.base = base
        self.uid = uid
        self.device = device
        self.state_topic = state_topic

    def entity(self, component: str, key: str, name: str, **extra: Any) -> tuple[str, str]:
        payload = {
            "name": name,
            "unique_id": f"{self.uid}_{key}",
            "state_topic": self.state_topic,
            "availability_topic": topics(self.base)["status"],
            "payload_available": "online",
            "payload_not_available": "offline",
            "device": self.device,
            **extra,
        }
        topic = f"{PREFIX}/{component}/{_node(self.uid)}/{_node(key)}/config"
        return topic, json.dumps(payload, sort_keys=True)

    def sensor(
        self, key: str, name: str, template: str, device_class: str | None, unit: str | None
    ) -> tuple[str, str]:
        extra: dict[str, Any] = {"value_template": template}
        if device_class:
            extra["device_class"] = device_class
            extra["state_class"] = "total" if device_class == "energy" else "measurement"
        if unit:
            extra["unit_of_measurement"] = unit
        return self.entity("sensor", key, name, **extra)


def _site_entities(base: str, version: str, site_id: str) -> Iterator[tuple[str, str]]:
    device = {
        "identifiers": [site_id],
        "name": "ampshare",
        "manufacturer": "ampshare",
        "model": "Charging manager",
        "sw_version": version,
    }
    d = _Device(base, site_id, device, topics(base)["site"])
    for i, phase in enumerate(PHASES):
        tpl = f"{{{{ value_json.grid_a[{i}] }}}}"
        yield d.sensor(f"grid_a_{phase.lower()}", f"Grid current {phase}", tpl, "current", "A")
    yield d.sensor("grid_w", "Grid power", "{{ value_json.grid_w }}", "power", "W")
    yield d.sensor("pv_w", "PV power", "{{ value_json.pv_w }}", "power", "W")
    yield d.sensor("surplus_w", "Surplus", "{{ value_json.surplus_w }}", "power", "W")
    yield d.sensor("charge_w", "Charging power", "{{ value_json.charge_w }}", "power", "W")
    yield d.entity(
        "binary_sensor",
        "safe_mode",
        "Safe mode",
        value_template="{{ 'ON' if value_json.safe_mode else 'OFF' }}",
        device_class="problem",
    )


def _meter_entities(
    base: str, site_device: dict[str, Any], site_id: str, meter: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    mid = str(meter["id"])
    name = str(meter.get("name") or mid)
    d = _Device(
        base, f"{site_id}_meter_{_node(mid)}", site_device, f"{meter_topic(base, mid)}/state"
    )
    yield d.sensor("power_w", f"{name} power", "{{ value_json.power_w }}", "power", "W")
    yield d.sensor("energy_wh", f"{name} energy", "{{ value_json.energy_wh }}", "energy", "Wh")
    for i, phase in enumerate(PHASES):
        tpl = f"{{{{ value_json.current_a[{i}] }}}}"
        key = f"current_a_{phase.lower()}"
        yield d.sensor(key, f"{name} current {phase}", tpl, "current", "A")


def _wallbox_entities(
    base: str, version: str, site_id: str, evse: Mapping[str, Any]
) -> Iterator[tuple[str, str]]:
    eid = str(evse["id"])
    uid = f"{site_id}_wallbox_{_node(eid)}"
    topic = wallbox_topic(base, eid)
    device = {
        "identifiers": [uid],
        "name": str(evse.get("name") or eid),
        "manufacturer": "ampshare",
        "model": f"Wallbox ({evse.get('driver') or 'unknown driver'})",
        "sw_version": version,
        "via_device": site_id,
    }
    d = _Device(base, uid, device, f"{topic}/state")
    yield d.sensor("status", "Status", "{{ value_json.status }}", None, None)
    # the reason is sent as data (code, params) with its English words in `text`
    reason = "{{ value_json.reason.text if value_json.reason else '' }}"
    yield d.sensor("reason", "Reason", reason, None, None)
    yield d.sensor("user", "User", "{{ value_json.user or '' }}", None, None)
    yield d.sensor("power_w", "Power", "{{ value_json.power_w }}", "power", "W")
    yield d.sensor("setpoint_a", "Setpoint", "{{ value_json.setpoint_a }}", "current", "A")
    yield d.sensor("session_wh", "Session energy", "{{ value_json.session_wh }}", "energy", "Wh")
    for i, phase in enumerate(PHASES):
        tpl = f"{{{{ value_json.current_a[{i}] }}}}"
        yield d.sensor(f"current_a_{phase.lower()}", f"Current {phase}", tpl, "current", "A")
    yield d.entity(
        "select",
        "mode",
        "Mode",
        command_topic=f"{topic}/set/mode",
        value_template="{{ value_json.charge_mode }}",
        options=list(MODES),
    )
    yield d.entity(
        "number",
        "max_current_a",
        "Max current",
        command_topic=f"{topic}/set/max_current_a",
        value_template="{{ value_json.max_current_a }}",
        min=6,
        max=80,
        step=1,
        mode="box",
        unit_of_measurement="A",
        device_class="current",
    )
    yield d.entity(
        "switch",
        "enabled",
        "Enabled",
        command_topic=f"{topic}/set/enabled",
        value_template="{{ 'ON' if value_json.enabled else 'OFF' }}",
        payload_on="ON",
        payload_off="OFF",
        state_on="ON",
        state_off="OFF",
    )


def site_id(base: str) -> str:
    return f"ampshare_{_node(base)}"


def messages(base: str, version: str, snapshot: Mapping[str, Any]) -> list[tuple[str, str]]:
    """Every discovery (topic, payload) for the objects in `snapshot`."""
    sid = site_id(base)
    out = list(_site_entities(base, version, sid))
    site_device = {"identifiers": [sid]}
    for meter in snapshot.get("meters") or []:
        out.extend(_meter_entities(base, site_device, sid, meter))
    for evse in snapshot.get("evses") or []:
        out.extend(_wallbox_entities(base, version, sid, evse))
    return out
