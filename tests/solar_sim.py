"""Accelerated simulated days for the charging modes: a sunny, a cloudy and a winter day.

One day of the simulated site (devices/sim.py: PV curve, household load with its events,
cars) runs on a controlled clock, driven either by ampshare's control loop or by a reference
policy that does what evcc does (`Reference`: 30 s cycle, loadpoints in turn, its default
thresholds and delays). The same figures are taken from the simulated world for both, every
TICK_S seconds: car energy, how much of it came from the grid, pauses, phase switches, and
fuse overloads. Used by tests/test_solar_days.py and tests/bench/bench_solar.py.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from clock import Clock

from devices import registry
from devices.driver import DeviceContext
from devices.sim import VOLTAGE, SimEvse, SimWorld
from manager.config import Settings
from manager.control import ControlLoop
from manager.events import EventLog

#: figures are taken this often (s of simulated time)
TICK_S = 5.0
DAY_S = 86400.0
FUSE_A = 35.0
#: a phase above the fuse for longer than cars need to follow a cut is a violation (s)
OVERLOAD_GRACE_S = 10.0


def sunny(hour: float) -> float:
    """A clear summer day: 10 kWp, sun from 5:30 to 21:30."""
    return 9000.0 * max(0.0, math.sin(math.pi * (hour - 5.5) / 16.0)) ** 1.3


def cloudy_curve(seed: int = 7) -> Callable[[float], float]:
    """A summer day with clouds passing: 1-8 min shade at 15-40 % now and then."""
    rng = random.Random(seed)
    shade: list[tuple[float, float, float]] = []  # start, end (hour), factor
    t = 5.5
    while t < 21.5:
        t += rng.uniform(3, 25) / 60.0
        length = rng.uniform(1, 8) / 60.0
        shade.append((t, t + length, rng.uniform(0.15, 0.4)))
        t += length

    def curve(hour: float) -> float:
        factor = 0.7  # haze all day
        for start, end, f in shade:
            if start <= hour < end:
                factor = f
                break
        return sunny(hour) * factor

    return curve


def winter(hour: float) -> float:
    """A winter day: sun from 8:15 to 16:15, at most 3.2 kW."""
    return 3200.0 * max(0.0, math.sin(math.pi * (hour - 8.25) / 8.0)) ** 1.5


DAYS: dict[str, Callable[[float], float]] = {
    "sunny": sunny,
    "cloudy": cloudy_curve(),
    "winter": winter,
}


@dataclass
class BoxFigures:
    energy_wh: float = 0.0
    grid_wh: float = 0.0  # what came from the grid while it charged
    min_wh: float = 0.0  # its min current's energy over the time it charged
    pauses: int = 0
    switches: int = 0
    switched_under_load: int = 0
    offered: bool = False


@dataclass
class DayFigures:
    boxes: dict[str, BoxFigures] = field(default_factory=dict)
    violations: int = 0
    pv_wh: float = 0.0
    export_wh: float = 0.0

    @property
    def energy_wh(self) -> float:
        return sum(b.energy_wh for b in self.boxes.values())

    @property
    def grid_wh(self) -> float:
        return sum(b.grid_wh for b in self.boxes.values())

    @property
    def solar_share(self) -> float:
        e = self.energy_wh
        return (e - self.grid_wh) / e if e > 0 else 0.0

    @property
    def pauses(self) -> int:
        return sum(b.pauses for b in self.boxes.values())

    @property
    def switches(self) -> int:
        return sum(b.switches for b in self.boxes.values())


@dataclass(frozen=True)
class Car:
    """A box and the car at it: plugged in from `arrive` to `leave` (hours), needing `need_wh`."""

    box: str
    mode: str
    kind: str = "3p16"
    arrive: float = 7.0
    leave: float = 19.0
    need_wh: float = 40_000.0
    switching: bool = True
    priority: int = 1


def world_for(curve: Callable[[float], float], clock: Clock, seed: int = 1) -> SimWorld:
    world = SimWorld(
        seed=seed,
        clock=clock,
        wall_hour=lambda: (clock.t % DAY_S) / 3600.0,
        base_load_a=(1.5, 1.0, 1.2),
        pv_curve=curve,
        event_gap_s=(300.0, 2400.0),
    )
    world._next_event = 60.0
    return world


class Day:
    """One simulated day: the world, the cars' comings and goings, and the figures."""

    def __init__(self, curve: Callable[[float], float], cars: list[Car], seed: int = 1):
        self.clock = Clock()
        self.world = world_for(curve, self.clock, seed)
        self.cars = cars
        self.figures = DayFigures(boxes={c.box: BoxFigures() for c in cars})
        self._over_since: float | None = None

    def plug(self, evses: dict[str, SimEvse]) -> None:
        """Cars arrive and leave at their hours (the box keeps its driver)."""
        hour = self.clock.t / 3600.0
        for car in self.cars:
            sim = evses.get(car.box)
            if sim is None:
                continue
            here = car.arrive <= hour < car.leave
            if here and sim.car is None and sim.session_wh == 0:
                sim._plug(_car_type(car.kind), need_wh=car.need_wh)
            elif not here and sim.car is not None:
                sim.car = None

    def measure(self, dt: float) -> None:
        w = self.world
        w.step()
        grid = w.grid_a()
        grid_w = sum(grid) * VOLTAGE
        f = self.figures
        f.pv_wh += w.pv_w() * dt / 3600.0
        f.export_wh += max(0.0, -grid_w) * dt / 3600.0
        cars_w = {c.box: sum(w.evses[c.box].box_current_a()) * VOLTAGE for c in self.cars}
        total = sum(cars_w.values())
        from_grid = min(total, max(0.0, grid_w))
        for car in self.cars:
            self._box(car, cars_w[car.box], from_grid * cars_w[car.box] / total if total else 0, dt)
        self._overload(max(abs(a) for a in grid), dt)

    def _box(self, car: Car, watts: float, grid_w: float, dt: float) -> None:
        b = self.figures.boxes[car.box]
        sim = self.world.evses[car.box]
        b.energy_wh += watts * dt / 3600.0
        b.grid_wh += grid_w * dt / 3600.0
        if watts > 0:
            phases = 1 if sim._one_phase() else min(3, sim.car.kind.phases if sim.car else 3)
            b.min_wh += 6.0 * VOLTAGE * phases * dt / 3600.0
        offered = sim.offer_a >= 6.0 and sim.car is not None and not sim.car.full
        if b.offered and not offered and sim.car is not None and not sim.car.full:
            b.pauses += 1
        b.offered = offered
        b.switches, b.switched_under_load = sim.switches, sim.switched_under_load

    def _overload(self, worst_a: float, dt: float) -> None:
        if worst_a <= FUSE_A + 0.5:
            self._over_since = None
            return
        if self._over_since is None:
            self._over_since = self.clock.t
        elif self.clock.t - self._over_since > OVERLOAD_GRACE_S:
            self.figures.violations += 1
            self._over_since = math.inf  # once per episode


