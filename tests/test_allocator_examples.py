"""The allocator on sites a person can check by hand.

Each test states the site, the expected setpoints and why; the reasons are what the operator
reads on the dashboard.
"""

from __future__ import annotations

import gc
import math

import pytest

from manager.allocator import allocate
from manager.model import Circuit, EvseLoad, Site
from manager.reason_words import english


def house(limit: float = 35.0, base=(0.0, 0.0, 0.0), **extra) -> Circuit:
    return Circuit(
        id="main", name="Main", parent=None, max_current_a=limit, base_load_a=base, **extra
    )


def box(id: str, circuit: str = "main", **kw) -> EvseLoad:
    return EvseLoad(id=id, circuit=circuit, **kw)


def run(site: Site, boxes: list[EvseLoad]) -> tuple[dict[str, float], dict[str, str]]:
    result = allocate(site, boxes)
    return dict(result.setpoints), {k: english(r) for k, r in result.reasons.items()}


def test_house_3x35_with_cooking_on_l1_and_three_cars():
    """20 A of cooking on L1 leaves 15 A there: two 3-phase cars share it (7.5 A each); the
    third would need 6 A more on L1 than is left, so it waits for a slot."""
    site = Site((house(35.0, base=(20.0, 2.0, 3.0)),))
    cars = [box(f"car{i}", max_current_a=16.0) for i in (1, 2, 3)]
    x, why = run(site, cars)
    assert x == {"car1": 7.5, "car2": 7.5, "car3": 0.0}
    assert why["car1"] == why["car2"] == "limited by circuit Main L1"
    assert why["car3"] == "waiting for a slot (circuit Main L1 full)"


def test_house_3x35_cooking_ends_everyone_charges_up_to_the_fuse():
    site = Site((house(35.0, base=(2.0, 2.0, 3.0)),))
    cars = [box(f"car{i}", max_current_a=16.0) for i in (1, 2, 3)]
    x, why = run(site, cars)
    # L3: 35 - 3 = 32 A for three cars: 10.6 A each plus 0.2 A left, which goes to the two
    # who waited longest (equal wait: lowest id) one 0.1 A step each
    assert x == {"car1": 10.7, "car2": 10.7, "car3": 10.6}
    assert set(why.values()) == {"limited by circuit Main L3"}


def test_single_phase_car_behind_rotation_l2l3l1_loads_site_l2():
    """A 1-phase car on a 3-phase box draws on the box's L1, which rotation L2L3L1 wires to
    site L2. Only L2 is busy (base 10 A), so the car gets 32 - 10 = 22 A... up to its max."""
    site = Site((house(32.0, base=(0.0, 10.0, 0.0)),))
    car = box("car", rotation="L2L3L1", car_phases=frozenset({0}), max_current_a=32.0)
    x, why = run(site, [car])
    assert x == {"car": 22.0}
    assert why["car"] == "limited by circuit Main L2"
    # the same car on a box with straight wiring draws on L1, which is free
    straight = box("car", rotation="L1L2L3", car_phases=frozenset({0}), max_current_a=32.0)
    x, why = run(site, [straight])
    assert x == {"car": 32.0} and why["car"] == "at its max 32 A"


def test_single_phase_box_and_unknown_car_phases():
    """A 1-phase box loads only the site phase its L1 is wired to; an unknown car on a
    3-phase box counts on all three phases."""
    site = Site((house(20.0, base=(0.0, 0.0, 12.0)),))
    one = box("one", phases=1, rotation="L3L1L2", max_current_a=16.0)  # box L1 -> site L3
    x, why = run(site, [one])
    assert x == {"one": 8.0} and why["one"] == "limited by circuit Main L3"
    unknown = box("unknown", max_current_a=16.0)
    x, _ = run(site, [unknown])
    assert x == {"unknown": 8.0}  # limited by L3 although the car might use only L1


def test_sub_board_16a_with_two_boxes_inside_a_63a_house():
    """The garage board (16 A) is the bottleneck for its two boxes; a box on the main board
    takes what the house has left."""
    site = Site(
        (
            house(63.0),
            Circuit(id="garage", name="Garage", parent="main", max_current_a=16.0),
        )
    )
    boxes = [
        box("g1", "garage", max_current_a=16.0),
        box("g2", "garage", max_current_a=16.0),
        box("drive", "main", max_current_a=32.0),
    ]
    x, why = run(site, boxes)
    assert x == {"g1": 8.0, "g2": 8.0, "drive": 32.0}
    assert why["g1"] == why["g2"] == "limited by circuit Garage L1"
    assert why["drive"] == "at its max 32 A"


