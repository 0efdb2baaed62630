"""Accelerated simulated days (tests/solar_sim.py): 24 h of the simulated site's PV curve,
household load and a car, in a few seconds each, with ampshare's loop every 5 s. A sunny, a
cloudy and a winter day in `pv` mode, the cloudy and the winter day in `minpv` mode, and two
boxes sharing a sunny day:

- no fuse overload outlasts the time cars need to follow a cut;
- a phase switch never happens while the car draws current;
- `pv`: what the car takes from the grid stays within a small share of what it charges (the
  disable delay and the slow average keep a running car at its min through a cloud; that is
  the price of fewer pauses);
- `minpv`: never more than the min from the grid;
- pauses and phase switches per day stay few.
The side-by-side figures against the evcc-like reference are in tests/bench/bench_solar.py.
"""

from __future__ import annotations

import pytest
from solar_sim import DAYS, Car, Day, run_ampshare

pytestmark = pytest.mark.slow

#: per day: the largest share of the car's energy a `pv` box may take from the grid
PV_GRID_SHARE = {"sunny": 0.03, "cloudy": 0.15, "winter": 0.12}
MAX_PAUSES = 20
MAX_SWITCHES = 12


@pytest.mark.parametrize("name", sorted(DAYS))
async def test_pv_day(name: str) -> None:
    day = Day(DAYS[name], [Car("a", "pv")])
    f = await run_ampshare(day, 5.0)
    box = f.boxes["a"]
    assert f.violations == 0
    assert box.switched_under_load == 0
    assert box.energy_wh > 3000, "the car charged from the sun"
    assert box.grid_wh <= PV_GRID_SHARE[name] * box.energy_wh, (box.grid_wh, box.energy_wh)
    assert box.pauses <= MAX_PAUSES and box.switches <= MAX_SWITCHES, (box.pauses, box.switches)


@pytest.mark.parametrize("name", ["cloudy", "winter"])  # on a sunny day minpv is pv
async def test_minpv_day(name: str) -> None:
    day = Day(DAYS[name], [Car("a", "minpv")])
    f = await run_ampshare(day, 5.0)
    box = f.boxes["a"]
    assert f.violations == 0
    assert box.switched_under_load == 0
    # from the grid: at most the min current's energy over the time it charged (2 % for the
    # few seconds a car needs to follow a cut when the household switches something on)
    assert box.grid_wh <= 1.02 * box.min_wh, (box.grid_wh, box.min_wh)
    assert box.pauses <= MAX_PAUSES and box.switches <= MAX_SWITCHES, (box.pauses, box.switches)


async def test_two_boxes_share_the_surplus_without_overload() -> None:
    """A pv and a minpv box on a sunny day with a tight fuse: the budget rows share the surplus,
    the minpv box keeps its min, the fuse holds."""
    cars = [Car("a", "pv", arrive=8.0, leave=18.0), Car("b", "minpv", kind="1p32", arrive=9.0)]
    f = await run_ampshare(Day(DAYS["sunny"], cars), 5.0)
    assert f.violations == 0
    assert f.boxes["a"].energy_wh > 5000 and f.boxes["b"].energy_wh > 5000
    assert f.boxes["b"].grid_wh <= 1.02 * f.boxes["b"].min_wh
