"""The simulated site behaves like a house: cars follow offers with a lag, the meter sees them."""

from __future__ import annotations

import pytest
from clock import Clock

from devices.driver import DeviceContext
from devices.registry import build, drivers
from devices.sim import SimWorld
from manager.model import ChargeStatus, DeviceError, DeviceSpec


def make(clock: Clock):
    world = SimWorld(clock=clock, pv_peak_w=0.0, base_load_a=(1.0, 1.0, 1.0))
    ctx = DeviceContext(sim=world)
    table = drivers()
    meter = build(
        DeviceSpec("g", "grid", "meter", "sim-meter", options={"role": "grid"}), ctx, table
    )
    return world, ctx, table, meter


async def test_one_phase_car_lands_on_rotated_site_phase() -> None:
    clock = Clock()
    world, ctx, table, meter = make(clock)
    world._next_event = 1e9  # no household events: only the car changes the meter
    opts = {"car": "1p16", "phase_rotation": "L2L3L1", "phases": 3}
    box = build(DeviceSpec("b", "box", "evse", "sim-evse", options=opts), ctx, table)
    await box.apply(10.0, 3)
    for _ in range(30):
        clock.t += 1.0
        reading = await box.read()
    grid = await meter.read()
    assert reading.status is ChargeStatus.CHARGING
    assert reading.current_a[0] == pytest.approx(10.0, abs=0.1)
    assert reading.current_a[1:] == (0.0, 0.0)
    assert grid.current_a[1] == pytest.approx(11.0, abs=0.1)  # base 1 A + car on site L2
    assert grid.current_a[0] == pytest.approx(1.0, abs=0.01)


async def test_car_follows_offer_with_a_lag_and_pauses_below_min() -> None:
    clock = Clock()
    _world, ctx, table, _ = make(clock)
    box = build(DeviceSpec("b", "box", "evse", "sim-evse", options={"car": "3p16"}), ctx, table)
    await box.apply(16.0, 3)
    clock.t += 1.0
    first = await box.read()
    assert 0 < first.current_a[0] < 16.0  # not instantly
    await box.apply(5.0, 3)  # below IEC min: the car stops
    for _ in range(30):
        clock.t += 1.0
        last = await box.read()
    assert last.status is ChargeStatus.CONNECTED
    assert last.current_a == (0.0, 0.0, 0.0)


async def test_offline_devices_raise() -> None:
    clock = Clock()
    _, ctx, table, _ = make(clock)
    spec = DeviceSpec("m", "dead", "meter", "sim-meter", options={"offline": True})
    meter = build(spec, ctx, table)
    with pytest.raises(DeviceError):
        await meter.read()
