"""Properties of the allocator, proven on random sites with hypothesis.

Everything here judges an allocation with its own small, independent model of the site: loads are
summed by walking each wallbox's way up the tree and checked against the limits as DESIGN.md
states them. Nothing of the allocator's internals is used.
"""

from __future__ import annotations

import gc
import random
from collections.abc import Sequence

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from manager.allocator import allocate
from manager.model import ROTATIONS, Circuit, EvseLoad, Site
from manager.reason_words import english

EPS = 1e-6
SETTINGS = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])


# --------------------------------------------------------------------------------------------
# an independent judge
# --------------------------------------------------------------------------------------------


class Judge:
    """Evaluates allocations against a site: which limits they break, what a box may take."""

    def __init__(self, site: Site, evses: Sequence[EvseLoad]) -> None:
        self.site = site
        self.evses = list(evses)
        self.by_id = {c.id: c for c in site.circuits}
        self.phases = {e.id: e.site_phases() for e in evses}
        self.paths = {e.id: self._path(e.circuit) for e in evses}
        zero = {e.id: 0.0 for e in evses}
        self.broken_at_zero = self.violations(zero, only_ok_at_zero=False)
        broken_circuits = {c for c, _ in self.broken_at_zero}
        self.dead = {e.id for e in evses if broken_circuits & set(self.paths[e.id])}
        unbalanced = {c.id for c in site.circuits if c.max_unbalance_a is not None}
        #: 1- and 2-phase loads below an unbalance limit: their share leans on other phases'
        self.coupled = {
            e.id for e in evses if len(self.phases[e.id]) < 3 and unbalanced & set(self.paths[e.id])
        }

    def _path(self, cid: str) -> list[str]:
        path = []
        while cid is not None:
            path.append(cid)
            cid = self.by_id[cid].parent
        return path

    def loads(self, x: dict[str, float]) -> dict[str, list[float]]:
        loads = {c.id: [0.0, 0.0, 0.0] for c in self.site.circuits}
        for e in self.evses:
            for cid in self.paths[e.id]:
                for p in self.phases[e.id]:
                    loads[cid][p] += x[e.id]
        return loads

    def violations(self, x: dict[str, float], only_ok_at_zero: bool = True) -> set[tuple]:
        """Broken limits as (circuit id, "L1" / "L2" / "L3" / "power" / "unbalance L1 over L3"...).

        An unbalance limit is one limit per ordered pair of phases: a box on L1 and a box on
        L2 of a circuit whose L3 is idle are held back by different gaps."""
        out = set()
        volt = self.site.nominal_voltage_v
        loads = self.loads(x)
        for c in self.site.circuits:
            load = loads[c.id]
            total = [c.base_load_a[p] + c.reserve_a + load[p] for p in range(3)]
            for p in range(3):
                if total[p] > c.max_current_a + EPS:
                    out.add((c.id, f"L{p + 1}"))
            if c.max_power_w is not None and volt * sum(total) > c.max_power_w + EPS * volt:
                out.add((c.id, "power"))
            if c.max_unbalance_a is not None:
                base = c.base_load_a if c.unbalance_counts_base else (0.0, 0.0, 0.0)
                lv = [base[p] + load[p] for p in range(3)]
                for p in range(3):
                    for q in range(3):
                        if lv[p] - lv[q] > c.max_unbalance_a + EPS:
                            out.add((c.id, f"unbalance L{p + 1} over L{q + 1}"))
        if only_ok_at_zero:
            out -= self.broken_at_zero
        return out

    def broken(self, x: dict[str, float]) -> set[tuple]:
        return self.violations(x)

    def lo(self, e: EvseLoad) -> float:
        """The min rounded up to the box's grid."""
        k = -int(-(e.min_current_a / e.resolution_a - 1e-9) // 1)
        return k * e.resolution_a

    def hi(self, e: EvseLoad) -> float:
        cap = e.max_current_a if e.demand_a is None else min(e.max_current_a, e.demand_a)
        return int(cap / e.resolution_a + 1e-9) * e.resolution_a

    def can_charge(self, e: EvseLoad) -> bool:
        return e.demand_a != 0 and self.lo(e) <= self.hi(e) + EPS and e.id not in self.dead

    def next_step(self, e: EvseLoad, x: dict[str, float]) -> float | None:
        """What raising e by one step means (paused: its min); None when its cap forbids."""
        now = x[e.id]
        up = self.lo(e) if now == 0 else now + e.resolution_a
        if up == 0:  # a min of 0: one step is the first raise
            up = e.resolution_a
        return up if up <= self.hi(e) + EPS else None

    def blockers(self, e: EvseLoad, x: dict[str, float]) -> set[tuple] | None:
        """Limits broken by raising e one step (None: e is at its cap)."""
        up = self.next_step(e, x)
        if up is None:
            return None
        return self.broken({**x, e.id: up})


# --------------------------------------------------------------------------------------------
# random sites
# --------------------------------------------------------------------------------------------


# Lean strategies: hypothesis spends most of its time per draw and per strategy built, so every
# value is one integer draw from a strategy built once, mapped to amperes with a cent's resolution
# (odd values like 13.37 A occur) or, for the reference instances, whole amperes.
def _amps(lo: float, hi: float, coarse: bool) -> st.SearchStrategy[float]:
    if coarse:
        return st.integers(int(lo), int(hi)).map(float)
    return st.integers(int(lo * 100), int(hi * 100)).map(lambda v: v / 100)


CHOICE = st.integers(0, 5)


def _maybe(draw, strategy: st.SearchStrategy[float], zero: bool = False) -> float | None:
    """None (half the time), 0 (if `zero`, one in six) or a value from `strategy`."""
    k = draw(CHOICE)
    return None if k < 3 else 0.0 if k == 3 and zero else draw(strategy)


CARS = (None, None, None, frozenset(), *map(frozenset, ({0}, {1}, {2}, {0, 1}, {0, 1, 2})))
WIRING = st.sampled_from(
    [(ph, rot, car) for ph in (1, 3) for rot in sorted(ROTATIONS) for car in CARS]
)
PRIORITY = st.sampled_from([1, 1, 1, 2, 0])
WAIT = st.integers(0, 40)
RESERVE = st.sampled_from([0.0, 0.0, 1.0, 2.5])
GRIDS = st.sampled_from([0.1, 0.1, 0.1, 0.5, 1.0, 0.3])
MINS = st.sampled_from([6.0, 6.0, 0.0, 5.55, 8.0, 10.0])
COARSE_MINS = st.sampled_from([0.0, 6.0, 6.0, 6.0, 8.0])


class _Values:
    """The value strategies of one flavour (fine: cents, coarse: whole amperes)."""

    def __init__(self, coarse: bool) -> None:
        self.limit = _amps(3, 70, coarse)
        self.power = _amps(10, 200, coarse).map(lambda a: a * 230.0)
        self.unbalance = _amps(2, 30, coarse)
        self.base = st.tuples(*[_amps(-10, 12, coarse)] * 3)
        self.span = st.integers(0, 5).map(float) if coarse else _amps(0, 26, False)
        self.demand = _amps(0, 12 if coarse else 40, coarse)


FINE, COARSE = _Values(coarse=False), _Values(coarse=True)
PARENTS = [st.sampled_from(range(i)) for i in range(1, 10)]


@st.composite
def circuit_trees(draw, max_circuits: int = 8, unbalance: bool = True, coarse: bool = False):
    """A tree of up to `max_circuits` boards, at most 3 levels below the grid connection."""
    v = COARSE if coarse else FINE
    count = draw(st.integers(1, max_circuits))
    depth = [0]
    circuits = []
    for i in range(count):
        parent = None
        if i:
            j = draw(PARENTS[i - 1])
            while depth[j] >= 3:  # keep the depth: hang it one level higher
                j = int(circuits[j].parent[1:])
            parent = f"c{j}"
            depth.append(depth[j] + 1)
        circuits.append(
            Circuit(
                id=f"c{i}",
                name=f"Board {i}",
                parent=parent,
                max_current_a=draw(v.limit),
                max_power_w=_maybe(draw, v.power),
                reserve_a=0.0 if coarse else draw(RESERVE),
                base_load_a=draw(v.base) if draw(CHOICE) < 2 else (0.0, 0.0, 0.0),
                max_unbalance_a=_maybe(draw, v.unbalance) if unbalance else None,
                unbalance_counts_base=draw(st.booleans()),
            )
        )
    return Site(circuits=tuple(circuits), nominal_voltage_v=230.0)


@st.composite
def wallboxes(draw, site: Site, max_boxes: int = 30, coarse: bool = False):
    v = COARSE if coarse else FINE
    where = st.sampled_from([c.id for c in site.circuits])
    boxes = []
    for i in range(draw(st.integers(0, max_boxes))):
        lo = draw(COARSE_MINS if coarse else MINS)
        phases, rotation, car = draw(WIRING)
        boxes.append(
            EvseLoad(
                id=f"w{i:02d}",
                circuit=draw(where),
                phases=phases,
                rotation=rotation,
                car_phases=car,
                min_current_a=lo,
                max_current_a=lo + draw(v.span),
                demand_a=_maybe(draw, v.demand, zero=True),
                priority=draw(PRIORITY),
                resolution_a=1.0 if coarse else draw(GRIDS),
                wait_rank=draw(WAIT),
            )
        )
    return boxes


@st.composite
def problems(draw, max_boxes: int = 30, unbalance: bool = True, coarse: bool = False):
    site = draw(circuit_trees(unbalance=unbalance, coarse=coarse))
    return site, draw(wallboxes(site, max_boxes=max_boxes, coarse=coarse))


def solve(site: Site, evses: list[EvseLoad]) -> tuple[Judge, dict[str, float], dict[str, str]]:
    result = allocate(site, evses)
    assert set(result.setpoints) == {e.id for e in evses}
    assert set(result.reasons) == {e.id for e in evses}
    words = {k: english(r) for k, r in result.reasons.items()}
    return Judge(site, evses), dict(result.setpoints), words


# --------------------------------------------------------------------------------------------
# the properties
# --------------------------------------------------------------------------------------------


@SETTINGS
@given(problems())
def test_safety_every_limit_holds_whenever_all_zero_satisfies_it(problem):
    site, evses = problem
    judge, x, _ = solve(site, evses)
    assert judge.broken(x) == set()
    for e in evses:
        if e.id in judge.dead:
            assert x[e.id] == 0


@SETTINGS
@given(problems())
def test_bounds_zero_or_between_min_and_cap_on_the_grid(problem):
    site, evses = problem
    judge, x, reasons = solve(site, evses)
    for e in evses:
        v = x[e.id]
        assert reasons[e.id]
        if v == 0:
            continue
        assert judge.can_charge(e)
        assert v >= e.min_current_a - EPS
        assert v <= e.max_current_a + EPS
        assert e.demand_a is None or v <= e.demand_a + EPS
        steps = v / e.resolution_a
        assert abs(steps - round(steps)) < 1e-6, (v, e.resolution_a)
    for e in evses:
        if e.demand_a == 0:
            assert x[e.id] == 0 and reasons[e.id] == "must not charge (demand 0)"


@SETTINGS
@given(problems())
def test_maximality_no_box_can_take_one_more_step(problem):
    site, evses = problem
    judge, x, reasons = solve(site, evses)
    for e in evses:
        if not judge.can_charge(e):
            continue
        blockers = judge.blockers(e, x)
        assert blockers is None or blockers, (e.id, x[e.id], reasons[e.id])


@SETTINGS
@given(problems())
def test_priority_lower_levels_get_more_than_min_only_what_higher_cannot_use(problem):
    """Put every box below priority P back to its min (paused ones stay paused): then no box
    of priority P can take one more step (or, paused, its min). So lower priorities only ever
    got what a higher one could not use. Checked for every box whose share no unbalance
    limit couples to other phases' shares (see docs/allocator.md, "Unbalanced load")."""
    site, evses = problem
    judge, x, reasons = solve(site, evses)
    levels = sorted({e.priority for e in evses})
    for level in levels[1:]:
        reset = dict(x)
        for e in evses:
            if e.priority < level and x[e.id] > 0:
                reset[e.id] = judge.lo(e)
        if reset == x:
            continue
        for e in evses:
            if e.priority == level and judge.can_charge(e) and e.id not in judge.coupled:
                blockers = judge.blockers(e, reset)
                assert blockers is None or blockers, (e.id, reasons[e.id])


def _weight(judge: Judge, e: EvseLoad, limit: tuple) -> int:
    return len(judge.phases[e.id]) if limit[1] == "power" else 1


@SETTINGS
@given(problems())
def test_fairness_boxes_bound_by_the_same_limit_alone_differ_by_one_step(problem):
    """A box is bound by a limit alone when it charges below its cap, one more step breaks
    that limit, and no other limit would break even if it took one step more plus the
    coarsest step of any box: its other limits have room beyond what rounding leaves over
    (a 1 A box behind a limit can leave up to 1 A of it unused).

    Of two boxes of one priority bound by the same limit alone, the higher one is at most
    one step of each above the lower one (one step when their grids are equal). Above what,
    exactly: above the lower box's current, or above its own min if that is more (a min is
    granted, not shared). In a power limit one step of a box costs its phase count times as
    much, so there the lower box's step counts (its phases / the other's) times. Checked for
    every box whose share no unbalance limit couples to other phases' shares (a 1- or 2-phase
    load below such a limit; docs/allocator.md, "Unbalanced load")."""
    site, evses = problem
    judge, x, _ = solve(site, evses)
    bound: dict[tuple, list[EvseLoad]] = {}
    coarsest = max((e.resolution_a for e in evses), default=0.0)
    for e in evses:
        if x[e.id] > 0 and e.id not in judge.coupled:
            blockers = judge.blockers(e, x)
            if blockers and len(blockers) == 1:
                further = judge.broken({**x, e.id: x[e.id] + e.resolution_a + coarsest})
                if further == blockers:
                    bound.setdefault(next(iter(blockers)), []).append(e)
    for limit, boxes in bound.items():
        for low in boxes:
            for high in boxes:
                if low.priority != high.priority:
                    continue
                floor = max(x[low.id], judge.lo(high))
                w_low, w_high = _weight(judge, low, limit), _weight(judge, high, limit)
                if low.resolution_a == high.resolution_a and w_low == w_high:
                    allowed = low.resolution_a + EPS
                    assert x[high.id] - floor <= allowed, (limit, low, high, x)
                else:
                    step = low.resolution_a * w_low / w_high + high.resolution_a
                    assert x[high.id] - floor < step - EPS, (limit, low, high, x)


@SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_determinism_independent_of_input_order(problem, rnd: random.Random):
    site, evses = problem
    first = allocate(site, evses)
    again = allocate(site, evses)
    assert first == again
    shuffled_evses = list(evses)
    rnd.shuffle(shuffled_evses)
    circuits = list(site.circuits)
    rnd.shuffle(circuits)
    other = allocate(Site(tuple(circuits), site.nominal_voltage_v), shuffled_evses)
    assert dict(other.setpoints) == dict(first.setpoints)
    assert dict(other.reasons) == dict(first.reasons)


@SETTINGS
@given(problems())
def test_no_reference_cycles_so_pausing_the_collector_skips_only_useless_work(problem):
    """allocate() pauses the cyclic garbage collector. That is free only if reference counting
    frees everything an allocation builds: no cycle may be left for the collector to find."""
    site, evses = problem
    collecting = gc.isenabled()
    gc.disable()
    try:
        gc.collect(0)  # the test's own garbage: from here on, the young objects are ours
        allocate(site, evses)
        cyclic = gc.collect(0)
    finally:
        if collecting:
            gc.enable()
    assert cyclic == 0


# --------------------------------------------------------------------------------------------
# an independent reference: discrete progressive filling, one step at a time
# --------------------------------------------------------------------------------------------


def reference(site: Site, evses: list[EvseLoad]) -> dict[str, float]:
    """Slots first-fit in (priority high first, wait_rank, id) order; then per priority, high
    first, always raise the lowest box (ties: wait_rank, id) by one step if nothing breaks."""
    judge = Judge(site, evses)
    x = {e.id: 0.0 for e in evses}
    able = [e for e in evses if judge.can_charge(e)]
    granted = []
    for e in sorted(able, key=lambda e: (-e.priority, e.wait_rank, e.id)):
        if not judge.broken({**x, e.id: judge.lo(e)}):
            x[e.id] = judge.lo(e)
            granted.append(e)
    for level in sorted({e.priority for e in granted}, reverse=True):
        active = [e for e in granted if e.priority == level and x[e.id] < judge.hi(e) - EPS]
        while active:
            e = min(active, key=lambda e: (x[e.id], e.wait_rank, e.id))
            trial = {**x, e.id: x[e.id] + e.resolution_a}
            if judge.broken(trial):
                active.remove(e)
                continue
            x = trial
            if x[e.id] >= judge.hi(e) - EPS:
                active.remove(e)
    return x


@SETTINGS
@given(problems(max_boxes=6, unbalance=False, coarse=True))
def test_reference_small_sites_match_step_by_step_filling_within_one_step(problem):
    site, evses = problem
    _, x, reasons = solve(site, evses)
    ref = reference(site, evses)
    for e in evses:
        assert (x[e.id] == 0) == (ref[e.id] == 0), (e.id, x[e.id], ref[e.id], reasons[e.id])
        assert abs(x[e.id] - ref[e.id]) <= e.resolution_a + EPS, (e.id, x[e.id], ref[e.id])
