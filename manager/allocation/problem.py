"""The allocation's working state: boxes, their rows, the loads, and the checks on them.

Boxes are indexed in id order. Boxes with exactly the same coefficients in every row form a
kind (same circuit, same site phases, same budgets): the water-filling moves kinds, not boxes.
Setpoints are kept in whole steps of each box's resolution, so a setpoint is always on its grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from manager.allocation.rows import EPS, Constraint, Members, base_breaks, build_rows
from manager.allocation.validate import check_budget, check_evses, check_site
from manager.model import Circuit, EvseLoad, Reason, Site

#: grid rounding tolerance relative to one step (6 / 0.1 is 59.99999999999999 in floats)
GRID_EPS = 1e-9


@dataclass(slots=True)
class Box:
    """One wallbox as the allocator sees it: currents in steps of `res` amperes."""

    id: str
    kind: int
    res: float
    lo: int  # its min, rounded up to its grid
    hi: int  # min(max, demand), rounded down
    prio: int
    wait: int
    at_cap: Reason  # its reason at `hi`
    out: Reason | None  # why it cannot charge at all (None: it can)
    n: int = 0  # setpoint in steps
    granted: bool = False
    why: int | None = None  # row that stops it (None: its cap)
    refused: int | None = None  # row that refused its min


@dataclass(slots=True)
class Kind:
    """Boxes that load the same rows with the same coefficients."""

    terms: tuple[tuple[int, float], ...]  # (row, coefficient), rows in order
    up: tuple[tuple[int, float], ...]  # the terms with a positive coefficient
    eases: tuple[int, ...]  # rows its current makes room in (negative coefficient)
    boxes: list[int] = field(default_factory=list)


class Problem:
    """Rows, boxes and kinds of one allocation, and the loads the setpoints put on the rows."""

    def __init__(self, site: Site, evses: Sequence[EvseLoad]) -> None:
        index = check_site(site)
        evs = check_evses(evses, index)
        known = {e.id for e in evs}
        for b in site.budgets:
            check_budget(b, known)
        self.boxes = [_box(e) for e in evs]
        phases = [e.site_phases() for e in evs]
        tree, dead = _tree(site, evs, phases)
        for box, e in zip(self.boxes, evs, strict=True):
            if box.out is None and dead.get(e.circuit) is not None:
                box.out = dead[e.circuit]
        pos = {e.id: i for i, e in enumerate(evs)}
        budgets = [
            (b, [(pos[x], phases[pos[x]]) for x in sorted(set(b.boxes))]) for b in site.budgets
        ]
        live = [(c, [m for m in below if self.boxes[m[0]].out is None]) for c, below in tree]
        live_budgets = [(b, [m for m in ms if self.boxes[m[0]].out is None]) for b, ms in budgets]
        self.rows: list[Constraint] = build_rows(live, live_budgets, site.nominal_voltage_v)
        self.cap = [r.capacity for r in self.rows]
        self.load = [0.0] * len(self.rows)
        self.kinds = _kinds(self.rows, self.boxes)
        self.coupled = any(k.eases for k in self.kinds)  # some row is an unbalance gap
        #: rows some box makes room in (gaps): a box refused by one may fit later
        self.gaps = {r for k in self.kinds for r in k.eases}

    def eases_row(self, r: int | None) -> bool:
        return r in self.gaps

    def amps(self, i: int) -> float:
        b = self.boxes[i]
        return b.n * b.res

    def blocker(self, i: int, delta: float) -> int | None:
        """The first row that `delta` more amperes of box i would break (None: all hold)."""
        load, cap = self.load, self.cap
        for r, w in self.kinds[self.boxes[i].kind].up:
            if load[r] + w * delta > cap[r] + EPS:
                return r
        return None

    def add(self, i: int, delta: float) -> None:
        load = self.load
        for r, w in self.kinds[self.boxes[i].kind].terms:
            load[r] += w * delta

    def recount(self) -> None:
        """Loads from scratch: float sums drift, a fresh sum per level keeps them exact."""
        load = [0.0] * len(self.rows)
        for kind in self.kinds:
            total = math.fsum(self.amps(i) for i in kind.boxes)
            if total:
                for r, w in kind.terms:
                    load[r] += w * total
        self.load = load

    def broken(self) -> list[int]:
        return [r for r, (x, c) in enumerate(zip(self.load, self.cap, strict=True)) if x > c + EPS]


def _box(e: EvseLoad) -> Box:
    dm, mn, mx, res = e.demand_a, e.min_current_a, e.max_current_a, e.resolution_a
    if dm is None or dm >= mx:
        cap, at_cap = mx, Reason("at_max", {"amps": mx})
    else:
        cap, at_cap = dm, Reason("demand_cap", {"amps": dm})
    lo = math.ceil(mn / res - GRID_EPS)
    hi = math.floor(cap / res + GRID_EPS)
    out = None
    if dm == 0:
        out = Reason("no_demand")
    elif lo > hi:
        if dm is not None and dm < mn:
            out = Reason("below_min", {"demand": dm, "min": mn})
        else:
            out = Reason("min_above_max", {"min": mn, "step": res, "max": cap})
    return Box(e.id, -1, res, lo, hi, e.priority, e.wait_rank, at_cap, out)


def _tree(
    site: Site, evs: list[EvseLoad], phases: list[tuple[int, ...]]
) -> tuple[list[tuple[Circuit, Members]], dict[str, Reason | None]]:
    """The circuits deepest first, each with the boxes below it, and per circuit the reason
    its boxes are paused (the base load breaks it or a circuit above it; nearest the grid)."""
    by_id = {c.id: c for c in site.circuits}
    depth: dict[str, int] = {}
    dead: dict[str, Reason | None] = {}

    def walk(cid: str) -> None:  # parents first, without recursion limits on deep trees
        chain = []
        while cid not in depth:
            chain.append(cid)
            parent = by_id[cid].parent
            if parent is None:
                break
            cid = parent
        for c in reversed(chain):
            parent = by_id[c].parent
            depth[c] = 0 if parent is None else depth[parent] + 1
            up = None if parent is None else dead[parent]
            dead[c] = up if up is not None else base_breaks(by_id[c], site.nominal_voltage_v)

    below: dict[str, list[tuple[int, tuple[int, ...]]]] = {cid: [] for cid in sorted(by_id)}
    for cid in below:
        walk(cid)
    for i, e in enumerate(evs):
        cid: str | None = e.circuit
        while cid is not None:
            below[cid].append((i, phases[i]))
            cid = by_id[cid].parent
    order = sorted(below, key=lambda cid: -depth[cid])  # stable: id order within a depth
    return [(by_id[cid], below[cid]) for cid in order if dead[cid] is None], dead


def _kinds(rows: list[Constraint], boxes: list[Box]) -> list[Kind]:
    terms: list[list[tuple[int, float]]] = [[] for _ in boxes]
    for r, row in enumerate(rows):
        for i, w in row.coefs.items():
            terms[i].append((r, w))
    found: dict[tuple[tuple[int, float], ...], int] = {}
    kinds: list[Kind] = []
    for i, box in enumerate(boxes):
        key = tuple(terms[i])
        k = found.get(key)
        if k is None:
            k = found[key] = len(kinds)
            up = tuple(t for t in key if t[1] > 0)
            kinds.append(Kind(key, up, tuple(r for r, w in key if w < 0)))
        kinds[k].boxes.append(i)
        box.kind = k
    return kinds
