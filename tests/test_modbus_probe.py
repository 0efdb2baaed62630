""" "Test connection": one read, a JSON-ready answer, never an exception, no side effects."""

from __future__ import annotations

import json

from modbus_emu import Emulator
from ports import free_port
from test_modbus_meters import sdm
from test_modbus_wallboxes import heidelberg

from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from devices.probe import probe
from manager.model import DeviceSpec


async def test_probe_reads_a_meter_and_summarises_it() -> None:
    async with Emulator() as emu:
        sdm(emu)
        spec = DeviceSpec("m", "grid", "meter", "sdm630", emu.address, {"unit_id": 1})
        result = await probe(spec, DeviceContext(), 2.0)  # no pool: probe brings its own
    assert result["ok"] is True
    assert result["values"]["voltage_v"] == [231.2, 229.8, 233.0]
    assert result["values"]["current_a"] == [5.2, -3.1, 0.4]
    assert result["summary"].startswith("231 230 233 V / 5.2 -3.1 0.4 A / 0.57 kW")
    json.dumps(result)


async def test_probe_of_a_wallbox_writes_nothing() -> None:
    pool = BusPool()
    async with Emulator("rtu") as emu:
        heidelberg(emu, 1)
        spec = DeviceSpec("b", "box", "evse", "heidelberg", emu.address, {})
        result = await probe(spec, DeviceContext(buses=pool), 2.0)
        assert emu.writes() == []
    await pool.close()
    assert result["ok"] and result["values"]["status"] == "charging"
    assert pool.buses() == []  # the probe gave its bus back


async def test_probe_errors_are_answers_not_exceptions() -> None:
    ctx = DeviceContext(buses=BusPool())
    dead = DeviceSpec("m", "grid", "meter", "sdm630", f"127.0.0.1:{free_port()}", {})
    result = await probe(dead, ctx, 1.0)
    assert result["ok"] is False and "cannot connect to 127.0.0.1" in result["error"]
    bad = DeviceSpec("m", "grid", "meter", "sdm630", "127.0.0.1", {"unit_id": 999})
    result = await probe(bad, ctx, 1.0)
    assert result["ok"] is False and result["error"].startswith("unit_id:")
    unknown = DeviceSpec("m", "grid", "meter", "nope", "127.0.0.1", {})
    assert (await probe(unknown, ctx, 1.0))["error"] == "unknown driver 'nope'"
    sim = DeviceSpec("m", "grid", "meter", "sim-meter", "", {})
    assert (await probe(sim, ctx, 1.0))["ok"] is False
    await ctx.buses.close()


async def test_probe_timeout_is_bounded() -> None:
    async with Emulator() as emu:
        sdm(emu)
        emu.unit(1).silent = True
        spec = DeviceSpec("m", "grid", "meter", "sdm630", emu.address, {"timeout_s": 5})
        result = await probe(spec, DeviceContext(), 0.3)
    assert result == {"ok": False, "error": "no answer within 0.3 s"}
