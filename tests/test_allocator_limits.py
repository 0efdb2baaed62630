"""The external charging limit as one constraint row in the allocator (issue 16): it caps the
wallboxes' summed power, of all boxes or of one circuit, and the §14a option keeps a floor per
box that may charge."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from manager.allocation import allocate
from manager.allocation.external import external_limit
from manager.model import Circuit, EvseLoad, Site
from web.wording import english

UNTIL = 1_800_000_000.0
VOLT = 230.0


def site(*boards: Circuit) -> tuple[Circuit, ...]:
    main = Circuit(id="main", name="Main", parent=None, max_current_a=63.0)
    return (main, *boards)


def power(setpoints: dict[str, float], loads: list[EvseLoad]) -> float:
    return sum(setpoints[e.id] * len(e.site_phases()) * VOLT for e in loads)


def floor_a(e: EvseLoad, watts: float) -> float:
    """4 200 W as amperes on the box's grid, rounded up; within its min and its max (rounded
    down to the grid)."""
    res = e.resolution_a
    amps = math.ceil(round(watts / (len(e.site_phases()) * VOLT) / res, 6))
    return max(e.min_current_a, min(amps, math.floor(round(e.max_current_a / res, 6))) * res)


def limited(
    circuits: tuple[Circuit, ...], loads: list[EvseLoad], watts: float, where=None, floor=0.0
) -> tuple[dict[str, float], dict[str, str]]:
    row, loads = external_limit(watts, UNTIL, where, circuits, loads, VOLT, floor)
    result = allocate(Site(circuits, VOLT, (row,)), loads)
    return dict(result.setpoints), {k: english(r) for k, r in result.reasons.items()}


def test_limit_caps_the_total_power_and_names_the_grid_operator() -> None:
    """11 kW over two 3-phase cars: 7.97 A each; on 0.1 A steps one gets 8.0, one 7.9."""
    loads = [EvseLoad(id=i, circuit="main", max_current_a=32.0) for i in ("a", "b")]
    x, why = limited(site(), loads, 11_000.0)
    assert power(x, loads) <= 11_000.0 + 1e-6
    assert sorted(x.values()) == [7.9, 8.0]
    assert why["a"].startswith("limited by the grid operator until ")


def test_limit_on_a_circuit_leaves_the_others_alone() -> None:
    garage = Circuit(id="garage", name="Garage", parent="main", max_current_a=32.0)
    loads = [
        EvseLoad(id="in", circuit="garage", max_current_a=16.0),
        EvseLoad(id="out", circuit="main", max_current_a=16.0),
    ]
    x, _ = limited(site(garage), loads, 4_140.0, where="garage")
    assert x == {"in": 6.0, "out": 16.0}


def test_a_limit_below_every_min_stops_every_box() -> None:
    loads = [EvseLoad(id="a", circuit="main")]
    x, why = limited(site(), loads, 0.0)
    assert x == {"a": 0.0}
    assert why["a"] == "waiting for a slot (grid operator's limit reached)"


def test_14a_keeps_4200_w_per_charging_box() -> None:
    """A 0 W limit with the §14a option: each of three cars keeps 4.2 kW (6.1 A on 3 phases,
    4 209 W); a box that must not charge does not count."""
    loads = [EvseLoad(id=i, circuit="main", max_current_a=32.0) for i in ("a", "b", "c")]
    loads.append(EvseLoad(id="idle", circuit="main", demand_a=0.0))
    x, _ = limited(site(), loads, 0.0, floor=4_200.0)
    for i in ("a", "b", "c"):
        assert x[i] == 6.1
    assert power(x, loads) <= 3 * 6.1 * 3 * VOLT + 1e-6
    assert x["idle"] == 0.0


def test_14a_floor_is_at_most_what_a_box_can_draw() -> None:
    """A 1-phase 16 A box can draw only 3 680 W: it keeps that, not 4 200 W for others; and
    the 3-phase box, sharing in amperes, does not squeeze it below."""
    loads = [
        EvseLoad(id="one", circuit="main", phases=1, max_current_a=16.0),
        EvseLoad(id="three", circuit="main", max_current_a=32.0),
    ]
    total, _ = external_limit(0.0, UNTIL, None, site(), loads, VOLT, 4_200.0)
    assert math.isclose(total.max_power_w, 16.0 * VOLT + 6.1 * 3 * VOLT)  # 6.09 A -> 6.1 A
    x, _ = limited(site(), loads, 5_000.0, floor=4_200.0)
    assert x["one"] == 16.0 and x["three"] * 3 * VOLT >= 4_200.0


def test_14a_keeps_lower_priorities_their_floor() -> None:
    loads = [
        EvseLoad(id="vip", circuit="main", max_current_a=32.0, priority=5),
        EvseLoad(id="low", circuit="main", max_current_a=32.0, priority=1),
    ]
    x, _ = limited(site(), loads, 15_000.0, floor=4_200.0)
    assert x["low"] * 3 * VOLT >= 4_200.0
    assert power(x, loads) <= 15_000.0 + 1e-6


@settings(max_examples=100, deadline=None)
@given(
    watts=st.floats(0, 40_000),
    boxes=st.lists(
        st.tuples(
            st.sampled_from([1, 3]),
            st.floats(10, 32),
            st.sampled_from([None, 0.0]),
            st.integers(0, 3),
            st.sampled_from([0.1, 1.0]),
        ),
        min_size=1,
        max_size=8,
    ),
)
def test_14a_every_box_that_may_charge_keeps_its_floor(watts, boxes) -> None:
    """On a site whose fuse is not the limit, every box that may charge gets its floor
    (4 200 W on its grid, at most its max), whatever the phases and priorities; the total
    stays within max(limit, the floors)."""
    loads = [
        EvseLoad(
            id=f"b{i}",
            circuit="main",
            phases=ph,
            max_current_a=mx,
            demand_a=dm,
            priority=pr,
            resolution_a=res,
        )
        for i, (ph, mx, dm, pr, res) in enumerate(boxes)
    ]
    big = (Circuit(id="main", name="Main", parent=None, max_current_a=2000.0),)
    x, _ = limited(big, loads, watts, floor=4_200.0)
    floors = 0.0
    for e in loads:
        if e.demand_a == 0:
            continue
        n = len(e.site_phases()) * VOLT
        f = floor_a(e, 4_200.0)
        floors += f * n
        assert x[e.id] >= f - 1e-9, (e, x)
    assert power(x, loads) <= max(watts, floors) + 1e-6


@settings(max_examples=150, deadline=None)
@given(
    watts=st.floats(0, 50_000),
    floor=st.sampled_from([0.0, 4_200.0]),
    boxes=st.lists(
        st.tuples(st.sampled_from([1, 3]), st.floats(6, 32), st.sampled_from([None, 0.0])),
        min_size=1,
        max_size=8,
    ),
)
def test_limit_row_holds_on_random_sites(watts, floor, boxes) -> None:
    """Never more than the limit (or the §14a floor of the boxes that may charge)."""
    loads = [
        EvseLoad(id=f"b{i}", circuit="main", phases=ph, max_current_a=mx, demand_a=dm)
        for i, (ph, mx, dm) in enumerate(boxes)
    ]
    cap = external_limit(watts, UNTIL, None, site(), loads, VOLT, floor)[0].max_power_w
    x, _ = limited(site(), loads, watts, floor=floor)
    assert power(x, loads) <= cap + 1e-6
    assert cap >= watts
    if floor:
        may = [e for e in loads if e.demand_a != 0]
        need = sum(floor_a(e, floor) * e.phases * VOLT for e in may)
        assert math.isclose(cap, max(watts, need))
