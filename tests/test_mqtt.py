"""MQTT against Debian's mosquitto and a real manager process: state, commands, discovery, LWT,
reconnect after the broker restarts."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import aiomqtt
import pytest
from manager_process import ManagerProcess
from mosquitto import Broker
from paho.mqtt.enums import MQTTProtocolVersion

pytestmark = pytest.mark.slow

BASE = "amps"

# Home Assistant's documented MQTT discovery keys per platform (abbreviations not used)
COMMON_KEYS = {
    "name", "unique_id", "object_id", "default_entity_id", "state_topic", "value_template",
    "availability_topic", "payload_available", "payload_not_available", "availability",
    "availability_mode", "device", "icon", "entity_category", "enabled_by_default", "qos",
    "encoding", "json_attributes_topic", "json_attributes_template", "origin",
}  # fmt: skip
PLATFORM_KEYS = {
    "sensor": {
        "device_class", "state_class", "unit_of_measurement", "suggested_display_precision",
        "expire_after", "force_update", "last_reset_value_template", "options",
    },
    "binary_sensor": {"device_class", "payload_on", "payload_off", "expire_after", "off_delay"},
    "select": {"command_topic", "command_template", "options", "optimistic", "retain"},
    "number": {
        "command_topic", "command_template", "min", "max", "step", "mode", "device_class",
        "unit_of_measurement", "optimistic", "retain", "payload_reset",
    },
    "switch": {
        "command_topic", "payload_on", "payload_off", "state_on", "state_off", "device_class",
        "optimistic", "retain",
    },
}  # fmt: skip
REQUIRED = {
    "sensor": {"state_topic"},
    "binary_sensor": {"state_topic"},
    "select": {"command_topic", "options"},
    "number": {"command_topic"},
    "switch": {"command_topic"},
}
DEVICE_KEYS = {
    "identifiers", "connections", "name", "manufacturer", "model", "model_id", "sw_version",
    "hw_version", "serial_number", "via_device", "configuration_url", "suggested_area",
}  # fmt: skip
SENSOR_UNITS = {"power": {"W", "kW"}, "current": {"A", "mA"}, "energy": {"Wh", "kWh", "MWh"}}
STATE_CLASSES = {"measurement", "total", "total_increasing"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    b = Broker(tmp_path)
    try:
        yield b
    finally:
        b.stop()


@pytest.fixture
def manager(broker: Broker) -> Iterator[ManagerProcess]:
    proc = ManagerProcess("demo")
    try:
        proc.wait_ready()
        resp = proc.api.patch(
            "/api/settings",
            json={"mqtt": {"host": "127.0.0.1", "port": broker.port, "base_topic": BASE}},
        )
        assert resp.status_code == 200, resp.text
        yield proc
    finally:
        proc.stop()


class Listener:
    """A test client subscribed to everything; `until` waits for a message, bounded in time."""

    def __init__(self, client: aiomqtt.Client) -> None:
        self.client = client
        self.seen: list[tuple[str, bytes, bool]] = []

    async def until(
        self, pred: Callable[[str, bytes], bool], timeout_s: float = 15.0
    ) -> tuple[str, bytes]:
        async with asyncio.timeout(timeout_s):
            async for msg in self.client.messages:
                topic, payload = str(msg.topic), bytes(msg.payload or b"")
                self.seen.append((topic, payload, bool(msg.retain)))
                if pred(topic, payload):
                    return topic, payload
        raise AssertionError("unreachable")

    async def json_at(self, topic: str, pred: Callable[[dict[str, Any]], bool] = bool) -> Any:
        def match(t: str, p: bytes) -> bool:
            return t == topic and bool(p) and pred(json.loads(p))

        return json.loads((await self.until(match))[1])


@asynccontextmanager
async def listen(port: int, *topics: str, protocol: str = "3.1.1") -> AsyncIterator[Listener]:
    version = MQTTProtocolVersion.MQTTv311 if protocol == "3.1.1" else MQTTProtocolVersion.MQTTv5
    async with aiomqtt.Client("127.0.0.1", port, protocol=version, timeout=10) as client:
        for topic in topics:
            await client.subscribe(topic)
        yield Listener(client)


def check_discovery(topic: str, payload: dict[str, Any]) -> str:
    parts = topic.split("/")
    assert parts[0] == "homeassistant" and parts[-1] == "config" and len(parts) == 5, topic
    platform = parts[1]
    assert platform in PLATFORM_KEYS, topic
    unknown = set(payload) - COMMON_KEYS - PLATFORM_KEYS[platform]
    assert not unknown, (topic, unknown)
    assert REQUIRED[platform] <= set(payload), topic
    assert payload["name"] and payload["unique_id"]
    assert payload["availability_topic"] == f"{BASE}/status"
    assert (payload["payload_available"], payload["payload_not_available"]) == ("online", "offline")
    assert set(payload["device"]) <= DEVICE_KEYS and payload["device"]["identifiers"]
    if platform == "sensor" and "device_class" in payload:
        assert payload["unit_of_measurement"] in SENSOR_UNITS[payload["device_class"]], topic
        assert payload["state_class"] in STATE_CLASSES
    if platform == "select":
        assert payload["options"] == ["off", "now", "minpv", "pv", "plan"]
    if platform == "number":
        assert payload["min"] < payload["max"] and payload["step"] > 0
    return platform


async def test_state_discovery_and_commands(broker: Broker, manager: ManagerProcess) -> None:
    async with listen(broker.port, f"{BASE}/#", "homeassistant/#", protocol="5") as sub:
        assert await sub.until(lambda t, p: t == f"{BASE}/status" and p == b"online")
        site = await sub.json_at(f"{BASE}/site/state")
        assert {"grid_a", "grid_w", "pv_w", "surplus_w", "safe_mode"} <= set(site)
        box = await sub.json_at(f"{BASE}/wallbox/carport/state")
        for key in ("status", "current_a", "power_w", "setpoint_a", "reason", "session_wh"):
            assert key in box
        assert box["charge_mode"] == "now" and box["enabled"] is True
        meter = await sub.json_at(f"{BASE}/meter/grid/state")
        assert "power_w" in meter and "current_a" in meter

        # discovery: one device per wallbox and one for the site, every payload as HA expects
        expected = 8 + 2 * 5 + 3 * 12  # site, two meters, three wallboxes
        deadline = time.monotonic() + 15
        while len(_discovery(sub)) < expected and time.monotonic() < deadline:
            await sub.until(lambda t, p: t.startswith("homeassistant/"), 15)
        found = _discovery(sub)
        platforms = {check_discovery(t, p) for t, p in found.items()}
        assert platforms == {"sensor", "binary_sensor", "select", "number", "switch"}
        assert len(found) == expected
        devices = {p["device"]["identifiers"][0] for p in found.values()}
        assert len(devices) == 4  # the site and three wallboxes (meters belong to the site)
        select = found["homeassistant/select/ampshare_amps_wallbox_carport/mode/config"]
        assert select["command_topic"] == f"{BASE}/wallbox/carport/set/mode"
        assert select["state_topic"] == f"{BASE}/wallbox/carport/state"
        assert select["value_template"] == "{{ value_json.charge_mode }}"
        async with listen(broker.port, "homeassistant/#") as late:  # retained for late comers
            while len(_discovery(late)) < expected:
                await late.until(lambda t, p: True, 10)
            assert all(retain for t, _, retain in late.seen)

        # commands: applied through the facade, bad values refused on the error topic
        await sub.client.publish(f"{BASE}/wallbox/carport/set/max_current_a", b"13")
        await sub.json_at(f"{BASE}/wallbox/carport/state", lambda s: s["max_current_a"] == 13)
        assert manager.api.get("/api/devices/carport").json()["max_current_a"] == 13
        await sub.client.publish(f"{BASE}/wallbox/carport/set/enabled", b"OFF")
        await sub.json_at(f"{BASE}/wallbox/carport/state", lambda s: s["enabled"] is False)
        events = [json.loads(p) for t, p, _ in sub.seen if t == f"{BASE}/event"]
        if not any(e["kind"] == "deactivated" for e in events):  # it may come after the state
            events.append(await sub.json_at(f"{BASE}/event", lambda e: e["kind"] == "deactivated"))
        assert [e["device"] for e in events if e["kind"] == "deactivated"] == ["carport"]
        await sub.client.publish(f"{BASE}/wallbox/carport/set/enabled", b"ON")
        await sub.json_at(f"{BASE}/wallbox/carport/state", lambda s: s["enabled"] is True)

        bad = [
            ("wallbox/carport/set/max_current_a", b"lots", "max_current_a", "number"),
            ("wallbox/carport/set/max_current_a", b"500", "max_current_a", "80"),
            ("wallbox/carport/set/max_current_a", b"2", "min_current_a", "maximum (2 A)"),
            ("wallbox/carport/set/enabled", b"maybe", "enabled", "ON or OFF"),
            ("wallbox/nobox/set/enabled", b"ON", "id", "nobox"),
            ("wallbox/carport/set/colour", b"red", "colour", "unknown setting"),
            ("site/set/colour", b"red", "colour", "unknown setting"),
        ]
        for suffix, payload, field, words in bad:
            await sub.client.publish(f"{BASE}/{suffix}", payload)
            error_topic = (
                f"{BASE}/site/error"
                if suffix.startswith("site/")
                else f"{BASE}/wallbox/{suffix.split('/')[1]}/error"
            )
            error = await sub.json_at(error_topic)
            assert error["topic"] == f"{BASE}/{suffix}"
            fields = {e["field"]: e["message"] for e in error["errors"]}
            assert field in fields and words in fields[field], (suffix, error)
        assert manager.api.get("/api/devices/carport").json()["max_current_a"] == 13

        # Home Assistant restarted: discovery is published again
        before = len([t for t, _, _ in sub.seen if t.startswith("homeassistant/")])
        await sub.client.publish("homeassistant/status", b"online")
        await sub.until(lambda t, p: t.startswith("homeassistant/") and t.endswith("/config"))
        assert len([t for t, _, _ in sub.seen if t.startswith("homeassistant/")]) > before


async def refused(sub: Listener, suffix: str, payload: bytes) -> dict[str, str]:
    """Publishes a bad value; the errors reported on the object's error topic, by field."""
    await sub.client.publish(f"{BASE}/{suffix}", payload)
    where = "site" if suffix.startswith("site/") else "/".join(suffix.split("/")[:2])
    error = await sub.json_at(f"{BASE}/{where}/error", lambda e: e["topic"] == f"{BASE}/{suffix}")
    return {e["field"]: e["message"] for e in error["errors"]}