def test_sub_board_and_house_both_bind():
    """The house has 30 A left. The 12 A garage board stops its two boxes at 6 A each; the
    two boxes on the main board share what the house has left: (30 - 12) / 2 = 9 A."""
    site = Site(
        (
            house(40.0, base=(10.0, 10.0, 10.0)),
            Circuit(id="garage", name="Garage", parent="main", max_current_a=12.0),
        )
    )
    boxes = [
        box("g1", "garage", max_current_a=16.0),
        box("g2", "garage", max_current_a=16.0),
        box("d1", "main", max_current_a=32.0),
        box("d2", "main", max_current_a=32.0),
    ]
    x, why = run(site, boxes)
    assert x == {"g1": 6.0, "g2": 6.0, "d1": 9.0, "d2": 9.0}
    assert why["g1"] == "limited by circuit Garage L1"
    assert why["d1"] == "limited by circuit Main L1"
    # with a 16 A board the house is the bottleneck for all four: 7.5 A each
    site = Site(
        (site.circuits[0], Circuit(id="garage", name="Garage", parent="main", max_current_a=16.0))
    )
    x, why = run(site, boxes)
    assert x == {"g1": 7.5, "g2": 7.5, "d1": 7.5, "d2": 7.5}
    assert set(why.values()) == {"limited by circuit Main L1"}


def test_ten_boxes_five_slots_and_the_rotation_over_time():
    """3x32 A with 2 A reserve: 30 A = five times 6 A. The five that waited longest (lowest
    wait_rank) charge; when the control loop re-ranks them, the others get the slots."""
    site = Site((house(32.0, reserve_a=2.0),))

    def boxes(ranks: dict[str, int]) -> list[EvseLoad]:
        return [box(f"b{i}", max_current_a=16.0, wait_rank=ranks[f"b{i}"]) for i in range(10)]

    first = {f"b{i}": i for i in range(10)}  # b0 waited longest
    x, why = run(site, boxes(first))
    charging = sorted(k for k, v in x.items() if v > 0)
    assert charging == ["b0", "b1", "b2", "b3", "b4"]
    assert all(x[k] == 6.0 for k in charging)
    assert why["b7"] == "waiting for a slot (circuit Main L1 full)"
    # a while later the control loop ranks the waiting ones first
    later = {f"b{i}": (i + 5) % 10 for i in range(10)}
    x, _ = run(site, boxes(later))
    assert sorted(k for k, v in x.items() if v > 0) == ["b5", "b6", "b7", "b8", "b9"]


def test_priority_higher_served_to_its_cap_before_lower_gets_more_than_min():
    """Priority 2 gets its min, then everything up to its max; priority 1 keeps its min
    (mins are granted first, in priority order) and gets only what is left."""
    site = Site((house(32.0),))
    boxes = [
        box("boss", max_current_a=20.0, priority=2),
        box("staff1", max_current_a=16.0, priority=1),
        box("staff2", max_current_a=16.0, priority=1),
    ]
    x, why = run(site, boxes)
    assert x == {"boss": 20.0, "staff1": 6.0, "staff2": 6.0}
    assert why["boss"] == "at its max 20 A"
    assert why["staff1"] == "priority: higher-priority wallboxes first (circuit Main L1 full)"
    # with a bigger fuse the rest is shared among the lower priority
    site = Site((house(40.0),))
    x, why = run(site, boxes)
    assert x == {"boss": 20.0, "staff1": 10.0, "staff2": 10.0}
    assert why["staff1"] == "limited by circuit Main L1"


def test_priority_decides_who_gets_the_last_slot():
    site = Site((house(10.0),))
    boxes = [box("low", priority=0, wait_rank=0), box("high", priority=5, wait_rank=9)]
    x, why = run(site, boxes)
    assert x == {"low": 0.0, "high": 10.0}
    assert why["low"] == "priority: higher-priority wallboxes first (circuit Main L1 full)"


def test_unbalance_limit_holds_back_a_single_phase_car():
    """VDE-AR-N 4100: at most 20 A between the busiest and the quietest phase. A 1-phase car
    on L1 of an otherwise idle house may take 20 A, not its 32 A."""
    site = Site((house(63.0, max_unbalance_a=20.0),))
    car = box("car", phases=1, max_current_a=32.0)
    x, why = run(site, [car])
    assert x == {"car": 20.0}
    assert why["car"] == "limited by unbalance limit of circuit Main"


def test_unbalance_counts_the_base_load_when_asked():
    base = (0.0, 8.0, 8.0)  # L2 and L3 busy: a car on L1 balances the house
    with_base = Site((house(63.0, base=base, max_unbalance_a=20.0),))
    car = box("car", phases=1, max_current_a=32.0)
    x, _ = run(with_base, [car])
    assert x == {"car": 28.0}  # 28 - 8 = 20
    without = Site((house(63.0, base=base, max_unbalance_a=20.0, unbalance_counts_base=False),))
    x, _ = run(without, [car])
    assert x == {"car": 20.0}


