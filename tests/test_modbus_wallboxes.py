"""Wallbox drivers against emulated boxes: status, values, setpoints and their safety net."""

from __future__ import annotations

from typing import Any

import pytest
from modbus_emu import Emulator

from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from devices.registry import build, drivers
from manager.model import ChargeStatus, DeviceError, DeviceSpec


@pytest.fixture
async def ctx():
    pool = BusPool(backoff_min_s=0.05, backoff_max_s=0.2)
    yield DeviceContext(buses=pool)
    await pool.close()


def box(ctx: DeviceContext, driver: str, address: str, **opts: Any) -> Any:
    spec = DeviceSpec("b", "box", "evse", driver, address, options={"phases": 3, **opts})
    return build(spec, ctx, drivers())


def heidelberg(emu: Emulator, unit_id: int = 1, state: int = 7) -> None:
    u = emu.unit(unit_id)
    u.put("input", 4, [0x108, state, 160, 158, 0, 300, 230, 231, 229, 0, 7300, 0, 5000, 0, 0])
    u.put("input", 17, [0x0001, 0x86A0])  # 100000 Wh total
    u.put("input", 100, [16, 6])
    for reg in (257, 258, 259, 261, 262):
        u.holding[reg] = 0


async def test_heidelberg_reads_and_follows_setpoints(ctx: DeviceContext) -> None:
    async with Emulator("rtu") as emu:
        heidelberg(emu, 2, state=4)
        b = box(ctx, "heidelberg", emu.address, unit_id=2, watchdog_s=20, failsafe_current_a=8)
        assert b.resolution_a == 0.1
        r = await b.read()
        assert r.status == ChargeStatus.CONNECTED
        h = emu.unit(2).holding
        assert (h[257], h[258], h[262]) == (20000, 4, 80)  # watchdog, standby off, failsafe
        emu.unit(2).input[5] = 7  # C2
        r = await b.read()
        assert r.status == ChargeStatus.CHARGING
        assert r.current_a == (16.0, 15.8, 0.0)
        assert r.voltage_v == (230.0, 231.0, 229.0)
        assert r.power_w == 7300.0 and r.energy_wh == 100000.0
        await b.apply(11.27, 3)
        assert h[261] == 112  # rounded down to 0.1 A
        await b.apply(25.0, 3)
        assert h[261] == 160  # box maximum
        await b.apply(5.0, 3)
        assert h[261] == 0  # below 6 A: paused
        msg = await b.deactivate()
        assert h[257] == 0 and h[261] == 160
        assert "watchdog switched off" in msg and "16 A" in msg
        await b.close()


async def test_heidelberg_error_state_and_rewrite_after_reboot(ctx: DeviceContext) -> None:
    async with Emulator("rtu") as emu:
        heidelberg(emu, 1, state=10)
        b = box(ctx, "heidelberg", emu.address, timeout_s=0.2, retries=0)
        r = await b.read()
        assert r.status == ChargeStatus.ERROR and r.detail == "box state F"
        emu.unit(1).silent = True  # the box reboots: no answer, then registers reset
        with pytest.raises(DeviceError, match="no answer"):
            await b.read()
        emu.unit(1).silent = False
        emu.unit(1).holding[257] = 0
        await b.read()
        assert emu.unit(1).holding[257] == 15000  # safety net written again
        await b.close()


async def test_heidelberg_session_energy_starts_at_plug_in(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        heidelberg(emu, 1, state=2)
        b = box(ctx, "heidelberg", emu.address)
        assert (await b.read()).session_wh == 0.0
        emu.unit(1).input[5] = 7
        assert (await b.read()).session_wh == 0.0
        emu.unit(1).put("input", 17, [0x0001, 0x86A0 + 1500])
        assert (await b.read()).session_wh == 1500.0
        await b.close()
