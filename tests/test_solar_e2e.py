"""Solar charging end to end, in a closed loop: a real OCPP client (Node ocpp-rpc, strict
schemas, tests/interop/solar_box.js) whose car draws what its charging profiles allow, and an
emulated SDM630 grid meter (pymodbus) that sees that draw on top of the house and the PV. The
control loop reads the meter over Modbus TCP and steers the box over OCPP, on the real clock."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from modbus_emu import Emulator
from test_ocpp_support import running_server
from tools import INTEROP, require_node

from devices import registry
from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from manager.config import Settings
from manager.control import ControlLoop
from manager.events import EventLog
from manager.state import State

pytestmark = pytest.mark.slow

VOLT = 230.0
HOUSE_W = 300.0  # per phase


class Meter:
    """The emulated grid meter: house - PV + the car's draw, per phase."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.pv_w = 0.0
        self.car_a = 0.0
        self.car_phases = 3
        self.write()

    def write(self) -> None:
        u = self.emu.unit(1)
        total = 0.0
        for p in range(3):
            car = self.car_a if p < self.car_phases else 0.0
            watts = HOUSE_W - self.pv_w / 3 + car * VOLT
            total += watts
            u.f32("input", 0x00 + 2 * p, VOLT)
            u.f32("input", 0x06 + 2 * p, abs(watts) / VOLT)
            u.f32("input", 0x0C + 2 * p, watts)
        for addr in range(0x12, 0x34):
            u.input.setdefault(addr, 0)
        u.f32("input", 0x34, total)
        u.f32("input", 0x48, 100.0)
        u.f32("input", 0x4A, 10.0)

    def sun(self, watts: float) -> None:
        self.pv_w = watts
        self.write()


@dataclass
class Loop:
    loop: ControlLoop
    meter: Meter
    devices: list[dict[str, Any]]
    seen: list[dict[str, Any]] = field(default_factory=list)

    async def until(self, pred: Any, timeout_s: float = 30.0) -> State:
        """Cycles the loop every 0.2 s until pred(state) holds; bounded in time."""
        t0 = time.monotonic()
        while time.monotonic() - t0 < timeout_s:
            state = await self.loop.cycle()
            if pred(state):
                return state
            await asyncio.sleep(0.2)
        e = state.evses[0]
        raise AssertionError(f"not reached in {timeout_s} s: {e.reason} at {e.setpoint_a} A")

    def events(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.seen if e["event"] == kind]


async def _follow(proc: asyncio.subprocess.Process, lp: Loop) -> None:
    """Feeds each draw the car reports into the meter (the closed loop)."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        event = json.loads(line)
        lp.seen.append(event)
        if event["event"] == "draw":
            lp.meter.car_a = float(event["amps"])
            lp.meter.car_phases = int(event["phases"])
            lp.meter.write()


@asynccontextmanager
async def closed_loop(tmp_path: Path, mode: str, *box_args: str) -> AsyncIterator[Loop]:
    node = require_node()
    async with running_server(tmp_path) as (server, _), Emulator() as emu:
        pool = BusPool()
        ctx = DeviceContext(ocpp=server, buses=pool)
        table = registry.drivers()
        loop = ControlLoop(
            build_device=lambda cfg: registry.build(registry.spec_of(cfg), ctx, table),
            events=EventLog(),
        )
        s = Settings()
        s.site.max_current_a = 32.0
        s.site.control_interval_s = 0.2
        s.site.pv_enable_delay_s = 1.0
        s.site.pv_disable_delay_s = 2.0
        s.site.surplus_average_s = 5.0  # the box reports its power a moment after the meter
        s.site.surplus_reserve_w = 0.0
        s.site.resume_delay_s = 0.0
        loop.set_settings(s)
        meter = {"id": "grid", "name": "Grid", "kind": "meter", "driver": "sdm630",
                 "address": emu.address, "role": "grid"}  # fmt: skip
        box = {"id": "box", "name": "Carport", "kind": "evse", "driver": "ocpp",
               "address": "SOLAR1", "charge_mode": mode}  # fmt: skip
        lp = Loop(loop, Meter(emu), [meter, box])
        await loop.set_devices(lp.devices)
        proc = await asyncio.create_subprocess_exec(
            node, "solar_box.js", str(server.port), "SOLAR1", *box_args, cwd=INTEROP,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        feeder = asyncio.create_task(_follow(proc, lp))
        try:
            yield lp
            assert not lp.events("error"), lp.events("error")
        finally:
            if proc.returncode is None and proc.stdin is not None:
                proc.stdin.write(b"stop\n")
                try:
                    await asyncio.wait_for(proc.wait(), 5)
                except TimeoutError:
                    proc.kill()
                    await proc.wait()
            feeder.cancel()
            await loop.close()
            await pool.close()


async def test_pv_mode_follows_the_surplus_through_a_real_ocpp_box(tmp_path: Path) -> None:
    async with closed_loop(tmp_path, "pv") as lp:
        # no sun: the car waits, held at 0 A
        await lp.until(lambda s: s.evses[0].reason.code == "pv_waiting")
        assert lp.meter.car_a == 0.0
        # 7 kW of PV: after the enable delay the car takes the surplus, the grid ~0 (the box
        # reports its power a moment after the meter sees it: until then the surplus looks
        # short and a stop countdown may run; it ends when the report comes)
        lp.meter.sun(7000.0)
        expected = (7000.0 - 3 * HOUSE_W) / (3 * VOLT)  # 8.8 A
        state = await lp.until(
            lambda s: abs(lp.meter.car_a - expected) < 0.6 and s.evses[0].reason.code == "pv_budget"
        )
        assert state.site.grid_w == pytest.approx(0.0, abs=3 * VOLT * 0.6)
        # more sun: the offer rises with it, still no import
        lp.meter.sun(10000.0)
        expected = (10000.0 - 3 * HOUSE_W) / (3 * VOLT)  # 13.2 A
        surplus = 10000.0 - 3 * HOUSE_W  # what the car takes plus what is exported
        state = await lp.until(
            lambda s: (
                abs(lp.meter.car_a - expected) < 0.6
                and abs((s.site.surplus_w or 0.0) - surplus) < 450
            ),
        )
        assert state.site.grid_w == pytest.approx(0.0, abs=3 * VOLT * 0.6)
        # mode off: 0 A and the box stays under control (its profiles are not cleared)
        lp.devices[1]["charge_mode"] = "off"
        await lp.loop.set_devices(lp.devices)
        state = await lp.until(lambda s: lp.meter.car_a == 0.0)
        assert state.evses[0].reason.code == "mode_off" and state.evses[0].enabled
        assert not lp.events("cleared")


async def test_small_surplus_switches_an_ocpp_box_to_one_phase(tmp_path: Path) -> None:
    """2.5 kW of PV do not carry 3 x 6 A but 1 x 6 A: the box that says it can switch is told
    numberPhases 1 while paused, and the car charges on one phase from the surplus."""
    async with closed_loop(tmp_path, "pv", "switch") as lp:
        await lp.until(lambda s: s.evses[0].reason.code == "pv_waiting")
        lp.meter.sun(2500.0)
        expected = (2500.0 - 3 * HOUSE_W) / VOLT  # 7 A on one phase
        state = await lp.until(
            lambda s: lp.meter.car_phases == 1 and abs(lp.meter.car_a - expected) < 0.6
        )
        assert state.evses[0].phases_active == 1
        assert state.site.grid_w == pytest.approx(0.0, abs=VOLT * 0.6)
        assert not lp.events("under_load")  # switched while the car drew nothing