def _car_type(kind: str) -> Any:
    from devices.sim import CAR_TYPES

    return CAR_TYPES[kind]


def settings(interval_s: float) -> Settings:
    s = Settings()
    s.site.max_current_a = FUSE_A
    s.site.control_interval_s = interval_s
    return s


async def run_ampshare(day: Day, interval_s: float = 5.0) -> DayFigures:
    """The day under ampshare's control loop, one cycle every `interval_s`."""
    ctx = DeviceContext(sim=day.world)
    table = registry.drivers()
    loop = ControlLoop(
        build_device=lambda cfg: registry.build(registry.spec_of(cfg), ctx, table),
        events=EventLog(),
        clock=day.clock,
    )
    loop.set_settings(settings(interval_s))
    configs: list[dict[str, Any]] = [
        {"id": "grid", "name": "grid", "kind": "meter", "driver": "sim-meter", "role": "grid"}
    ]
    for car in day.cars:
        configs.append(_evse_config(car))
    await loop.set_devices(configs)
    evses = day.world.evses
    step = min(TICK_S, interval_s)
    next_cycle = 0.0
    while day.clock.t < DAY_S:
        day.clock.t += step
        day.plug(evses)
        if day.clock.t >= next_cycle:
            await loop.cycle()
            next_cycle += interval_s
        day.measure(step)
    await loop.close()
    return day.figures


def _evse_config(car: Car) -> dict[str, Any]:
    return {
        "id": car.box,
        "name": car.box,
        "kind": "evse",
        "driver": "sim-evse",
        "car": "none",
        "phase_relay": car.switching,
        "charge_mode": car.mode,
        "priority": car.priority,
        "max_current_a": 16.0,
    }


# -- the reference: what evcc does ---------------------------------------------------------

#: evcc's defaults: site interval, enable/disable delay and threshold, guard duration
EVCC_INTERVAL_S = 30.0
EVCC_ENABLE_DELAY_S = 60.0
EVCC_DISABLE_DELAY_S = 180.0
EVCC_ENABLE_THRESHOLD_W = 0.0
EVCC_DISABLE_THRESHOLD_W = 0.0
EVCC_GUARD_S = 300.0


@dataclass
class RefPoint:
    """One loadpoint of the reference: its offer, phases and timers."""

    car: Car
    offer_a: float = 0.0
    phases: int = 3
    enabled: bool = False
    pv_timer: float | None = None
    phase_timer: float | None = None
    guard_until: float = -math.inf


