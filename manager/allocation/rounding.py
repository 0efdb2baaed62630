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


def round_down(p: Problem, values: dict[int, tuple[float, int | None]]) -> None:
    """Set each filled box to its current rounded down to its grid, and the row that stopped
    it; then sum the loads afresh.

    Where one row stopped boxes on different grids, they all start lower, at the last point
    of the coarsest grid below the level (or one coarse step lower when the grids do not
    divide it): from there the top-up's single steps bring them together fairly, where plain
    rounding would leave the coarse box up to a whole step behind."""
    grids: dict[int, set[float]] = {}
    for i, (_, why) in values.items():
        if why is not None:
            grids.setdefault(why, set()).add(p.boxes[i].res)
    for i, (amps, why) in values.items():
        box = p.boxes[i]
        if why is not None and len(grids[why]) > 1:
            amps = _coarse_floor(amps, grids[why])
        box.n = max(box.lo, min(box.hi, math.floor(amps / box.res + GRID_EPS)))
        box.why = why
    p.recount()


def _coarse_floor(amps: float, grids: set[float]) -> float:
    coarse = max(grids)
    if all(abs(coarse / g - round(coarse / g)) < GRID_EPS * coarse / g for g in grids):
        return math.floor(amps / coarse + GRID_EPS) * coarse
    return amps - coarse


def top_up(p: Problem, members: list[int]) -> None:
    """Raise the lowest box one step while it fits; a box that does not fit names the row that
    refuses it. A box refused by an unbalance gap is asked again when a box on the gap's quiet
    side rises (that makes room)."""
    boxes, kinds = p.boxes, p.kinds
    heap = [(p.amps(i), boxes[i].wait, i) for i in members if boxes[i].n < boxes[i].hi]
    heapq.heapify(heap)
    parked: dict[int, list[int]] = {}
    while heap:
        _, wait, i = heapq.heappop(heap)
        box = boxes[i]
        r = p.blocker(i, box.res)
        if r is not None:
            box.why = r
            if r in p.gaps:
                parked.setdefault(r, []).append(i)
            continue
        p.add(i, box.res)
        box.n += 1
        if box.n < box.hi:
            heapq.heappush(heap, (p.amps(i), wait, i))
        else:
            box.why = None
        for g in kinds[box.kind].eases:
            for j in parked.pop(g, ()):
                heapq.heappush(heap, (p.amps(j), boxes[j].wait, j))
