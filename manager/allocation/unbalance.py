"""Unbalanced-load limits: the rows whose coefficients are not all positive.

An unbalance limit is a gap row per ordered phase pair (busy p, quiet q): current on p raises
it, current on q lowers it. That is not monotone: as the quiet side rises, the busy side gets
room back. Everything about that lives here:

- where a min granted late (below) leaves a gap over its limit before the fill, the gap's
  quiet side rises first, fairly, until the gap holds (`balance_first`);
- the fill counts the quiet side's rise (a gap fills more slowly while its quiet side rises);
  where a gap stopped its busy side, a second fill weights the 1-phase boxes below that
  limit so that every phase gains the same current per level (a phase with fewer boxes gives
  each more), and the gaps stay as they are while all rise (`drag_weights`); the fill that
  leaves the lowest boxes higher is kept;
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

from manager.allocation.problem import Kind, Problem
from manager.allocation.rows import EPS
from manager.allocation.slots import try_min

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


def drag_weights(p: Problem, values: Values) -> dict[int, float]:
    """Where a gap stopped boxes of this fill: weights that let every phase's 1-phase boxes
    below that unbalance limit add the same current per unit of level (a phase with fewer
    boxes gives each more), so its gaps stay as they are while everybody rises."""
    labels = {p.rows[why].label for _, why in values.values() if why in p.gaps}
    if not labels:
        return {}
    count: dict[int, int] = {}
    for i in values:
        count[p.boxes[i].kind] = count.get(p.boxes[i].kind, 0) + 1
    weights: dict[int, float] = {}
    for label in labels:
        for k, w in _equal_rise(p, label, count).items():
            weights[k] = max(weights.get(k, 1.0), w)
    return {k: w for k, w in weights.items() if w > 1.0}


def _equal_rise(p: Problem, label: object, count: dict[int, int]) -> dict[int, float]:
    """Per 1-phase kind below the unbalance limit `label`: the most boxes on one phase over
    the boxes on its own phase."""
    per_phase: dict[int, list[int]] = {}  # site phase -> its 1-phase kinds below the limit
    for k in count:
        kind = p.kinds[k]
        if len(kind.phases) == 1 and any(p.rows[r].label == label for r in kind.eases):
            per_phase.setdefault(kind.phases[0], []).append(k)
    boxes = {ph: sum(count[k] for k in ks) for ph, ks in per_phase.items()}
    most = max(boxes.values(), default=0)
    return {k: most / boxes[ph] for ph, ks in per_phase.items() for k in ks}


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
