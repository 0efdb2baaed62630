"""Wallbox drivers against emulated boxes: status, values, setpoints and their safety net."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from modbus_emu import Emulator

from devices.driver import DeviceContext
from devices.modbus import codec, wallbox
from devices.modbus.bus import BusPool
from devices.registry import build, drivers
from manager.model import ChargeStatus, DeviceError, DeviceSpec, Reason


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
        assert msg == Reason("watchdog_off", {"amps": 16.0})
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


def cfos(emu: Emulator, state: int = 2, relay: int = 0) -> None:
    u = emu.unit(1)
    u.put("holding", 8058, codec.enc_u64(54321) + codec.enc_i32(7360))
    for i, a in enumerate((160, 160, 0)):
        u.put("holding", 8064 + 2 * i, codec.enc_u32(a))
    u.put("holding", 8092, [state, 0, 0])
    u.holding[8087] = relay


async def test_cfos_reads_and_writes_current_and_enable(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        cfos(emu)
        b = box(ctx, "cfos", emu.address)
        r = await b.read()
        assert r.status == ChargeStatus.CHARGING
        assert r.current_a == (16.0, 16.0, 0.0) and r.power_w == 7360.0
        assert r.energy_wh == 54321.0
        await b.apply(10.55, 3)
        h = emu.unit(1).holding
        assert (h[8093], h[8094]) == (105, 1)
        await b.apply(0, 3)
        assert h[8094] == 0
        assert (await b.deactivate()).params["amps"] == 16.0
        assert (h[8093], h[8094]) == (160, 1)
        await b.close()


async def test_cfos_phase_switch_pauses_first_and_holds(
    ctx: DeviceContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with Emulator() as emu:
        cfos(emu, relay=0)
        b = box(ctx, "cfos", emu.address, phase_relay=True)
        await b.read()
        h = emu.unit(1).holding
        await b.apply(10.0, 3)
        assert (h[8093], h[8094], h[8087]) == (100, 1, 0)
        emu.log.clear()
        await b.apply(10.0, 1)
        writes = [(w.address, w.values) for w in emu.writes()]
        assert writes == [(8094, [0]), (8087, [1])]  # paused, then switched
        await b.apply(10.0, 1)
        assert h[8094] == 0  # still held off
        monkeypatch.setattr(wallbox, "PHASE_HOLD_S", 0.0)
        await b.apply(10.0, 3)  # back to 3 phases: pause + switch, no hold now
        await b.apply(10.0, 3)
        assert (h[8087], h[8094]) == (0, 1)
        await b.close()


def phoenix(emu: Emulator, unit_id: int = 255, current_reg: int = 16) -> None:
    u = emu.unit(unit_id)
    regs = [ord("C"), *[0] * 21]
    for i, v in enumerate((230, 231, 229, 16, 16, 0, 7360)):
        regs[8 + 2 * i : 10 + 2 * i] = codec.enc_i32(v, "little")
    u.put("input", 100, regs)
    u.coils[400] = False
    u.holding[528] = current_reg
    u.put("holding", 904, codec.enc_u32(45678, "little"))
    u.put("holding", 2980, codec.enc_u64(98765, "little"))


async def test_phoenix_whole_amperes_and_enable_coil(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        phoenix(emu)
        b = box(ctx, "phoenix", emu.address)
        r = await b.read()
        assert r.status == ChargeStatus.CHARGING and b.resolution_a == 1.0
        assert r.current_a == (16.0, 16.0, 0.0) and r.voltage_v == (230.0, 231.0, 229.0)
        assert r.power_w == 7360.0 and r.energy_wh == 45678.0
        await b.apply(10.7, 3)
        assert emu.unit(255).holding[528] == 10 and emu.unit(255).coils[400] is True
        await b.apply(0, 3)
        assert emu.unit(255).coils[400] is False
        await b.close()


async def test_wallbe_extended_firmware_uses_tenths(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        phoenix(emu, current_reg=160)
        b = box(ctx, "wallbe", emu.address)
        r = await b.read()
        assert b.resolution_a == 0.1 and r.energy_wh == 98765.0
        await b.apply(10.7, 3)
        assert emu.unit(255).holding[528] == 107
        await b.close()


async def test_abl_ascii_every_request_twice(ctx: DeviceContext) -> None:
    async with Emulator("ascii") as emu:
        u = emu.unit(1)
        u.holding[0x04] = 0xC2
        u.put("holding", 0x2E, [0x00C2, 267, 0, 158, 160])  # L3, L2, L1 in 0.1 A
        u.holding[0x14] = 1000
        b = box(ctx, "abl-emh1", emu.address)
        r = await b.read()
        assert r.status == ChargeStatus.CHARGING
        assert r.current_a == (16.0, 15.8, 0.0)
        assert r.power_w == round(31.8 * 230, 1)
        assert [(x.fc, x.address) for x in emu.log] == [(3, 4), (3, 4), (3, 0x2E), (3, 0x2E)]
        await b.apply(10.0, 3)
        assert u.holding[0x14] == 166  # duty = I / 0.06
        assert len(emu.writes()) == 2
        await b.apply(3.0, 3)
        assert u.holding[0x14] == 1000  # charging disabled
        u.holding[0x04] = 0xF4
        r = await b.read()
        assert r.status == ChargeStatus.ERROR and r.detail == "upstream communication timeout"
        await b.close()


def alfen(emu: Emulator, unit_id: int = 1, state: str = "C2") -> None:
    u = emu.unit(unit_id)
    u.put("holding", 300, [0] * 78)
    for addr, v in ((306, 230.1), (308, 231.0), (310, 229.5), (320, 15.9), (322, 16.0)):
        u.f32("holding", addr, v)
    u.f32("holding", 324, 0.0)
    u.f32("holding", 344, 7300.0)
    u.put("holding", 374, codec.enc_f64(123456.5))
    u.put("holding", 1200, [0] * 16)
    u.put("holding", 1201, codec.enc_text(state, 5))
    u.put("holding", 1208, codec.enc_u32(60))
    u.f32("holding", 1212, 6.0)
    u.holding[1215] = 3


async def test_alfen_setpoint_both_words_and_safety_net(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        alfen(emu)
        b = box(ctx, "alfen", emu.address, failsafe_current_a=8)
        r = await b.read()
        u = emu.unit(1)
        assert codec.f32(u.get("holding", 1212, 2)) == 8.0
        assert r.status == ChargeStatus.CHARGING and r.energy_wh == 123456.5
        assert r.current_a == (15.9, 16.0, 0.0) and r.power_w == 7300.0
        emu.log.clear()
        await b.apply(12.5, 3)
        [w] = emu.writes()
        assert (w.fc, w.address, w.count) == (16, 1210, 2)
        assert codec.f32(u.get("holding", 1210, 2)) == 12.5
        u.put("holding", 1208, codec.enc_u32(10))  # validity running out
        emu.log.clear()
        await b.read()
        assert [w.address for w in emu.writes()] == [1210]  # rewritten by the poll
        msg = await b.deactivate()
        assert codec.f32(u.get("holding", 1210, 2)) == 16.0
        assert msg == Reason("refresh_stopped", {"amps": 16.0, "safe_a": 8.0})
        await b.close()


async def test_alfen_read_only_safe_current_and_two_sockets_one_connection(
    ctx: DeviceContext,
) -> None:
    async with Emulator() as emu:
        alfen(emu, 1)
        alfen(emu, 2, state="B1")
        emu.unit(1).read_only.update({1212, 1213})
        emu.unit(2).read_only.update({1212, 1213})
        s1 = box(ctx, "alfen", emu.address, unit_id=1)
        s2 = box(ctx, "alfen", emu.address, unit_id=2)
        r1, r2 = await asyncio.gather(s1.read(), s2.read())
        assert r1.status == ChargeStatus.CHARGING and r2.status == ChargeStatus.CONNECTED
        assert "box's own configuration" in (s1.setup_note or "")
        assert emu.connections == 1  # the box allows few masters: one shared connection
        await s1.close()
        await s2.close()
