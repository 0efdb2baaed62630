"""One allocation, step by step: slots, then per priority level fill, round and top up."""

from __future__ import annotations

from manager.allocation.problem import Problem
from manager.allocation.rounding import round_down, top_up
from manager.allocation.slots import grant_mins, slot_order
from manager.allocation.unbalance import Values, follow_quiet, late_mins, repair_gaps
from manager.allocation.waterfill import water_fill


def run(p: Problem) -> None:
    """Slots first (mins, in slot order); then the highest priority gets all it can use, then
    the next; within a level, water-filling shares fairly. Lower levels sit at their mins
    meanwhile: a granted min is kept, never shared."""
    order = slot_order(p)
    grant_mins(p, order)
    levels: dict[int, list[int]] = {}
    for i in order:
        if p.boxes[i].granted:
            levels.setdefault(p.boxes[i].prio, []).append(i)
    for prio in sorted(levels, reverse=True):
        fill_level(p, levels[prio])
    if p.coupled:

        def top_up_all() -> None:
            for prio in sorted(levels, reverse=True):
                top_up(p, levels[prio])

        def granted_levels() -> None:
            levels.clear()
            for i in order:
                if p.boxes[i].granted:
                    levels.setdefault(p.boxes[i].prio, []).append(i)
            top_up_all()

        late_mins(p, order, granted_levels)


def fill_level(p: Problem, members: list[int]) -> None:
    rising = [i for i in members if p.boxes[i].n < p.boxes[i].hi]
    if not rising:
        return
    values = sweep(p, {i: p.amps(i) for i in rising}, p.load)
    if p.coupled:
        values = follow_quiet(p, values, sweep)
    round_down(p, values)
    if p.coupled:
        repair_gaps(p, rising)
    top_up(p, rising)


def sweep(p: Problem, starts: dict[int, float], load: list[float]) -> Values:
    """Water-fill these boxes from these currents; `load` has them at those currents."""
    members: dict[int, list[tuple[float, float, int]]] = {}
    for i, amps in starts.items():
        box = p.boxes[i]
        members.setdefault(box.kind, []).append((amps, box.hi * box.res, i))
    room = [c - x for c, x in zip(p.cap, load, strict=True)]
    return water_fill(p.kinds, members, room)