def test_unbalance_lets_single_phase_cars_on_all_phases_rise_together():
    """Three 1-phase cars, one per phase, keep the house balanced: the 20 A unbalance limit
    does not hold them back, their max does."""
    site = Site((house(40.0, max_unbalance_a=20.0),))
    cars = [
        box("l1", phases=1, rotation="L1L2L3", max_current_a=32.0),
        box("l2", phases=1, rotation="L2L3L1", max_current_a=32.0),
        box("l3", phases=1, rotation="L3L1L2", max_current_a=32.0),
    ]
    x, why = run(site, cars)
    assert x == {"l1": 32.0, "l2": 32.0, "l3": 32.0}
    assert why["l1"] == "at its max 32 A"
    # a fourth car on L1 may only go as far as the limit allows: L1 = 32 + 20 - ... = 52
    x, why = run(site, [*cars, box("l1b", phases=1, max_current_a=32.0)])
    assert x["l1"] + x["l1b"] <= 40.0 + 1e-9  # the fuse binds first
    assert why["l1b"] == "limited by circuit Main L1"


def test_unbalance_first_fit_limit_with_a_tiny_limit():
    """A limit below one car's min lets no 1-phase car start on its own: the allocator grants
    mins one at a time (first fit), it does not search for a balanced set of cars."""
    site = Site((house(40.0, max_unbalance_a=4.6),))
    cars = [
        box("l1", phases=1, rotation="L1L2L3"),
        box("l2", phases=1, rotation="L2L3L1"),
        box("three", phases=3),
    ]
    x, why = run(site, cars)
    assert x == {"l1": 0.0, "l2": 0.0, "three": 16.0}
    assert why["l1"] == "waiting for a slot (unbalance limit of circuit Main reached)"


def test_power_limit_of_the_grid_connection():
    """An 11 kW connection limit at 230 V is 47.8 A summed over the phases: two 3-phase cars
    share it at 7.97 A each, rounded down to 7.9 A; the 0.4 A left is one more step (3 x
    0.1 A) for one of them. The fuse (3x63 A) is not the limit."""
    site = Site((house(63.0, max_power_w=11000.0),))
    cars = [box("a", max_current_a=16.0), box("b", max_current_a=16.0)]
    x, why = run(site, cars)
    assert x == {"a": 8.0, "b": 7.9}
    assert why["a"] == why["b"] == "limited by power limit of circuit Main"
    # a 1-phase car gets the same current as a 3-phase car (fair per car, not per kW);
    # its steps cost a third of the 3-phase car's, so it may end up a step or two higher
    one = box("one", phases=1, max_current_a=32.0)
    x, _ = run(site, [cars[0], one])
    assert x == {"a": 11.9, "one": 12.1}
    assert 3 * x["a"] + x["one"] <= 11000.0 / 230.0 + 1e-9


def test_base_load_alone_over_a_limit_stops_everything_below_it():
    site = Site(
        (
            house(35.0),
            Circuit(
                id="garage",
                name="Garage",
                parent="main",
                max_current_a=16.0,
                base_load_a=(17.0, 0, 0),
            ),
        )
    )
    boxes = [box("g", "garage"), box("m", "main")]
    x, why = run(site, boxes)
    assert x == {"g": 0.0, "m": 16.0}
    assert why["g"] == "paused: base load alone overloads circuit Garage L1"


def test_export_gives_room():
    site = Site((house(16.0, base=(-10.0, -10.0, -10.0)),))  # PV exports 10 A per phase
    x, _ = run(site, [box("car", max_current_a=32.0)])
    assert x == {"car": 26.0}


def test_demand_caps_and_must_not_charge():
    site = Site((house(63.0),))
    boxes = [
        box("capped", max_current_a=32.0, demand_a=10.3),
        box("off", demand_a=0.0),
        box("small", demand_a=4.0),
        box("free", max_current_a=16.0),
    ]
    x, why = run(site, boxes)
    assert x == {"capped": 10.3, "off": 0.0, "small": 0.0, "free": 16.0}
    assert why["capped"] == "capped by demand 10.3 A"
    assert why["off"] == "must not charge (demand 0)"
    assert why["small"] == "paused: demand 4 A is below its min 6 A"


def test_resolution_rounds_down_to_the_grid_and_min_up():
    """A Modbus box with 1 A steps never gets 7.5 A; a min of 6.2 A on a 1 A grid means 7 A."""
    site = Site((house(15.0),))
    boxes = [box("a", resolution_a=1.0), box("b", resolution_a=1.0)]
    x, why = run(site, boxes)
    assert x == {"a": 8.0, "b": 7.0}  # 15 A: one of them gets the odd ampere (lowest id)
    site = Site((house(6.5),))
    x, why = run(site, [box("c", min_current_a=6.2, resolution_a=1.0)])
    assert x == {"c": 0.0}  # its min on the grid is 7 A: no slot in 6.5 A
    assert why["c"] == "waiting for a slot (circuit Main L1 full)"


