"""The allocation's working state: boxes, their rows, the loads, and the checks on them.

Boxes are indexed in id order. Boxes with exactly the same coefficients in every row form a
kind (same circuit, same site phases, same budgets): the water-filling moves kinds, not boxes.
Setpoints are kept in whole steps of each box's resolution, so a setpoint is always on its grid.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from manager.allocation.rows import EPS, Constraint, base_breaks, build_rows
from manager.allocation.validate import check_budget, check_evses, check_site
from manager.model import Budget, Circuit, EvseLoad, Reason, Site

Saved = tuple[list[tuple[int, bool, int | None, int | None]], list[float]]
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
    phases: tuple[int, ...] = ()  # the site phases its boxes load


class Problem:
    """Rows, boxes and kinds of one allocation, and the loads the setpoints put on the rows."""

    def __init__(self, site: Site, evses: Sequence[EvseLoad]) -> None:
        evs = check_evses(evses, check_site(site))
        known = {e.id for e in evs}
        for b in site.budgets:
            check_budget(b, known)
        self.boxes = _boxes(evs)
        phases = _site_phases(evs)
        tree, dead = _tree(site, evs)
        for box, e in zip(self.boxes, evs, strict=True):
            box.out = box.out or dead[e.circuit]
        pos = {e.id: i for i, e in enumerate(evs)}
        budgets = [(b, sorted(pos[x] for x in set(b.boxes))) for b in site.budgets]
        tree, budgets = _live(self.boxes, tree, budgets)
        self.rows: list[Constraint] = build_rows(tree, budgets, site.nominal_voltage_v)
        self.cap = [r.capacity for r in self.rows]
        self.load = [0.0] * len(self.rows)
        self.kinds = _group(self.boxes, evs, phases, budgets)
        _terms(self.kinds, self.rows, self.boxes, phases)
        #: rows some box makes room in (unbalance gaps): a box refused by one may fit later
        self.gaps = {r for k in self.kinds for r in k.eases}
        self.coupled = bool(self.gaps)

    def save(self) -> Saved:
        """The setpoints and loads, to go back to when a try does not work out."""
        state = [(b.n, b.granted, b.why, b.refused) for b in self.boxes]
        return state, list(self.load)

    def restore(self, saved: Saved) -> None:
        state, load = saved
        for b, (n, granted, why, refused) in zip(self.boxes, state, strict=True):
            b.n, b.granted, b.why, b.refused = n, granted, why, refused
        self.load = list(load)

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


def _boxes(evs: list[EvseLoad]) -> list[Box]:
    """The boxes; their bounds and reasons worked out once per set of currents (few differ)."""
    seen: dict[tuple, tuple[int, int, Reason, Reason | None]] = {}
    boxes = []
    for e in evs:
        key = (e.min_current_a, e.max_current_a, e.demand_a, e.resolution_a)
        bounds = seen.get(key)
        if bounds is None:
            bounds = seen[key] = _bounds(*key)
        boxes.append(
            Box(e.id, -1, e.resolution_a, *bounds[:2], e.priority, e.wait_rank, *bounds[2:])
        )
    return boxes


def _site_phases(evs: list[EvseLoad]) -> list[tuple[int, ...]]:
    seen: dict[tuple, tuple[int, ...]] = {}
    out = []
    for e in evs:
        key = (e.phases, e.rotation, e.car_phases)
        try:
            ph = seen.get(key)
        except TypeError:  # car phases as a set or a list
            out.append(e.site_phases())
            continue
        if ph is None:
            ph = seen[key] = e.site_phases()
        out.append(ph)
    return out


def _bounds(
    mn: float, mx: float, dm: float | None, res: float
) -> tuple[int, int, Reason, Reason | None]:
    """Steps at the min (rounded up) and at the cap (rounded down), the reason at the cap, and
    why the box cannot charge at all (None: it can)."""
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
    return lo, hi, at_cap, out


def _tree(
    site: Site, evs: list[EvseLoad]
) -> tuple[list[tuple[Circuit, list[int]]], dict[str, Reason | None]]:
    """The live circuits deepest first, each with the boxes below it, and per circuit the
    reason its boxes are paused (its base load breaks it or a circuit above it: the one
    nearest the grid)."""
    by_id = {c.id: c for c in site.circuits}
    order = _top_down(by_id)
    dead: dict[str, Reason | None] = {}
    for cid in order:
        parent = by_id[cid].parent
        up = None if parent is None else dead[parent]
        dead[cid] = up if up is not None else base_breaks(by_id[cid], site.nominal_voltage_v)
    below: dict[str, list[int]] = {cid: [] for cid in order}
    for i, e in enumerate(evs):
        below[e.circuit].append(i)
    for cid in reversed(order):  # children before parents: each passes its boxes up
        parent = by_id[cid].parent
        if parent is not None:
            below[parent].extend(below[cid])
    rows_first = reversed(order)  # deepest first
    return [(by_id[cid], below[cid]) for cid in rows_first if dead[cid] is None], dead


def _top_down(by_id: dict[str, Circuit]) -> list[str]:
    """Circuit ids breadth first from the root, in id order within a level."""
    children: dict[str | None, list[str]] = {}
    for cid in sorted(by_id):
        children.setdefault(by_id[cid].parent, []).append(cid)
    order = list(children.get(None, []))
    for cid in order:  # grows while it is read
        order += children.get(cid, [])
    return order


_PHASES_OF = [tuple(p for p in range(3) if m >> p & 1) for m in range(8)]


def _mask(phases: tuple[int, ...]) -> int:
    return sum(1 << p for p in phases)


def _live(
    boxes: list[Box], tree: list[tuple[Circuit, list[int]]], budgets: list[tuple[Budget, list[int]]]
) -> tuple[list[tuple[Circuit, list[int]]], list[tuple[Budget, list[int]]]]:
    """The circuits and budgets with only the boxes that may charge."""
    out = {i for i, box in enumerate(boxes) if box.out is not None}
    if not out:
        return tree, budgets
    return (
        [(c, [i for i in below if i not in out]) for c, below in tree],
        [(b, [i for i in ms if i not in out]) for b, ms in budgets],
    )


def _group(
    boxes: list[Box],
    evs: list[EvseLoad],
    phases: list[tuple[int, ...]],
    budgets: list[tuple[Budget, list[int]]],
) -> list[Kind]:
    """Group boxes that load the same rows alike: same circuit, site phases and budgets (every
    builder gives such boxes the same coefficients). Boxes that cannot charge form a kind of
    their own without rows."""
    member_of: dict[int, tuple[int, ...]] = {}
    for j, (_, ms) in enumerate(budgets):
        for i in ms:
            member_of[i] = (*member_of.get(i, ()), j)
    found: dict[object, int] = {}
    kinds: list[Kind] = []
    for i, (box, e) in enumerate(zip(boxes, evs, strict=True)):
        key = None if box.out is not None else (e.circuit, phases[i], member_of.get(i))
        k = found.get(key)
        if k is None:
            k = found[key] = len(kinds)
            kinds.append(Kind((), (), (), phases=phases[i]))
        kinds[k].boxes.append(i)
        box.kind = k
    return kinds


def _terms(
    kinds: list[Kind], rows: list[Constraint], boxes: list[Box], phases: list[tuple[int, ...]]
) -> None:
    """Each kind's (row, coefficient) pairs, rows in order; worked out once per list of members
    (a circuit's rows share one) and once per set of weights and site phases."""
    terms: list[list[tuple[int, float]]] = [[] for _ in kinds]
    in_list: dict[int, list[tuple[int, int]]] = {}  # members list -> its kinds, phase masks
    coefs: dict[int, list[float]] = {}  # weights -> coefficient per mask of site phases
    for r, row in enumerate(rows):
        found = in_list.get(id(row.members))
        if found is None:
            ks = sorted({boxes[i].kind for i in row.members})
            found = in_list[id(row.members)] = [(k, _mask(phases[kinds[k].boxes[0]])) for k in ks]
        table = coefs.get(id(row.weights))
        if table is None:
            table = coefs[id(row.weights)] = [row.coef(_PHASES_OF[m]) for m in range(8)]
        for k, mask in found:
            w = table[mask]
            if w:
                terms[k].append((r, w))
    for kind, ts in zip(kinds, terms, strict=True):
        kind.terms = tuple(ts)
        kind.up = tuple(t for t in ts if t[1] > 0)
        kind.eases = tuple(r for r, w in ts if w < 0)
