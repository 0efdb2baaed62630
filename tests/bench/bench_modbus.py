"""Read phase of one control cycle: 8 devices on one RTU-style bus, and 8 TCP devices.

Run as `python tests/bench/bench_modbus.py`. Devices are emulated by pymodbus servers on
127.0.0.1 (RTU framing over TCP for the serial bus, so the bus lock and the 0.1 s gap between
requests are real). Target: the whole read phase of a cycle within 1 s.
"""

from __future__ import annotations

import asyncio
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modbus_emu import Emulator

from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from devices.registry import build, drivers
from manager.model import DeviceSpec

CYCLES = 10
TARGET_S = 1.0


def fill_sdm(emu: Emulator, unit_id: int) -> None:
    u = emu.unit(unit_id)
    u.put("input", 0, [0] * 0x4C)
    for i, v in enumerate((230.0, 231.0, 232.0, 5.0, 5.0, 5.0, 1150.0, 1150.0, 1150.0)):
        u.f32("input", 2 * i, v)
    u.f32("input", 0x34, 3450.0)


def fill_heidelberg(emu: Emulator, unit_id: int) -> None:
    u = emu.unit(unit_id)
    u.put("input", 4, [0x108, 7, 160, 160, 160, 300, 230, 230, 230, 0, 11000, 0, 0, 0, 0])
    u.put("input", 100, [16, 6])
    for reg in (257, 258, 259, 261, 262):
        u.holding[reg] = 0


async def cycle(devices: list) -> float:
    t0 = time.perf_counter()
    results = await asyncio.gather(*(d.read() for d in devices), return_exceptions=True)
    elapsed = time.perf_counter() - t0
    errors = [r for r in results if isinstance(r, BaseException)]
    if errors:
        raise SystemExit(f"read failed: {errors[0]}")
    return elapsed


def report(name: str, times: list[float], requests: int) -> bool:
    worst = max(times)
    ok = worst <= TARGET_S
    print(
        f"{name}: median {statistics.median(times) * 1000:.0f} ms, worst {worst * 1000:.0f} ms "
        f"per cycle over {len(times)} cycles, {requests} requests/cycle "
        f"-> {'OK' if ok else 'OVER'} (target {TARGET_S:.0f} s)"
    )
    return ok


async def serial_bus() -> bool:
    pool = BusPool()
    ctx = DeviceContext(buses=pool)
    table = drivers()
    async with Emulator("rtu") as emu:
        devices = []
        for uid in range(1, 9):
            if uid <= 4:
                fill_sdm(emu, uid)
                spec = DeviceSpec(f"m{uid}", f"m{uid}", "meter", "sdm630", emu.address,
                                  {"unit_id": uid})  # fmt: skip
            else:
                fill_heidelberg(emu, uid)
                spec = DeviceSpec(f"b{uid}", f"b{uid}", "evse", "heidelberg", emu.address,
                                  {"unit_id": uid})  # fmt: skip
            devices.append(build(spec, ctx, table))
        await cycle(devices)  # first cycle: connect, block-read probing, wallbox safety net
        emu.log.clear()
        times = [await cycle(devices) for _ in range(CYCLES)]
        requests = len(emu.log) // CYCLES
        for d in devices:
            await d.close()
    await pool.close()
    return report("8 devices on one RTU bus (4 SDM630 + 4 Heidelberg, 0.1 s gap)", times, requests)


async def tcp_parallel() -> bool:
    pool = BusPool()
    ctx = DeviceContext(buses=pool)
    table = drivers()
    emus = [await Emulator().start() for _ in range(8)]
    try:
        devices = []
        for i, emu in enumerate(emus):
            fill_sdm(emu, 1)
            spec = DeviceSpec(f"m{i}", f"m{i}", "meter", "sdm630", emu.address, {})
            devices.append(build(spec, ctx, table))
        await cycle(devices)
        for emu in emus:
            emu.log.clear()
        times = [await cycle(devices) for _ in range(CYCLES)]
        requests = sum(len(e.log) for e in emus) // CYCLES
        for d in devices:
            await d.close()
    finally:
        for emu in emus:
            await emu.stop()
        await pool.close()
    return report("8 TCP devices in parallel (SDM630 each on its own endpoint)", times, requests)


async def main() -> int:
    ok = await serial_bus()
    ok = await tcp_parallel() and ok
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
