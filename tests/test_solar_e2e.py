"""Solar charging end to end, in a closed loop: a real OCPP client (Node ocpp-rpc, strict
schemas, tests/interop/solar_box.js) whose car draws what its charging profiles allow, and an
emulated SDM630 grid meter (pymodbus) that sees that draw on top of the house and the PV. The
control loop reads the meter over Modbus TCP and steers the box over OCPP, on the real clock."""

from __future__ import annotations

import asyncio
import json
import time
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

pytestmark = pytest.mark.slow

VOLT = 230.0
HOUSE_W = 300.0  # per phase


class Site:
    """The emulated grid meter: house - PV + the car's draw, per phase."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.pv_w = 0.0
        self.car_a = 0.0
        self.write()

    def write(self) -> None:
        u = self.emu.unit(1)
        per_phase = HOUSE_W - self.pv_w / 3 + self.car_a * VOLT
        for p in range(3):
            u.f32("input", 0x00 + 2 * p, VOLT)
            u.f32("input", 0x06 + 2 * p, abs(per_phase) / VOLT)
            u.f32("input", 0x0C + 2 * p, per_phase)
        for addr in range(0x12, 0x34):
            u.input.setdefault(addr, 0)
        u.f32("input", 0x34, 3 * per_phase)
        u.f32("input", 0x48, 100.0)
        u.f32("input", 0x4A, 10.0)


async def follow(proc: asyncio.subprocess.Process, site: Site, seen: list[dict[str, Any]]) -> None:
    """Feeds each draw the car reports into the meter (the closed loop)."""
    assert proc.stdout is not None
    while line := await proc.stdout.readline():
        event = json.loads(line)
        seen.append(event)
        if event["event"] == "draw":
            site.car_a = float(event["amps"])
            site.write()


async def run_until(loop: ControlLoop, pred: Any, timeout_s: float = 30.0) -> Any:
    """Cycles the loop every 0.2 s until pred(state) holds; bounded in time."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout_s:
        state = await loop.cycle()
        if pred(state):
            return state
        await asyncio.sleep(0.2)
    e = state.evses[0]
    raise AssertionError(f"not reached in {timeout_s} s: {e.reason.code} at {e.setpoint_a} A")


async def test_pv_mode_follows_the_surplus_through_a_real_ocpp_box(tmp_path: Path) -> None:
    node = require_node()
    async with running_server(tmp_path) as (server, _), Emulator() as emu:
        site = Site(emu)
        pool = BusPool()
        ctx = DeviceContext(ocpp=server, buses=pool)
        table = registry.drivers()
        loop = ControlLoop(
            build_device=lambda cfg: registry.build(registry.spec_of(cfg), ctx, table),
            events=EventLog(),
        )
        settings = Settings()
        settings.site.max_current_a = 32.0
        settings.site.control_interval_s = 0.2
        settings.site.pv_enable_delay_s = 1.0
        settings.site.pv_disable_delay_s = 2.0
        settings.site.surplus_average_s = 5.0  # the box reports its power a moment late
        settings.site.surplus_reserve_w = 0.0
        settings.site.resume_delay_s = 0.0
        loop.set_settings(settings)
        meter = {"id": "grid", "name": "Grid", "kind": "meter", "driver": "sdm630",
                 "address": emu.address, "role": "grid"}  # fmt: skip
        box = {"id": "box", "name": "Carport", "kind": "evse", "driver": "ocpp",
               "address": "SOLAR1", "charge_mode": "pv"}  # fmt: skip
        await loop.set_devices([meter, box])
        proc = await asyncio.create_subprocess_exec(
            node, "solar_box.js", str(server.port), "SOLAR1", cwd=INTEROP,
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )  # fmt: skip
        seen: list[dict[str, Any]] = []
        feeder = asyncio.create_task(follow(proc, site, seen))
        try:
            # no sun: the car waits, held at 0 A
            state = await run_until(loop, lambda s: s.evses[0].status in ("paused", "connected"))
            state = await run_until(loop, lambda s: s.evses[0].reason.code == "pv_waiting")
            assert site.car_a == 0.0
            # 7 kW of PV: after the enable delay the car takes the surplus, the grid ~0
            site.pv_w = 7000.0
            site.write()
            state = await run_until(loop, lambda s: site.car_a > 0)
            expected = (7000.0 - 3 * HOUSE_W) / (3 * VOLT)  # 8.8 A
            # (the box reports its power a moment after the meter sees it: until then the
            # surplus looks short and a stop countdown may run; it ends when the report comes)
            state = await run_until(
                loop,
                lambda s: (
                    abs(site.car_a - expected) < 0.6 and s.evses[0].reason.code == "pv_budget"
                ),
            )
            assert state.site.grid_w == pytest.approx(0.0, abs=3 * VOLT * 0.6)
            # more sun: the offer rises with it, still no import
            site.pv_w = 10000.0
            site.write()
            expected = (10000.0 - 3 * HOUSE_W) / (3 * VOLT)  # 13.2 A
            surplus = 10000.0 - 3 * HOUSE_W  # what the car takes plus what is exported
            state = await run_until(
                loop,
                lambda s: (
                    abs(site.car_a - expected) < 0.6
                    and abs((s.site.surplus_w or 0.0) - surplus) < 450
                ),
            )
            assert state.site.grid_w == pytest.approx(0.0, abs=3 * VOLT * 0.6)
            # mode off: 0 A and the box stays under control (its profiles are not cleared)
            box["charge_mode"] = "off"
            await loop.set_devices([meter, box])
            state = await run_until(loop, lambda s: site.car_a == 0.0)
            assert state.evses[0].reason.code == "mode_off" and state.evses[0].enabled
            assert not [e for e in seen if e["event"] == "cleared"]
            assert not [e for e in seen if e["event"] == "error"]
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
