"""Meter drivers against emulated register maps: SI values, signed currents, no-value markers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from modbus_emu import Emulator

from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from devices.registry import build, drivers
from manager.model import NONE3, DeviceError, DeviceSpec, MeterReading


@pytest.fixture
async def ctx():
    pool = BusPool(backoff_min_s=0.05, backoff_max_s=0.2)
    yield DeviceContext(buses=pool)
    await pool.close()


async def read_once(ctx: DeviceContext, driver: str, address: str, **opts: Any) -> MeterReading:
    spec = DeviceSpec("m", "meter", "meter", driver, address, options={"role": "grid", **opts})
    device = build(spec, ctx, drivers())
    try:
        return await device.read()  # type: ignore[return-value]
    finally:
        await device.close()


def sdm(emu: Emulator, unit_id: int = 1, *, phases: int = 3) -> None:
    u = emu.unit(unit_id)
    values = {
        0x00: 231.2, 0x02: 229.8, 0x04: 233.0,  # V
        0x06: 5.2, 0x08: 3.1, 0x0A: 0.4,  # A (magnitudes)
        0x0C: 1190.0, 0x0E: -700.0, 0x10: 80.0,  # W, L2 exporting
        0x34: 570.0, 0x48: 1234.5, 0x4A: 321.25,  # total W, kWh
    }  # fmt: skip
    for addr, v in values.items():
        if phases == 3 or addr >= 0x34 or addr in (0x00, 0x06, 0x0C):
            u.f32("input", addr, v)
    if phases == 3:
        for addr in range(0x12, 0x34):  # registers between the blocks exist on the meter
            u.input.setdefault(addr, 0)


async def test_sdm630_reads_si_values_with_signed_phase_currents(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        sdm(emu, 3)
        r = await read_once(ctx, "sdm630", emu.address, unit_id=3)
    assert r.voltage_v == (231.2, 229.8, 233.0)
    assert r.current_a == (5.2, -3.1, 0.4)
    assert r.power_w == (1190.0, -700.0, 80.0)
    assert r.total_power_w == 570.0
    assert r.energy_import_wh == 1234500.0 and r.energy_export_wh == 321250.0


async def test_sdm630_nan_means_no_value_not_zero(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        sdm(emu)
        emu.unit(1).f32("input", 0x08, math.nan)
        emu.unit(1).f32("input", 0x4A, math.nan)
        r = await read_once(ctx, "sdm630", emu.address)
    assert r.current_a == (5.2, None, 0.4)
    assert r.energy_export_wh is None


async def test_sdm72_v2_short_reads_and_v1_totals(ctx: DeviceContext) -> None:
    async with Emulator("rtu") as emu:
        sdm(emu, 1)
        sdm(emu, 2)
        emu.unit(1).max_count = 10
        emu.unit(2).max_count = 10
        v2 = await read_once(ctx, "sdm72v2", emu.address, unit_id=1)
        v1 = await read_once(ctx, "sdm72v1", emu.address, unit_id=2)
        assert max(r.count for r in emu.log) <= 10
        with pytest.raises(DeviceError, match="illegal data value"):
            await read_once(ctx, "sdm630", emu.address, unit_id=1)
    assert v2.current_a == (5.2, -3.1, 0.4)
    assert v1.current_a == NONE3 and v1.power_w == NONE3
    assert v1.total_power_w == 570.0 and v1.energy_import_wh == 1234500.0


async def test_sdm120_single_phase(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        sdm(emu, 1, phases=1)
        emu.unit(1).f32("input", 0x0C, -1190.0)
        r = await read_once(ctx, "sdm120", emu.address)
    assert r.current_a == (-5.2, None, None)
    assert r.voltage_v == (231.2, None, None)
    assert r.total_power_w == -1190.0
