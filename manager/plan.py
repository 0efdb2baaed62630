"""A charge plan: deliver `plan_energy_wh` by `plan_time` as cheaply as possible.

Pure: the planner sees the time, the energy still missing, the power the box can give, the
prices and, if the site has one, a solar forecast. Solar comes first (the hours the forecast
says the surplus carries the box); the rest goes into the cheapest price slots before the
deadline, the latest of equally cheap ones, so the car starts as late as it can and still
finishes. The planned time has a margin (`MARGIN`) for a car that charges slower than the box
allows; a plan that falls behind is made again (`behind`).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from manager.prices import PriceSlot

#: planned charging time = needed time x (1 + MARGIN) + MARGIN_S
MARGIN = 0.2
MARGIN_S = 300.0


@dataclass(frozen=True, slots=True)
class SolarSlot:
    """A forecast: the surplus expected from `start` to `end` (W)."""

    start: float
    end: float
    surplus_w: float


@dataclass(frozen=True, slots=True)
class Plan:
    """When to charge from the grid (`slots`) and from solar (`solar`), epoch s, in order."""

    slots: tuple[tuple[float, float], ...]
    solar: tuple[tuple[float, float], ...]
    deadline: float
    energy_wh: float
    forecast: bool  # a solar forecast was used (False: none, planned from prices alone)

    @property
    def start(self) -> float | None:
        first = [s[0] for s in (*self.slots, *self.solar)]
        return min(first) if first else None

    @property
    def end(self) -> float | None:
        last = [s[1] for s in (*self.slots, *self.solar)]
        return max(last) if last else None

    def slot_at(self, at: float) -> tuple[float, float] | None:
        return next(((s, e) for s, e in self.slots if s <= at < e), None)

    def solar_at(self, at: float) -> tuple[float, float] | None:
        return next(((s, e) for s, e in self.solar if s <= at < e), None)

    def planned_s(self, at: float) -> float:
        """Grid charging time left in the plan from `at`."""
        return sum(max(0.0, e - max(s, at)) for s, e in self.slots)


def needed_s(energy_wh: float, power_w: float) -> float:
    """Charging time with the margin."""
    return energy_wh / power_w * 3600.0 * (1 + MARGIN) + MARGIN_S


def make_plan(
    now: float,
    energy_wh: float,
    deadline: float,
    power_w: float,
    prices: Sequence[PriceSlot] = (),
    forecast: Sequence[SolarSlot] | None = None,
    min_power_w: float = 0.0,
) -> Plan:
    """The plan from `now`; `min_power_w` is what the surplus must carry to count as solar.
    A deadline already past gives an empty plan."""
    if deadline <= now:
        return Plan((), (), deadline, energy_wh, forecast is not None)
    solar = _solar(now, deadline, forecast or (), min_power_w)
    solar_wh = sum(min(w, power_w) * (e - s) / 3600.0 for s, e, w in solar)
    grid_wh = max(0.0, energy_wh - solar_wh)
    spans = tuple((s, e) for s, e, _ in solar)
    slots: tuple[tuple[float, float], ...] = ()
    if grid_wh > 0 and power_w > 0:
        slots = _cheapest(_pieces(now, deadline, prices, spans), needed_s(grid_wh, power_w))
    return Plan(slots, spans, deadline, energy_wh, forecast is not None)


def _solar(
    now: float, deadline: float, forecast: Sequence[SolarSlot], min_power_w: float
) -> list[tuple[float, float, float]]:
    out = []
    for f in sorted(forecast, key=lambda f: f.start):
        s, e = max(f.start, now), min(f.end, deadline)
        if e > s and f.surplus_w >= min_power_w and f.surplus_w > 0:
            out.append((s, e, f.surplus_w))
    return out


def _pieces(
    now: float,
    deadline: float,
    prices: Sequence[PriceSlot],
    solar: Sequence[tuple[float, float]],
) -> list[tuple[float, float, float]]:
    """[now, deadline] cut at every price edge, solar hours left out: (start, end, price);
    time without a price costs more than any price (used last)."""
    edges = {now, deadline}
    edges |= {t for p in prices for t in (p.start, p.end) if now < t < deadline}
    edges |= {t for s in solar for t in s if now < t < deadline}
    cuts = sorted(edges)
    out = []
    for s, e in itertools.pairwise(cuts):
        mid = (s + e) / 2
        if any(a <= mid < b for a, b in solar):
            continue
        price = next((p.price_per_kwh for p in prices if p.start <= mid < p.end), float("inf"))
        out.append((s, e, price))
    return out


def _cheapest(
    pieces: list[tuple[float, float, float]], need_s: float
) -> tuple[tuple[float, float], ...]:
    """The cheapest pieces (later first among equals) until `need_s` is covered; of the last
    piece only its end. Adjacent pieces merge."""
    chosen = []
    for s, e, _ in sorted(pieces, key=lambda p: (p[2], -p[0])):
        if need_s <= 0:
            break
        take = min(e - s, need_s)
        chosen.append((e - take, e))
        need_s -= take
    merged: list[tuple[float, float]] = []
    for s, e in sorted(chosen):
        if merged and abs(merged[-1][1] - s) < 1e-6:
            merged[-1] = (merged[-1][0], e)
        else:
            merged.append((s, e))
    return tuple(merged)


def behind(plan: Plan, at: float, energy_wh: float, power_w: float) -> bool:
    """The grid time left in the plan no longer carries the energy still missing at
    `power_w` (what the car draws now), give or take a minute."""
    if power_w <= 0 or plan.planned_s(at) >= plan.deadline - at - 1e-6:
        return False  # nothing to gain: it charges all the time left
    solar_left = sum(max(0.0, e - max(s, at)) for s, e in plan.solar) * power_w / 3600.0
    left = plan.planned_s(at) * power_w / 3600.0
    return energy_wh > left + (solar_left if plan.forecast else 0.0) + power_w / 60.0
