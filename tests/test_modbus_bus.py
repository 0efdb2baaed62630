"""The shared bus against real pymodbus servers on 127.0.0.1: sharing, lock and gap, faults."""

from __future__ import annotations

import asyncio
import itertools

import pytest
from modbus_emu import Emulator
from ports import free_port

from devices.driver import DeviceContext
from devices.modbus import codec
from devices.modbus.address import parse_address
from devices.modbus.bus import BusPool
from devices.modbus.eastron import EastronMeter, EastronOptions
from manager.model import DeviceError, DeviceSpec


def fill_sdm(emu: Emulator, unit_id: int, amps: float = 5.0) -> None:
    u = emu.unit(unit_id)
    u.put("input", 0, [0] * 0x4C)  # every register of the block exists on a real SDM630
    for i in range(9):
        u.f32("input", 2 * i, [230.0, 231.0, 232.0, amps, amps, amps, 1150.0, 1150, 1150][i])
    u.f32("input", 0x34, 3450.0)
    u.f32("input", 0x48, 100.0)
    u.f32("input", 0x4A, 2.5)


def meter(pool: BusPool, address: str, unit_id: int, **opts: object) -> EastronMeter:
    spec = DeviceSpec(f"m{unit_id}", f"meter {unit_id}", "meter", "sdm630", address)
    return EastronMeter(spec, EastronOptions(unit_id=unit_id, **opts), DeviceContext(buses=pool), 3)


@pytest.fixture
async def pool():
    p = BusPool(backoff_min_s=0.05, backoff_max_s=0.2)
    yield p
    await p.close()


async def test_units_on_one_endpoint_share_one_connection(pool: BusPool) -> None:
    async with Emulator() as emu:
        fill_sdm(emu, 1, 4.0)
        fill_sdm(emu, 2, 7.0)
        a, b = meter(pool, emu.address, 1), meter(pool, emu.address, 2)
        ra, rb = await asyncio.gather(a.read(), b.read())
        assert ra.current_a == (4.0, 4.0, 4.0) and rb.current_a == (7.0, 7.0, 7.0)
        await asyncio.gather(a.read(), b.read())
        assert emu.connections == 1
        assert len(pool.buses()) == 1 and pool.buses()[0].connects == 1
        await a.close()
        assert len(pool.buses()) == 1  # still used by b
        await b.close()
        assert pool.buses() == []


async def test_serial_style_bus_serialises_requests_with_a_gap(pool: BusPool) -> None:
    async with Emulator("rtu") as emu:
        meters = []
        for uid in (1, 2, 3, 4):
            fill_sdm(emu, uid)
            meters.append(meter(pool, emu.address, uid))
        readings = await asyncio.gather(*(m.read() for m in meters))
        assert all(r.total_power_w == 3450.0 for r in readings)
        times = [r.t for r in emu.log]
        assert len(times) == 4  # one block read per meter
        gaps = [b - a for a, b in itertools.pairwise(times)]
        assert min(gaps) >= 0.09  # 0.1 s Eastron gap, never two requests at once
        for m in meters:
            await m.close()


async def test_silent_unit_times_out_without_blocking_its_neighbour(pool: BusPool) -> None:
    async with Emulator("rtu") as emu:
        fill_sdm(emu, 1)
        fill_sdm(emu, 2)
        emu.unit(2).silent = True
        good = meter(pool, emu.address, 1, timeout_s=0.3)
        dead = meter(pool, emu.address, 2, timeout_s=0.2, retries=0)
        with pytest.raises(DeviceError, match=r"no answer to reading input registers .*0\.2 s"):
            await dead.read()
        assert (await good.read()).total_power_w == 3450.0
        for _ in range(2):  # after 3 failures in a row the unit is given a rest
            with pytest.raises(DeviceError):
                await dead.read()
        with pytest.raises(DeviceError, match="not answering; next try"):
            await dead.read()
        assert (await good.read()).total_power_w == 3450.0
        emu.unit(2).silent = False
        for _ in range(50):
            try:
                assert (await dead.read()).total_power_w == 3450.0
                break
            except DeviceError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("unit did not come back")
        await good.close()
        await dead.close()


async def test_wrong_unit_id_is_a_timeout_naming_the_unit(pool: BusPool) -> None:
    async with Emulator() as emu:
        fill_sdm(emu, 1)
        m = meter(pool, emu.address, 9, timeout_s=0.2, retries=1)
        with pytest.raises(DeviceError, match=r"unit 9"):
            await m.read()
        await m.close()


async def test_exception_response_is_reported_with_its_code(pool: BusPool) -> None:
    async with Emulator() as emu:
        fill_sdm(emu, 1)
        emu.unit(1).fail_with = 4
        m = meter(pool, emu.address, 1)
        with pytest.raises(DeviceError, match=r"exception 4 \(device failure\)"):
            await m.read()
        emu.unit(1).fail_with = None
        del emu.unit(1).input[0x4A]
        with pytest.raises(DeviceError, match=r"exception 2 \(illegal data address\)"):
            await m.read()
        await m.close()


async def test_driver_reconnects_after_the_server_restarts(pool: BusPool) -> None:
    emu = await Emulator().start()
    try:
        fill_sdm(emu, 1)
        m = meter(pool, emu.address, 1, timeout_s=0.3)
        assert (await m.read()).total_power_w == 3450.0
        await emu.stop()
        with pytest.raises(DeviceError):
            await m.read()
        await emu.start()  # same port, same registers
        for _ in range(100):
            try:
                reading = await m.read()
                break
            except DeviceError:
                await asyncio.sleep(0.05)
        else:
            pytest.fail("no reconnect")
        assert reading.total_power_w == 3450.0
        assert emu.connections == 2
        await m.close()
    finally:
        await emu.stop()


async def test_unreachable_device_fails_fast_with_the_last_error(pool: BusPool) -> None:
    m = meter(pool, f"127.0.0.1:{free_port()}", 1, timeout_s=0.5)
    with pytest.raises(DeviceError, match=r"cannot connect to 127\.0\.0\.1"):
        await m.read()
    with pytest.raises(DeviceError, match="next attempt in"):
        await m.read()  # inside the back-off: refused at once, no waiting
    await m.close()


async def test_bad_address_or_missing_pool_fails_on_use_not_on_build(pool: BusPool) -> None:
    bad = meter(pool, "host:notaport", 1)
    with pytest.raises(DeviceError, match="port must be a number"):
        await bad.read()
    spec = DeviceSpec("x", "x", "meter", "sdm630", "127.0.0.1")
    orphan = EastronMeter(spec, EastronOptions(), DeviceContext(), 3)
    with pytest.raises(DeviceError, match="no Modbus bus pool"):
        await orphan.read()


async def test_one_serial_port_cannot_have_two_settings(pool: BusPool) -> None:
    pool.acquire(parse_address("rtu:/dev/ttyX?baud=9600"))
    with pytest.raises(DeviceError, match="same framing and settings"):
        pool.acquire(parse_address("rtu:/dev/ttyX?baud=19200"))


async def test_serial_port_error_is_explained(pool: BusPool) -> None:
    m = meter(pool, "rtu:/dev/ampshare-no-such-port", 1, timeout_s=0.5)
    with pytest.raises(DeviceError, match=r"pyserial|no-such-port"):
        await m.read()
    await m.close()


def test_encoders_round_trip_for_emulated_registers() -> None:
    assert codec.u32(codec.enc_u32(70000, "little"), "little") == 70000