class Reference:
    """Surplus charging as evcc does it: every 30 s, the loadpoints in turn (round-robin
    between equal priorities), each adjusting its offer by what the grid meter shows and
    seeing the changes of those before it; start after the surplus covered the minimum for
    1 min, stop after 3 min below it, a 5 min guard between enabling and disabling, and 1p/3p
    switching on the same delays."""

    def __init__(self, day: Day) -> None:
        self.day = day
        self.points = [RefPoint(c) for c in day.cars]
        self.turn = 0

    def cycle(self, now: float) -> None:
        w = self.day.world
        site_w = sum(w.grid_a()) * VOLTAGE
        order = sorted(self.points, key=lambda p: -p.car.priority)
        k = self.turn % len(order)
        self.turn += 1
        for p in order[k:] + order[:k]:
            sim = w.evses[p.car.box]
            before = p.offer_a * VOLTAGE * p.phases if p.enabled else 0.0
            if sim.car is None:
                p.enabled, p.offer_a, p.pv_timer = False, 0.0, None
            else:
                self._update(now, p, site_w, sim)
            after = p.offer_a * VOLTAGE * p.phases if p.enabled else 0.0
            site_w += after - before
            w.step()
            sim.offer(p.offer_a if p.enabled else 0.0, p.phases)

    def _update(self, now: float, p: RefPoint, site_w: float, sim: SimEvse) -> None:
        min_a, max_a = 6.0, 16.0
        drawn_a = max(sim.box_current_a())
        if p.car.switching and self._scale_phases(now, p, site_w, drawn_a):
            p.enabled, p.offer_a = False, 0.0
            return
        avail_a = -site_w / (VOLTAGE * p.phases)
        target = (drawn_a if p.enabled else 0.0) + avail_a
        if p.car.mode == "minpv":
            p.enabled, p.offer_a = True, float(max(min_a, min(max_a, math.floor(target))))
            return
        if p.enabled:
            if target < min_a and site_w > EVCC_DISABLE_THRESHOLD_W:
                p.pv_timer = p.pv_timer if p.pv_timer is not None else now
                if now - p.pv_timer >= EVCC_DISABLE_DELAY_S and now >= p.guard_until:
                    p.enabled, p.offer_a, p.pv_timer = False, 0.0, None
                    p.guard_until = now + EVCC_GUARD_S
                    return
            else:
                p.pv_timer = None
            p.offer_a = float(max(min_a, min(max_a, math.floor(target))))
            return
        min_w = min_a * VOLTAGE * p.phases
        if site_w + min_w <= -EVCC_ENABLE_THRESHOLD_W:
            p.pv_timer = p.pv_timer if p.pv_timer is not None else now
            if now - p.pv_timer >= EVCC_ENABLE_DELAY_S and now >= p.guard_until:
                p.enabled, p.pv_timer = True, None
                p.offer_a = float(max(min_a, min(max_a, math.floor(avail_a))))
                p.guard_until = now + EVCC_GUARD_S
        else:
            p.pv_timer = None

    def _scale_phases(self, now: float, p: RefPoint, site_w: float, drawn_a: float) -> bool:
        """evcc's pvScalePhases: down when 3 x min does not fit but 1 x min does (disable
        delay), up when 3 x min fits (enable delay). True when it switched (a pause)."""
        avail_w = -site_w + (drawn_a * VOLTAGE * p.phases if p.enabled else 0.0)
        one, three = 6.0 * VOLTAGE, 6.0 * VOLTAGE * 3
        if p.phases == 3 and one <= avail_w < three:
            want, delay = 1, EVCC_DISABLE_DELAY_S
        elif p.phases == 1 and avail_w >= three:
            want, delay = 3, EVCC_ENABLE_DELAY_S
        else:
            p.phase_timer = None
            return False
        p.phase_timer = p.phase_timer if p.phase_timer is not None else now
        if now - p.phase_timer < delay:
            return False
        p.phases, p.phase_timer = want, None
        return True


async def run_reference(day: Day) -> DayFigures:
    """The day under the reference policy (one decision every EVCC_INTERVAL_S)."""
    from devices.sim import SimEvseOptions

    for car in day.cars:
        SimEvse(
            day.world, car.box, SimEvseOptions(car="none", phase_relay=car.switching), "L1L2L3", 3
        )
    ref = Reference(day)
    next_cycle = 0.0
    while day.clock.t < DAY_S:
        day.clock.t += TICK_S
        day.plug(day.world.evses)
        if day.clock.t >= next_cycle:
            ref.cycle(day.clock.t)
            next_cycle += EVCC_INTERVAL_S
        day.measure(TICK_S)
    return day.figures
