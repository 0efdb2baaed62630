"""Rounding to each box's grid, and the top-up that hands out what rounding left.

The fill gives continuous currents. Each is rounded down to its box's grid (never up past a
limit); then one step at a time goes to the lowest box (ties: wait_rank, then id) while every
row it loads has room. Boxes on different grids share fairly this way too: a 1 A box takes its
whole step while it is the lower one, rather than 0.1 A boxes eating the room in small bites.
"""

from __future__ import annotations

import heapq
import math

from manager.allocation.problem import GRID_EPS, Problem
from manager.allocation.rows import EPS


def round_down(p: Problem, values: dict[int, tuple[float, int | None]]) -> None:
    """Set each filled box to its current rounded down to its grid, and the row that stopped
    it; then sum the loads afresh.

    Where a box shares a row with boxes on other grids, it starts lower, at the last point of
    the coarsest of those grids below its level (or one coarse step lower when the grids do
    not divide it): from there the top-up's single steps bring them together fairly, where
    plain rounding would leave a coarse box up to a whole step behind."""
    grids: dict[int, set[float]] = {}  # row -> the grids of the filled boxes in it
    if len({p.boxes[i].res for i in values}) > 1:
        of_kind = {(p.boxes[i].kind, p.boxes[i].res) for i in values}
        for k, res in of_kind:
            for r, _ in p.kinds[k].up:
                grids.setdefault(r, set()).add(res)
    near: dict[int, set[float]] = {}  # kind -> the grids in its rows
    for i, (amps, why) in values.items():
        box = p.boxes[i]
        if why is not None and grids:
            k = box.kind
            if k not in near:
                near[k] = set().union(*(grids[r] for r, _ in p.kinds[k].up))
            if len(near[k]) > 1:
                amps = _coarse_floor(amps, near[k])
        box.n = max(box.lo, min(box.hi, math.floor(amps / box.res + GRID_EPS)))
        box.why = why
    p.recount()


def _coarse_floor(amps: float, grids: set[float]) -> float:
    coarse = max(grids)
    if all(abs(coarse / g - round(coarse / g)) < GRID_EPS * coarse / g for g in grids):
        return math.floor(amps / coarse + GRID_EPS) * coarse
    return amps - coarse


Heap = list[tuple[float, int, int]]


def top_up(p: Problem, members: list[int]) -> int:
    """Raise the lowest box one step while it fits; a box that does not fit names the row that
    refuses it. A box refused by an unbalance gap is asked again when a box on the gap's quiet
    side rises (that makes room). Returns the number of steps handed out.

    The boxes at one current take their steps as a round, in tie order. Where every row has
    room for several whole rounds of them before any other box is due, they take those at
    once: the same setpoints as single steps, without the queue."""
    boxes = p.boxes
    heap: Heap = [(p.amps(i), boxes[i].wait, i) for i in members if boxes[i].n < boxes[i].hi]
    heapq.heapify(heap)
    parked: dict[int, list[int]] = {}
    steps = 0
    while heap:
        level = heap[0][0]
        turn = []
        while heap and heap[0][0] <= level + EPS:
            turn.append(heapq.heappop(heap)[2])
        rounds = _whole_rounds(p, turn, heap[0][0] if heap else math.inf)
        if rounds:
            for i in turn:
                _raise(p, i, rounds, heap)
            steps += rounds * len(turn)
            continue
        for i in turn:
            r = p.blocker(i, boxes[i].res)
            if r is None:
                _raise(p, i, 1, heap)
                steps += 1
                for g in p.kinds[boxes[i].kind].eases:  # room on the gap's busy side
                    for j in parked.pop(g, ()):
                        heapq.heappush(heap, (p.amps(j), boxes[j].wait, j))
            else:
                boxes[i].why = r
                if r in p.gaps:
                    parked.setdefault(r, []).append(i)
    return steps


def _raise(p: Problem, i: int, steps: int, heap: Heap) -> None:
    box = p.boxes[i]
    p.add(i, steps * box.res)
    box.n += steps
    if box.n < box.hi:
        heapq.heappush(heap, (p.amps(i), box.wait, i))
    else:
        box.why = None


def _whole_rounds(p: Problem, turn: list[int], due: float) -> int:
    """How many whole rounds the boxes of `turn` (one current, one grid, none on a gap's quiet
    side) may take at once: every row has room for all of them, and no other box (at `due`)
    would have its turn in between. 0 or 1 mean: single steps."""
    boxes, kinds = p.boxes, p.kinds
    step = boxes[turn[0]].res
    if len(turn) < 2 or any(boxes[i].res != step or kinds[boxes[i].kind].eases for i in turn):
        return 0
    level = p.amps(turn[0])
    most = min(boxes[i].hi - boxes[i].n for i in turn)
    if due < math.inf:
        most = min(most, math.floor((due - level) / step - GRID_EPS) + 1)
    per_kind: dict[int, int] = {}
    for i in turn:
        per_kind[boxes[i].kind] = per_kind.get(boxes[i].kind, 0) + 1
    need: dict[int, float] = {}
    cap, load = p.cap, p.load
    for k, n in per_kind.items():
        for r, w in kinds[k].up:
            x = need[r] = need.get(r, 0.0) + w * step * n
            if 2 * x > cap[r] - load[r] + EPS:  # not even two rounds: single steps
                return 0
    for r, x in need.items():
        most = min(most, math.floor((cap[r] - load[r] + EPS) / x))
    return most if most > 1 else 0
