"""Meter drivers against emulated register maps: SI values, signed currents, no-value markers."""

from __future__ import annotations

import math
from typing import Any

import pytest
from modbus_emu import Emulator, Unit

from devices.driver import DeviceContext
from devices.modbus import codec
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


async def test_sdm630_one_block_read_or_fallback_to_single_values(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        emu.unit(1).put("input", 0, [0] * 0x4C)  # a meter with the whole block readable
        sdm(emu, 1)
        sdm(emu, 2)  # gaps in the block: answers "illegal data address"
        r1 = await read_once(ctx, "sdm630", emu.address, unit_id=1)
        r2 = await read_once(ctx, "sdm630", emu.address, unit_id=2)
        assert [(r.unit, r.count) for r in emu.log] == [
            (1, 0x4C),
            (2, 0x4C),
            (2, 18),
            (2, 2),
            (2, 4),
        ]
    assert r1 == r2


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


async def test_abb_b23_scaling_and_no_value_markers(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        u = emu.unit(1)
        for i, v in enumerate((2312, 2298, 0xFFFFFFFF)):  # L3 voltage: no value
            u.put("holding", 0x5B00 + 2 * i, codec.enc_u32(v))
        for i, v in enumerate((520, 310, 40)):
            u.put("holding", 0x5B0C + 2 * i, codec.enc_u32(v))
        u.put("holding", 0x5B12, [0, 0])
        for i, v in enumerate((57000, 119000, -70000, 0x7FFFFFFF)):  # total, L1, L2, L3
            u.put(
                "holding", 0x5B14 + 2 * i, codec.enc_i32(v) if v < 2**31 - 1 else [0x7FFF, 0xFFFF]
            )
        u.put("holding", 0x5000, codec.enc_u64(123450) + codec.enc_u64(32125))
        r = await read_once(ctx, "abb-b23", emu.address)
    assert r.voltage_v == (231.2, 229.8, None)
    assert r.current_a == (5.2, -3.1, 0.4)
    assert r.power_w == (1190.0, -700.0, None)
    assert r.total_power_w == 570.0
    assert r.energy_import_wh == 1234500.0 and r.energy_export_wh == 321250.0


def em24(emu: Emulator, *, e1: bool) -> None:
    u = emu.unit(1)
    words = [0] * 0x18
    for i, v in enumerate((2312, 2298, 2330, 0, 0, 0, 5200, 3100, 400, 11900, -7000, 800)):
        words[2 * i : 2 * i + 2] = codec.enc_i32(v, "little")
    u.put("input", 0, words)
    u.put("input", 0x28, codec.enc_i32(5700, "little"))
    if e1:
        u.put("input", 0x34, codec.enc_i32(12345, "little"))
        u.put("input", 0x4E, codec.enc_i32(3212, "little"))
    else:
        u.put("input", 0x42, codec.enc_i32(12345, "little"))


@pytest.mark.parametrize("e1", [False, True])
async def test_em24_low_word_first_both_maps(ctx: DeviceContext, e1: bool) -> None:
    async with Emulator() as emu:
        em24(emu, e1=e1)
        r = await read_once(ctx, "em24-e1" if e1 else "em24", emu.address)
    assert r.voltage_v == (231.2, 229.8, 233.0)
    assert r.current_a == (5.2, -3.1, 0.4)
    assert r.total_power_w == 570.0
    assert r.energy_import_wh == 1234500.0
    assert r.energy_export_wh == (321200.0 if e1 else None)


def sunspec_chain(u: Unit, base: int, models: list[tuple[int, list[int]]]) -> None:
    u.put("holding", base, [0x5375, 0x6E53])
    addr = base + 2
    for model, body in models:
        u.put("holding", addr, [model, len(body), *body])
        addr += 2 + len(body)
    u.put("holding", addr, [0xFFFF, 0])


def model_203() -> list[int]:
    body = [0] * 105
    body[0:5] = [87, 52, 31, 4, 0xFFFF]  # A total, AphA..C (A_SF -1 -> 5.2, 3.1, 0.4); A_SF
    body[6:9] = [2312, 2298, 2330]  # PhVphA..C; V_SF at body[13] = -1
    body[13] = 0xFFFF
    body[16:21] = [570, 1190, 0x10000 - 700, 80, 0]  # W, WphA..C, W_SF 0
    body[36:38] = codec.enc_u32(321250)  # TotWhExp
    body[44:46] = codec.enc_u32(1234500)  # TotWhImp
    body[52] = 0  # TotWh_SF
    return body


async def test_sunspec_finds_meter_203_after_the_common_model(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        sunspec_chain(emu.unit(1), 40000, [(1, [0] * 66), (203, model_203())])
        r = await read_once(ctx, "sunspec", emu.address)
    assert r.current_a == (5.2, -3.1, 0.4)
    assert r.voltage_v == (231.2, 229.8, 233.0)
    assert r.power_w == (1190.0, -700.0, 80.0) and r.total_power_w == 570.0
    assert r.energy_import_wh == 1234500.0 and r.energy_export_wh == 321250.0


async def test_sunspec_float_meter_at_base_zero(ctx: DeviceContext) -> None:
    body = [0] * 124
    for off, v in ((2, 8.7), (4, 5.2), (6, 3.1), (8, 0.4), (12, 231.2), (14, 229.8)):
        body[off - 2 : off] = codec.enc_f32(v)
    body[14:16] = codec.enc_f32(math.nan)  # PhVphC: no value
    for off, v in ((28, 570.0), (30, 1190.0), (32, -700.0), (34, 80.0), (60, 321250.0)):
        body[off - 2 : off] = codec.enc_f32(v)
    body[66:68] = codec.enc_f32(1234500.0)
    async with Emulator() as emu:
        emu.unit(1).put("holding", 40000, [0, 0])  # no marker at 40000
        sunspec_chain(emu.unit(1), 0, [(213, body)])
        r = await read_once(ctx, "sunspec", emu.address)
    assert r.current_a == (5.2, -3.1, 0.4)
    assert r.voltage_v == (231.2, 229.8, None)
    assert r.energy_import_wh == 1234500.0


async def test_sunspec_inverter_reads_as_pv_production(ctx: DeviceContext) -> None:
    body = [0] * 50
    body[0:5] = [150, 50, 50, 50, 0xFFFF]  # A, AphA..C, A_SF -1
    body[8:12] = [2300, 2310, 2320, 0xFFFF]  # PhVphA..C, V_SF -1
    body[12:14] = [3450, 0]  # W, W_SF
    body[22:25] = [*codec.enc_u32(9876543), 0]  # WH, WH_SF
    async with Emulator() as emu:
        sunspec_chain(emu.unit(1), 40000, [(1, [0] * 66), (103, body)])
        r = await read_once(ctx, "sunspec", emu.address)
        with pytest.raises(DeviceError, match=r"no SunSpec meter model found \(models .*103"):
            await read_once(ctx, "sunspec", emu.address, model="meter")
    assert r.total_power_w == -3450.0
    assert r.current_a == (-5.0, -5.0, -5.0)
    assert r.voltage_v == (230.0, 231.0, 232.0)
    assert r.energy_export_wh == 9876543.0


async def test_sunspec_without_marker_says_so(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        emu.unit(1).put("holding", 40000, [1, 2])
        with pytest.raises(DeviceError, match="no SunSpec 'SunS' marker"):
            await read_once(ctx, "sunspec", emu.address)
