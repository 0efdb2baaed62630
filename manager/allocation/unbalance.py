"""Unbalanced-load limits: the rows whose coefficients are not all positive.

An unbalance limit is a gap row per ordered phase pair (busy p, quiet q): current on p raises
it, current on q lowers it. That is not monotone: as the quiet side rises, the busy side gets
room back. Everything about that lives here:

- where a min granted late (below) leaves a gap over its limit before the fill, the gap's
  quiet side rises first, fairly, until the gap holds (`balance_first`);
- the fill counts the quiet side's rise (a gap fills more slowly while its quiet side rises);
  where a gap stopped its busy side, a second fill links a gap's two sides once the gap is
  full: from then on every linked phase's 1-phase boxes below that limit gain the same current
  per level (a phase with fewer boxes gives each more; recounted at every event as boxes reach
  their caps or stop), so the gap stays at its limit while both sides rise (`PhaseDrag`); the
  fill that leaves the lowest boxes higher is kept;
- afterwards the busy side follows: each gap that stopped a box and now has room (its quiet
  side rose) fills again from where its boxes stopped, up to `FOLLOW_PASSES` times
  (`follow_quiet`);
- rounding the quiet side down can narrow a gap below its busy side: the busy side then
  gives back a step at a time, highest first (`repair_gaps`); the top-up hands out what fits;
- a min an unbalance gap refused may fit once the other phases filled: such boxes get their
  slot late, in slot order, and the levels top up again (`late_mins`).
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable

from manager.allocation.problem import Kind, Problem
from manager.allocation.rows import EPS
from manager.allocation.slots import try_min
from manager.model import PHASES

#: fills that let busy phases follow their quiet ones; each one only raises currents
FOLLOW_PASSES = 6

Values = dict[int, tuple[float, int | None]]
Fill = Callable[[Problem, dict[int, float], list[float]], Values]


def follow_quiet(p: Problem, values: Values, fill: Fill) -> Values:
    """Fill again, from where they stopped, the boxes that a gap stopped while that gap has
    room again for a step of one of them."""
    load = _loads_at(p, values, list(p.load), p.amps)
    for _ in range(FOLLOW_PASSES):
        step: dict[int, float] = {}  # gap -> the smallest step of a box it stopped
        for i, (_, why) in values.items():
            if why in p.gaps:
                step[why] = min(step.get(why, math.inf), p.boxes[i].res)
        again = {
            i: amps
            for i, (amps, why) in values.items()
            if why in step and load[why] + step[why] <= p.cap[why] + EPS
        }
        if not again:
            break
        more = fill(p, again, load)
        load = _loads_at(p, more, load, again.__getitem__)
        values = {**values, **more}
    return values


def balance_first(
    p: Problem, starts: dict[int, float], fill: Callable[..., Values]
) -> tuple[dict[int, float], list[float]]:
    """Where a gap is over its limit before the fill (a min granted late counts on the quiet
    side's rise), raise that gap's quiet side first, fairly, until the gap holds; the busy
    side then rises with the level from there. The starts and the loads at them."""
    over = [r for r in sorted(p.gaps) if p.load[r] > p.cap[r] + EPS]
    if not over:
        return starts, p.load
    kinds = list(p.kinds)
    extra: dict[int, list[tuple[int, float]]] = {}  # kind -> its terms in the "excess" rows
    for j, r in enumerate(over):
        for k in {p.boxes[i].kind for i in starts}:
            w = dict(p.kinds[k].terms).get(r, 0.0)
            if w < 0:
                extra.setdefault(k, []).append((len(p.rows) + j, -w))
    for k, terms in extra.items():  # the quiet side's rise fills the excess row
        kinds[k] = Kind(
            kinds[k].terms + tuple(terms), kinds[k].up + tuple(terms), (), [], kinds[k].phases
        )
    room = [c - x for c, x in zip(p.cap, p.load, strict=True)]
    room += [p.load[r] - p.cap[r] for r in over]
    members: dict[int, list[tuple[float, float, int]]] = {}
    for i, amps in starts.items():
        if p.boxes[i].kind in extra:
            box = p.boxes[i]
            members.setdefault(box.kind, []).append((amps, box.hi * box.res, i))
    raised = {i: v for i, (v, _) in fill(kinds, members, room).items()}
    load = _loads_at(p, {i: (v, None) for i, v in raised.items()}, p.load, starts.__getitem__)
    return {**starts, **raised}, load


class PhaseDrag:
    """The weights of a fill where gaps stopped busy sides. While a gap (p over q) of an
    unbalance limit is below its limit, every box rises as usual. When it fills, p and q are
    linked instead of p stopping: from then on every linked phase's 1-phase boxes below that
    limit that are still live (rising or yet to start) add the same current per unit of level
    (a phase with fewer of them gives each more), so the gap stays at its limit while both
    sides rise. Recounted at every event of the fill, as boxes reach their caps or stop."""

    def __init__(
        self, group: dict[int, int], limits: list[list[list[int]]], gaps: dict[int, tuple]
    ) -> None:
        self.group = group  # 1-phase kind -> its group (1, 2, ...)
        self.limits = limits  # per limit, per site phase: the groups below it on that phase
        self.gaps = gaps  # gap row -> (limit, busy phase, quiet phase)
        self.linked: list[set[tuple[int, int]]] = [set() for _ in limits]
        self.size = 1 + len(set(group.values()))

    def link(self, r: int) -> bool:
        """Gap row r is full: link its phases (False: not one of ours, or linked already)."""
        if r not in self.gaps:
            return False
        j, busy, quiet = self.gaps[r]
        if (busy, quiet) in self.linked[j]:
            return False
        self.linked[j].add((busy, quiet))
        return True

    def weights(self, live: list[int]) -> list[float]:
        out = [1.0] * self.size
        for per_phase, linked in zip(self.limits, self.linked, strict=True):
            counts = [sum(live[g] for g in gs) for gs in per_phase]
            for phases in _classes(linked):
                most = max(counts[ph] for ph in phases)
                for ph in phases:
                    for g in per_phase[ph] if counts[ph] else ():
                        out[g] = max(out[g], most / counts[ph])
        return out


def _classes(linked: set[tuple[int, int]]) -> list[set[int]]:
    """The phases linked with each other, directly or through a third phase."""
    classes: list[set[int]] = []
    for pair in sorted(linked):
        joined = set(pair).union(*(c for c in classes if c & set(pair)))
        classes = [c for c in classes if not c & joined] + [joined]
    return classes


def drag(p: Problem, values: Values) -> PhaseDrag | None:
    """The weights for a second fill, where a gap stopped boxes of this one (None: none did)."""
    labels = sorted({p.rows[why].label for _, why in values.values() if why in p.gaps}, key=str)
    group, limits = _phase_groups(p, {p.boxes[i].kind for i in values}, labels)
    if not group:
        return None
    gaps = {}
    for r in p.gaps:
        row = p.rows[r]
        if row.label in labels:
            busy, quiet = row.weights.index(1.0), row.weights.index(-1.0)
            gaps[r] = (labels.index(row.label), busy, quiet)
    return PhaseDrag(group, limits, gaps)


def _phase_groups(
    p: Problem, kinds: set[int], labels: list
) -> tuple[dict[int, int], list[list[list[int]]]]:
    """1-phase kinds below the same of these limits on the same phase form one group: the
    group of each kind, and per limit and site phase the groups below it there."""
    group: dict[int, int] = {}
    found: dict[tuple, int] = {}
    limits: list[list[list[int]]] = [[[] for _ in range(PHASES)] for _ in labels]
    for k in sorted(kinds):
        kind = p.kinds[k]
        below = {p.rows[r].label for r in kind.eases}
        mine = tuple(j for j, label in enumerate(labels) if label in below)
        if len(kind.phases) != 1 or not mine:
            continue
        key = (kind.phases[0], mine)
        if key not in found:
            found[key] = len(found) + 1
            for j in mine:
                limits[j][kind.phases[0]].append(found[key])
        group[k] = found[key]
    return group, limits


def _loads_at(
    p: Problem, values: Values, load: list[float], before: Callable[[int], float]
) -> list[float]:
    """`load` with the filled boxes moved from `before` to their (continuous) currents."""
    load = list(load)
    for i, (amps, _) in values.items():
        delta = amps - before(i)
        if delta:
            for r, w in p.kinds[p.boxes[i].kind].terms:
                load[r] += w * delta
    return load


def repair_gaps(p: Problem, members: list[int]) -> bool:
    """Lower the busy side of a gap that rounding broke, one step at a time, highest first
    (ties: the higher index); False if that cannot mend it (the members are all at their
    mins). A step changes only its box's rows: only those are checked again."""
    broken = set(p.broken())
    busy: dict[int, list[tuple[float, int]]] = {}  # row -> heap of (-amps, -box) loading it
    while broken:
        r = min(broken)
        heap = busy.get(r)
        if heap is None:
            heap = busy[r] = [(-p.amps(i), -i) for i in members if _loads(p, i, r)]
            heapq.heapify(heap)
        i = _highest_above_min(p, heap)
        if i is None:
            return False
        box = p.boxes[i]
        box.n -= 1
        p.add(i, -box.res)
        box.why = r
        heapq.heappush(heap, (-p.amps(i), -i))
        for q, _ in p.kinds[box.kind].terms:
            if p.load[q] > p.cap[q] + EPS:
                broken.add(q)
            else:
                broken.discard(q)
    return True


def _highest_above_min(p: Problem, heap: list[tuple[float, int]]) -> int | None:
    """The box of the heap with the highest current above its min (entries may be stale:
    another gap may have lowered a box since)."""
    while heap:
        amps, i = heap[0]
        box = p.boxes[-i]
        if box.n <= box.lo:
            heapq.heappop(heap)
        elif -amps != p.amps(-i):
            heapq.heapreplace(heap, (-p.amps(-i), i))
        else:
            return -i
    return None


def _loads(p: Problem, i: int, r: int) -> bool:
    return any(x == r for x, _ in p.kinds[p.boxes[i].kind].up)


def late_slots(p: Problem, waiting: list[int], values: Values) -> list[int]:
    """Grant, in slot order, the mins a gap refused that fit once the fill has raised the
    gaps' quiet sides (the busy sides still at their starts)."""
    waiting = [i for i in waiting if p.boxes[i].refused in p.gaps]
    if not waiting:
        return []
    load = list(p.load)
    for i, (amps, _) in values.items():
        delta = amps - p.amps(i)
        for r, w in p.kinds[p.boxes[i].kind].terms:
            if w < 0:
                load[r] += w * delta
    late = []
    for i in waiting:
        box = p.boxes[i]
        v = box.lo * box.res
        up = p.kinds[box.kind].up
        if all(load[r] + w * v <= p.cap[r] + EPS for r, w in up):
            for r, w in up:
                load[r] += w * v
            box.granted, box.refused, box.n = True, None, box.lo
            p.add(i, v)
            late.append(i)
    return late


def late_mins(p: Problem, order: list[int], top_up_all: Callable[[], bool]) -> None:
    """After every level: lower levels' fills may have made room in gaps for higher levels'
    steps and for mins a gap refused. Top up again and grant those mins while anything moves."""
    for _ in range(len(order) + 2):
        moved = top_up_all()
        late = [i for i in order if not p.boxes[i].granted and p.boxes[i].refused in p.gaps]
        if not any([try_min(p, i) for i in late]) and not moved:
            return