async def test_mode_plan_limit_and_prices(broker: Broker, manager: ManagerProcess) -> None:
    api = manager.api
    async with listen(broker.port, f"{BASE}/#") as sub:
        box = f"{BASE}/wallbox/carport"
        await sub.json_at(f"{box}/state")

        # mode: applied through the device API's path; a bad one refused and nothing stored
        await sub.client.publish(f"{box}/set/mode", b"pv")
        await sub.json_at(f"{box}/state", lambda s: s["charge_mode"] == "pv")
        evse = {e["id"]: e for e in api.get("/api/state").json()["evses"]}["carport"]
        assert evse["charge_mode"] == "pv"
        assert "charge_mode" in await refused(sub, "wallbox/carport/set/mode", b"turbo")
        assert api.get("/api/devices/carport").json()["charge_mode"] == "pv"

        # plan: the device API's plan fields and checks
        when = (datetime.now(UTC) + timedelta(hours=5)).replace(microsecond=0)
        plan = {"plan_energy_wh": 12000, "plan_time": when.isoformat()}
        await sub.client.publish(f"{box}/set/plan", json.dumps(plan).encode())
        await sub.client.publish(f"{box}/set/mode", b"plan")
        await sub.json_at(f"{box}/state", lambda s: s["charge_mode"] == "plan")
        device = api.get("/api/devices/carport").json()
        assert device["plan_energy_wh"] == 12000 and device["plan_time"] == when.isoformat()
        past = json.dumps({"plan_time": (when - timedelta(days=2)).isoformat()}).encode()
        assert "plan_time" in await refused(sub, "wallbox/carport/set/plan", past)
        assert "plan_energy_wh" in await refused(
            sub, "wallbox/carport/set/plan", b'{"plan_energy_wh": -1}'
        )
        assert "colour" in await refused(sub, "wallbox/carport/set/plan", b'{"colour": 1}')
        assert "plan" in await refused(sub, "wallbox/carport/set/plan", b"soon")
        assert api.get("/api/devices/carport").json()["plan_time"] == when.isoformat()
        await sub.client.publish(f"{box}/set/plan", b'{"plan_energy_wh": null}')  # clears it
        await sub.client.publish(f"{box}/set/mode", b"pv")  # commands are taken in order
        await sub.json_at(f"{box}/state", lambda s: s["charge_mode"] == "pv")
        device = api.get("/api/devices/carport").json()
        assert device["plan_energy_wh"] is None and device["plan_time"] == when.isoformat()

        # the external limit: the API's body; a bad one refused, empty or null lifts it
        await sub.client.publish(
            f"{BASE}/site/set/limit", b'{"max_power_w": 4500, "duration_s": 3600}'
        )
        site = await sub.json_at(f"{BASE}/site/state", lambda s: bool(s.get("charging_limit")))
        assert site["charging_limit"]["max_power_w"] == 4500
        limit = api.get("/api/state").json()["site"]["charging_limit"]
        assert limit["max_power_w"] == 4500
        bad = b'{"max_power_w": -1, "duration_s": 60, "circuit": "nowhere"}'
        assert {"max_power_w", "circuit"} <= set(await refused(sub, "site/set/limit", bad))
        assert "limit" in await refused(sub, "site/set/limit", b"lots")
        assert api.get("/api/limits/charging").json()["max_power_w"] == 4500
        await sub.client.publish(f"{BASE}/site/set/limit", b"")
        await sub.json_at(f"{BASE}/site/state", lambda s: not s.get("charging_limit"))
        assert api.get("/api/state").json()["site"]["charging_limit"] is None
        until = json.dumps({"max_power_w": 3000, "until": iso(when)}).encode()
        await sub.client.publish(f"{BASE}/site/set/limit", until)
        await sub.json_at(f"{BASE}/site/state", lambda s: bool(s.get("charging_limit")))
        await sub.client.publish(f"{BASE}/site/set/limit", b"null")
        await sub.json_at(f"{BASE}/site/state", lambda s: not s.get("charging_limit"))
        assert api.get("/api/limits/charging").json() is None

        # prices: the API's list; a bad list refused and nothing stored
        t0 = datetime(2026, 12, 7, tzinfo=UTC)
        slots = [
            {"start": iso(t0 + timedelta(hours=h)), "end": iso(t0 + timedelta(hours=h + 1)),
             "price_per_kwh": p}
            for h, p in enumerate([0.31, 0.12])
        ]  # fmt: skip
        await sub.client.publish(f"{BASE}/site/set/prices", json.dumps(slots).encode())
        await sub.client.publish(f"{box}/set/mode", b"now")  # commands are taken in order
        await sub.json_at(f"{box}/state", lambda s: s["charge_mode"] == "now")
        assert api.get("/api/prices").json() == slots
        later = {"start": iso(t0 + timedelta(hours=3)), "end": iso(t0 + timedelta(hours=4))}
        gap = json.dumps([slots[0], {**slots[1], **later}])
        assert "1.start" in await refused(sub, "site/set/prices", gap.encode())
        assert "body" in await refused(sub, "site/set/prices", b"{}")
        assert api.get("/api/prices").json() == slots


def iso(when: datetime) -> str:
    return when.isoformat(timespec="seconds")


def _discovery(sub: Listener) -> dict[str, dict[str, Any]]:
    return {
        t: json.loads(p)
        for t, p, _ in sub.seen
        if t.startswith("homeassistant/") and t.endswith("/config") and p
    }


async def test_lwt_on_kill_and_reconnect_after_broker_restart(
    broker: Broker, manager: ManagerProcess
) -> None:
    async with listen(broker.port, f"{BASE}/status", f"{BASE}/site/state") as sub:
        await sub.until(lambda t, p: t == f"{BASE}/status" and p == b"online")
        await sub.json_at(f"{BASE}/site/state")

    broker.restart()  # loses every retained message (no persistence)
    async with listen(broker.port, f"{BASE}/status", f"{BASE}/site/state") as sub:
        await sub.until(lambda t, p: t == f"{BASE}/status" and p == b"online", 20)
        await sub.json_at(f"{BASE}/site/state")  # the current state again after reconnect
        manager.kill()  # SIGKILL: no goodbye, the broker publishes the LWT
        await sub.until(lambda t, p: t == f"{BASE}/status" and p == b"offline", 10)