def test_mixed_grids_share_fairly():
    """A 1 A Modbus box and a 0.1 A OCPP box behind 13.5 A: the Modbus box takes its 7 A
    while it is the lower one, the OCPP box the 6.5 A left (not 7.5 A against 6 A)."""
    site = Site((house(13.5),))
    x, _ = run(site, [box("ocpp", phases=1), box("modbus", phases=1, resolution_a=1.0)])
    assert x == {"modbus": 7.0, "ocpp": 6.5}


def test_setpoints_are_exact_grid_values():
    site = Site((house(31.9),))
    x, _ = run(site, [box(f"b{i}", max_current_a=32.0) for i in range(3)])
    for v in x.values():
        assert v == round(v, 1) and math.isfinite(v)
    assert sum(x.values()) <= 31.9 + 1e-9


@pytest.mark.parametrize(
    ("site", "boxes", "message"),
    [
        (Site(()), [box("a")], "wallbox 'a': unknown circuit 'main'"),
        (Site((house(),)), [box("a", circuit="nowhere")], "wallbox 'a': unknown circuit"),
        (Site((house(), house())), [], "duplicate circuit id 'main'"),
        (Site((house(),)), [box("a"), box("a")], "duplicate wallbox id 'a'"),
        (
            Site((house(), Circuit(id="x", name="X", parent="ghost", max_current_a=16.0))),
            [],
            "circuit 'x': unknown parent 'ghost'",
        ),
        (
            Site((house(), Circuit(id="x", name="X", parent=None, max_current_a=16.0))),
            [],
            "more than one root",
        ),
        (
            Site(
                (
                    Circuit(id="a", name="A", parent="b", max_current_a=16.0),
                    Circuit(id="b", name="B", parent="a", max_current_a=16.0),
                )
            ),
            [],
            "no root",
        ),
        (
            Site(
                (
                    house(),
                    Circuit(id="a", name="A", parent="b", max_current_a=16.0),
                    Circuit(id="b", name="B", parent="a", max_current_a=16.0),
                )
            ),
            [],
            "cycle",
        ),
        (Site((house(-1.0),)), [], "circuit 'main': max_current_a must be a number >= 0"),
        (Site((house(math.nan),)), [], "circuit 'main': max_current_a"),
        (Site((house(base=(0.0, math.nan, 0.0)),)), [], "circuit 'main': base_load_a"),
        (Site((house(reserve_a=-2.0),)), [], "circuit 'main': reserve_a"),
        (Site((house(max_unbalance_a=-1.0),)), [], "circuit 'main': max_unbalance_a"),
        (Site((house(),), nominal_voltage_v=0.0), [], "nominal_voltage_v"),
        (Site((house(),)), [box("a", min_current_a=10.0, max_current_a=6.0)], "min_current_a 10"),
        (Site((house(),)), [box("a", min_current_a=-1.0)], "wallbox 'a': min_current_a"),
        (Site((house(),)), [box("a", max_current_a=math.nan)], "wallbox 'a': max_current_a"),
        (Site((house(),)), [box("a", demand_a=math.nan)], "wallbox 'a': demand_a"),
        (Site((house(),)), [box("a", resolution_a=0.0)], "wallbox 'a': resolution_a"),
        (Site((house(),)), [box("a", resolution_a=-0.1)], "wallbox 'a': resolution_a"),
        (Site((house(),)), [box("a", rotation="L1L1L2")], "wallbox 'a': unknown phase rotation"),
        (Site((house(),)), [box("a", phases=2)], "wallbox 'a': phases must be 1 or 3"),
        (Site((house(),)), [box("a", car_phases=frozenset({3}))], "wallbox 'a': car_phases"),
    ],
)
def test_bad_input_is_a_clear_value_error(site, boxes, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        allocate(site, boxes)


def test_an_empty_site_is_not_an_error():
    assert allocate(Site(()), []).setpoints == {}


def test_no_boxes_no_setpoints():
    result = allocate(Site((house(),)), [])
    assert result.setpoints == {} and result.reasons == {}


@pytest.mark.parametrize("collecting", [True, False])
def test_the_garbage_collector_is_left_as_it_was_even_on_bad_input(collecting):
    """allocate() pauses the cyclic collector while it works; the caller's choice stands."""
    was = gc.isenabled()
    (gc.enable if collecting else gc.disable)()
    try:
        allocate(Site((house(),)), [box("a"), box("b")])
        assert gc.isenabled() is collecting
        with pytest.raises(ValueError):
            allocate(Site((house(),)), [box("a", min_current_a=-1.0)])
        assert gc.isenabled() is collecting
    finally:
        (gc.enable if was else gc.disable)()
