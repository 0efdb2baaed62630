"""A simulated house: household load with events, PV on a day curve, wallboxes with cars.

One SimWorld per manager. The simulated grid meter sees the household, the PV and whatever the
simulated cars draw, mapped onto site phases, so load management acts on a believable site.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from devices.driver import DeviceContext, Driver, DriverOptions
from manager.model import (
    PHASES,
    ROTATIONS,
    ChargeStatus,
    DeviceError,
    DeviceSpec,
    EvseReading,
    MeterReading,
    Reason,
    Triple,
)

VOLTAGE = 230.0
#: a car follows a new offer with this time constant (s), as EVs take seconds to settle
CAR_TAU_S = 2.5
#: a box whose driver was closed and not rebuilt within this time leaves the site (s)
REMOVE_AFTER_S = 5.0


@dataclass(frozen=True)
class LoadEvent:
    name: str
    current_a: Triple
    duration_s: float


#: what switches on in a house now and then: per-phase amperes and how long
HOUSEHOLD_EVENTS: tuple[LoadEvent, ...] = (
    LoadEvent("cooker", (9.0, 8.0, 8.5), 240.0),
    LoadEvent("kettle", (0.0, 9.5, 0.0), 90.0),
    LoadEvent("heat pump", (4.0, 4.0, 4.0), 600.0),
    LoadEvent("washing machine", (0.0, 0.0, 9.0), 300.0),
    LoadEvent("hair dryer", (8.0, 0.0, 0.0), 60.0),
)


@dataclass(frozen=True)
class CarType:
    name: str
    phases: int
    max_a: float
    battery_wh: float


CAR_TYPES: dict[str, CarType] = {
    "1p16": CarType("1-phase 16 A", 1, 16.0, 40_000),
    "1p32": CarType("1-phase 32 A", 1, 32.0, 40_000),
    "3p16": CarType("3-phase 16 A", 3, 16.0, 60_000),
    "3p32": CarType("3-phase 32 A", 3, 32.0, 80_000),
}


@dataclass
class SimCar:
    kind: CarType
    need_wh: float
    draw_a: float = 0.0  # per used phase

    @property
    def full(self) -> bool:
        return self.need_wh <= 0


@dataclass
class SimBattery:
    """A home battery behind the grid meter that keeps the grid at 0: it charges with what
    would be exported and gives what would be imported, within its power and charge."""

    capacity_wh: float = 10_000.0
    soc_pct: float = 50.0
    max_w: float = 3000.0
    power_w: float = 0.0  # > 0 charging

    def follow(self, net_w: float, dt_s: float) -> None:
        """Set its power for a grid balance of `net_w` (import > 0) and move its charge."""
        want = max(-self.max_w, min(self.max_w, -net_w))
        if (want > 0 and self.soc_pct >= 100.0) or (want < 0 and self.soc_pct <= 5.0):
            want = 0.0
        self.power_w = want
        self.soc_pct = min(100.0, max(0.0, self.soc_pct + want * dt_s / 36.0 / self.capacity_wh))


class SimWorld:
    """Shared state of the simulated site; advanced lazily whenever a device is read."""

    def __init__(
        self,
        *,
        seed: int = 1,
        clock: Callable[[], float] = time.monotonic,
        wall_hour: Callable[[], float] | None = None,
        base_load_a: Triple = (1.2, 0.8, 1.0),
        pv_peak_w: float = 8000.0,
        pv_curve: Callable[[float], float] | None = None,
        event_gap_s: tuple[float, float] = (20.0, 90.0),
    ) -> None:
        self.rng = random.Random(seed)
        self.clock = clock
        self.wall_hour = wall_hour or _local_hour
        self.base_load_a = base_load_a
        self.pv_peak_w = pv_peak_w
        #: PV power (W) by hour of the day; None: a clear day's sine up to pv_peak_w
        self.pv_curve = pv_curve
        #: time between two household events (s): from, to
        self.event_gap_s = event_gap_s
        self.evses: dict[str, SimEvse] = {}
        #: a home battery, there once a simulated meter with role `battery` is configured
        self.battery: SimBattery | None = None
        self.active: list[tuple[LoadEvent, float]] = []  # event, end time
        self._next_event = self.clock() + 5.0
        self._last = self.clock()

    def step(self) -> None:
        now = self.clock()
        if now < self._last:
            return
        self.active = [(ev, end) for ev, end in self.active if end > now]
        if now >= self._next_event:
            ev = self.rng.choice(HOUSEHOLD_EVENTS)
            if all(a.name != ev.name for a, _ in self.active):
                self.active.append((ev, now + ev.duration_s))
            self._next_event = now + self.rng.uniform(*self.event_gap_s)
        for evse_id, evse in list(self.evses.items()):
            if evse.closed_at is not None and now - evse.closed_at > REMOVE_AFTER_S:
                del self.evses[evse_id]  # deleted for good: the box is gone
            else:
                evse.advance(now)
        if self.battery is not None:
            self.battery.follow(sum(self._net_a()) * VOLTAGE, now - self._last)
        self._last = now

    def household_a(self) -> Triple:
        cur = list(self.base_load_a)
        for ev, _ in self.active:
            for p in range(PHASES):
                cur[p] += ev.current_a[p]
        return (cur[0], cur[1], cur[2])

    def pv_w(self) -> float:
        hour = self.wall_hour()
        if self.pv_curve is not None:
            return round(max(0.0, self.pv_curve(hour)), 1)
        sun = math.sin(math.pi * (hour - 6.0) / 14.0) if 6.0 < hour < 20.0 else 0.0
        return round(self.pv_peak_w * max(0.0, sun) * 0.9, 1)

    def grid_a(self) -> Triple:
        cur = self._net_a()
        if self.battery is not None:
            for p in range(PHASES):
                cur[p] += self.battery.power_w / VOLTAGE / PHASES
        return (cur[0], cur[1], cur[2])

    def _net_a(self) -> list[float]:
        """House + cars - PV per phase, before the battery."""
        cur = list(self.household_a())
        pv_phase = self.pv_w() / VOLTAGE / PHASES
        for p in range(PHASES):
            cur[p] -= pv_phase
        for evse in self.evses.values():
            site = evse.site_current_a()
            for p in range(PHASES):
                cur[p] += site[p]
        return cur


def _local_hour() -> float:
    t = time.localtime()
    return t.tm_hour + t.tm_min / 60.0


class SimMeter:
    """Grid meter (household + cars - PV + battery), PV meter or home battery of the site."""

    def __init__(self, world: SimWorld, role: str, opts: SimMeterOptions) -> None:
        self.world = world
        self.role = role
        self.offline = opts.offline
        self.latency_s = opts.latency_s
        self.import_wh = 0.0
        self.export_wh = 0.0
        self._last = world.clock()
        if role == "battery" and world.battery is None:
            world.battery = SimBattery()

    async def read(self) -> MeterReading:
        if self.latency_s:
            await asyncio.sleep(self.latency_s)
        if self.offline:
            raise DeviceError("simulated meter is offline")
        self.world.step()
        soc = None
        if self.role == "pv":
            p_pv = self.world.pv_w()
            cur = tuple(-p_pv / VOLTAGE / PHASES for _ in range(PHASES))
        elif self.role == "battery" and self.world.battery is not None:
            battery = self.world.battery
            cur = tuple(battery.power_w / VOLTAGE / PHASES for _ in range(PHASES))
            soc = round(battery.soc_pct, 1)
        else:
            cur = self.world.grid_a()
        power = tuple(round(c * VOLTAGE, 1) for c in cur)
        total = sum(power)
        now = self.world.clock()
        dt_h = max(0.0, now - self._last) / 3600.0
        self._last = now
        if total >= 0:
            self.import_wh += total * dt_h
        else:
            self.export_wh -= total * dt_h
        return MeterReading(
            current_a=(round(cur[0], 2), round(cur[1], 2), round(cur[2], 2)),
            voltage_v=(VOLTAGE, VOLTAGE, VOLTAGE),
            power_w=(power[0], power[1], power[2]),
            total_power_w=round(total, 1),
            energy_import_wh=round(self.import_wh, 1),
            energy_export_wh=round(self.export_wh, 1),
            soc_pct=soc,
        )

    async def close(self) -> None:
        pass


class SimEvse:
    """A wallbox with a car that arrives, charges following the offer with a lag, and leaves."""

    #: its `user` field stands for the card presented at the box's reader (manager.model.ReadsTags)
    reads_tags = True

    def __init__(
        self, world: SimWorld, spec_id: str, opts: SimEvseOptions, rotation: str, phases: int
    ) -> None:
        self.world = world
        self.id = spec_id
        self.opts = opts
        self.rotation = ROTATIONS[rotation]
        self.phases = phases
        self.resolution_a = opts.resolution_a
        #: 1p/3p switching (manager.phaseswitch.PhaseSwitcher)
        self.switching = opts.phase_relay and phases == 3
        self.active_phases: int | None = 3 if self.switching else None
        #: how often the phases were switched, and how often while the car drew current
        self.switches = 0
        self.switched_under_load = 0
        self.car: SimCar | None = None
        self.offer_a = 0.0
        self.offer_phases = 3
        self.session_wh = 0.0
        self.energy_wh = 0.0
        self.user: str | None = None
        self._last = world.clock()
        self._next = self._last + (opts.arrive_after_s if opts.car == "auto" else 0.0)
        self._leave_at: float | None = None
        self.closed_at: float | None = None
        previous = world.evses.get(spec_id)
        if previous is not None:  # a new driver instance for the same physical box
            self.offer_a, self.offer_phases = previous.offer_a, previous.offer_phases
            self.energy_wh, self._last = previous.energy_wh, previous._last
        if previous is not None and previous.opts.car == opts.car:
            self.car, self.session_wh, self.user = previous.car, previous.session_wh, previous.user
            self._next, self._leave_at = previous._next, previous._leave_at
        elif opts.car not in ("auto", "none"):
            self._plug(CAR_TYPES[opts.car], need_wh=1e9)
        world.evses[spec_id] = self

    def _plug(self, kind: CarType, need_wh: float) -> None:
        self.car = SimCar(kind, need_wh)
        self.session_wh = 0.0
        self.user = self.opts.user
        self._leave_at = None

    def advance(self, now: float) -> None:
        dt = max(0.0, now - self._last)
        self._last = now
        if self.opts.car == "auto":
            self._arrivals(now)
        car = self.car
        if car is None:
            return
        limit = min(self.offer_a, car.kind.max_a) if self.offer_a >= 6.0 else 0.0
        if car.full or (self.opts.car_refuses_1p and self._one_phase()):
            limit = 0.0
        car.draw_a += (limit - car.draw_a) * (1.0 - math.exp(-dt / CAR_TAU_S))
        if car.draw_a < 0.05:
            car.draw_a = 0.0
        wh = car.draw_a * VOLTAGE * len(self._box_phases()) * dt / 3600.0
        car.need_wh -= wh
        self.session_wh += wh
        self.energy_wh += wh

    def _arrivals(self, now: float) -> None:
        rng = self.world.rng
        if self.car is None and now >= self._next:
            kind = CAR_TYPES[rng.choice(sorted(CAR_TYPES))]
            self._plug(kind, need_wh=rng.uniform(2_000, 20_000))
        elif self.car is not None and self.car.full:
            if self._leave_at is None:
                self._leave_at = now + rng.uniform(30.0, 120.0)
            elif now >= self._leave_at:
                self.car = None
                self.user = None
                self._next = now + rng.uniform(20.0, 120.0)

    def _one_phase(self) -> bool:
        return self.phases == 1 or self.offer_phases == 1

    def _box_phases(self) -> tuple[int, ...]:
        if self.car is None:
            return ()
        wired = 1 if self.phases == 1 or self.offer_phases == 1 else 3
        used = min(wired, self.car.kind.phases)
        return tuple(range(used))

    def box_current_a(self) -> Triple:
        cur = [0.0, 0.0, 0.0]
        if self.car is not None:
            for p in self._box_phases():
                cur[p] = self.car.draw_a
        return (cur[0], cur[1], cur[2])

    def site_current_a(self) -> Triple:
        box = self.box_current_a()
        site = [0.0, 0.0, 0.0]
        for p in range(PHASES):
            site[self.rotation[p]] += box[p]
        return (site[0], site[1], site[2])

    async def read(self) -> EvseReading:
        if self.opts.latency_s:
            await asyncio.sleep(self.opts.latency_s)
        if self.opts.offline:
            raise DeviceError("simulated wallbox is offline")
        self.world.step()
        if self.car is None:
            status = ChargeStatus.NO_CAR
        elif self.car.draw_a > 0.5:
            status = ChargeStatus.CHARGING
        else:
            status = ChargeStatus.CONNECTED
        cur = self.box_current_a()
        return EvseReading(
            status=status,
            current_a=(round(cur[0], 2), round(cur[1], 2), round(cur[2], 2)),
            voltage_v=(VOLTAGE, VOLTAGE, VOLTAGE),
            power_w=round(sum(cur) * VOLTAGE, 1),
            session_wh=round(self.session_wh, 1),
            energy_wh=round(self.energy_wh, 1),
            user=self.user,
            detail=f"car: {self.car.kind.name}" if self.car else None,
        )

    async def apply(self, setpoint_a: float, phases: int) -> None:
        if self.opts.offline:
            raise DeviceError("simulated wallbox is offline")
        self.world.step()
        self.offer(setpoint_a, phases)

    def offer(self, setpoint_a: float, phases: int) -> None:
        """What `apply` sets, also for a controller outside the manager (the bench)."""
        if self.switching and phases in (1, 3) and phases != self.active_phases:
            self.switches += 1
            if self.car is not None and self.car.draw_a > 0.5:
                self.switched_under_load += 1
            self.active_phases = phases
        self.offer_a = max(0.0, setpoint_a)
        self.offer_phases = phases

    async def deactivate(self) -> Reason:
        self.offer_a = self.opts.failsafe_current_a
        return Reason("released_failsafe", {"amps": self.opts.failsafe_current_a})

    async def close(self) -> None:
        # the box stays on the site a little, so a reconfigured driver finds its car again
        self.closed_at = self.world.clock()


class SimMeterOptions(DriverOptions):
    offline: bool = Field(False, description="Simulate a meter that does not answer")
    latency_s: float = Field(0.0, ge=0, le=30, description="Simulate a slow answer (s)")


class SimEvseOptions(DriverOptions):
    car: Literal["auto", "none", "1p16", "1p32", "3p16", "3p32"] = Field(
        "auto", description="'auto': cars come and go; else a car of that type stays plugged in"
    )
    arrive_after_s: float = Field(5.0, ge=0, description="Seconds until the first car arrives")
    user: str | None = Field(None, description="User (RFID) the simulated car reports")
    offline: bool = Field(False, description="Simulate a wallbox that does not answer")
    latency_s: float = Field(0.0, ge=0, le=30, description="Simulate a slow answer (s)")
    resolution_a: float = Field(0.1, gt=0, le=1, description="Setpoint step of the wallbox")
    failsafe_current_a: float = Field(6.0, ge=0, description="Current when released")
    phase_relay: bool = Field(False, description="Can switch between 1 and 3 phases")
    car_refuses_1p: bool = Field(False, description="The car does not charge on 1 phase")


def _world(ctx: DeviceContext) -> SimWorld:
    if ctx.sim is None:
        raise DeviceError("no simulated site in this manager")
    return ctx.sim


def _meter(spec: DeviceSpec, opts: SimMeterOptions, ctx: DeviceContext) -> SimMeter:
    role = str(spec.options.get("role", "grid"))
    return SimMeter(_world(ctx), role, opts)


def _evse(spec: DeviceSpec, opts: SimEvseOptions, ctx: DeviceContext) -> SimEvse:
    rotation = str(spec.options.get("phase_rotation", "L1L2L3"))
    phases = int(spec.options.get("phases", 3))  # type: ignore[call-overload]
    return SimEvse(_world(ctx), spec.id, opts, rotation, phases)


DRIVERS = (
    Driver("sim-meter", "meter", "Simulated meter", SimMeterOptions, _meter, testable=False),
    Driver("sim-evse", "evse", "Simulated wallbox with car", SimEvseOptions, _evse, testable=False),
)
