"""Unbalanced-load limits: the rows whose coefficients are not all positive.

An unbalance limit is a gap row per ordered phase pair (busy p, quiet q): current on p raises
it, current on q lowers it. That is not monotone: as the quiet side rises, the busy side gets
room back. Everything about that lives here:

- the fill counts the quiet side's rise (a gap fills more slowly while its quiet side rises);
  where a gap stopped its busy side, a second fill lets the quiet side rise ahead, as much
  faster as the busy side outnumbers it, so both can keep up with the level (`drag_weights`);
  the fill that leaves the lowest boxes higher is kept;
- afterwards the busy side follows: each gap that stopped a box and now has room (its quiet
  side rose) fills again from where its boxes stopped, up to `FOLLOW_PASSES` times
  (`follow_quiet`);
- rounding the quiet side down can narrow a gap below its busy side: the busy side then
  gives back a step at a time, highest first (`repair_gaps`); the top-up hands out what fits;
- a min an unbalance gap refused may fit once the other phases filled: such boxes get their
  slot late, in slot order, and the levels top up again (`late_mins`).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from manager.allocation.problem import Problem
from manager.allocation.rows import EPS
from manager.allocation.slots import try_min

#: fills that let busy phases follow their quiet ones; each one only raises currents
FOLLOW_PASSES = 6

Values = dict[int, tuple[float, int | None]]
Fill = Callable[[Problem, dict[int, float], list[float]], Values]


def follow_quiet(p: Problem, values: Values, fill: Fill) -> Values:
    """Fill again, from where they stopped, the boxes that a gap stopped while that gap has
    room again for a step of one of them."""
    load = _loads_at(p, values, list(p.load), lambda i: p.amps(i))
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


def drag_weights(p: Problem, values: Values) -> dict[int, float]:
    """Where a gap stopped boxes of this fill: how much faster its quiet side must rise for
    the busy side to keep rising with the level (its busy boxes over its quiet ones, by
    coefficient), per quiet kind; the largest where a kind is quiet in several gaps."""
    gaps = {why for _, why in values.values() if why in p.gaps}
    if not gaps:
        return {}
    count: dict[int, int] = {}
    for i in values:
        count[p.boxes[i].kind] = count.get(p.boxes[i].kind, 0) + 1
    weights: dict[int, float] = {}
    for r in gaps:
        busy = quiet = 0.0
        for k, n in count.items():
            w = dict(p.kinds[k].terms).get(r, 0.0)
            busy += max(w, 0.0) * n
            quiet -= min(w, 0.0) * n
        if busy > quiet > 0:
            for k in count:
                if dict(p.kinds[k].terms).get(r, 0.0) < 0:
                    weights[k] = max(weights.get(k, 1.0), busy / quiet)
    return weights


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
    """Lower the busy side of a gap that rounding broke, one step at a time, highest first;
    False if that cannot mend it (the members are all at their mins)."""
    broken = p.broken()
    while broken:
        r = broken[0]
        busy = [i for i in members if p.boxes[i].n > p.boxes[i].lo and _loads(p, i, r)]
        if not busy:
            return False
        i = max(busy, key=lambda j: (p.amps(j), j))
        p.boxes[i].n -= 1
        p.add(i, -p.boxes[i].res)
        p.boxes[i].why = r
        broken = p.broken()
    return True


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
