"""One allocation, step by step: slots, then per priority level fill, round and top up."""

from __future__ import annotations

from manager.allocation.problem import Problem
from manager.allocation.rounding import round_down, top_up
from manager.allocation.slots import grant_mins, slot_order
from manager.allocation.unbalance import (
    Values,
    balance_first,
    drag,
    follow_quiet,
    late_mins,
    late_slots,
    repair_gaps,
)
from manager.allocation.waterfill import Drag, water_fill


def run(p: Problem) -> None:
    """Slots first (mins, in slot order); then the highest priority gets all it can use, then
    the next; within a level, water-filling shares fairly. Lower levels sit at their mins
    meanwhile: a granted min is kept, never shared."""
    order = slot_order(p)
    grant_mins(p, order)
    levels: dict[int, list[int]] = {}
    for i in order:
        levels.setdefault(p.boxes[i].prio, []).append(i)
    for prio in sorted(levels, reverse=True):
        fill_level(p, levels[prio])
    if p.coupled:

        def top_up_all() -> bool:
            moved = False
            for prio in sorted(levels, reverse=True):
                moved |= top_up(p, [i for i in levels[prio] if p.boxes[i].granted]) > 0
            return moved

        late_mins(p, order, top_up_all)


def fill_level(p: Problem, level: list[int]) -> None:
    """Fill one priority level (its boxes in slot order), round, top up."""
    rising = [i for i in level if p.boxes[i].granted and p.boxes[i].n < p.boxes[i].hi]
    if not p.coupled:
        if rising:
            round_down(p, sweep(p, {i: p.amps(i) for i in rising}, p.load))
            top_up(p, rising)
        return
    saved = p.save()
    values = fair_sweep(p, rising)
    late = late_slots(p, [i for i in level if not p.boxes[i].granted], values)
    if late:  # fill again with their mins; if the fill cannot balance them, they wait
        more = rising + [i for i in late if p.boxes[i].n < p.boxes[i].hi]
        round_down(p, coupled_fill(p, more))
        if repair_gaps(p, more):
            top_up(p, more)
            return
        p.restore(saved)
    round_down(p, follow_quiet(p, values, sweep))
    if not repair_gaps(p, rising):  # not seen in any test; safe whatever happens: from the
        p.restore(saved)  # mins, which held, single steps only take what fits
    top_up(p, rising)


def coupled_fill(p: Problem, rising: list[int]) -> Values:
    """The fill where unbalance gaps couple phases: the busy side follows the quiet one."""
    return follow_quiet(p, fair_sweep(p, rising), sweep)


def fair_sweep(p: Problem, rising: list[int]) -> Values:
    """The sweep; where a gap stopped its busy side, also a sweep whose quiet sides rise
    ahead so that the busy side can keep up: whichever leaves the lowest boxes higher."""
    starts, load = balance_first(p, {i: p.amps(i) for i in rising}, water_fill)
    values = sweep(p, starts, load)
    weights = drag(p, values)
    if weights:
        other = sweep(p, starts, load, weights)
        if sorted(v for v, _ in other.values()) > sorted(v for v, _ in values.values()):
            return other
    return values


def sweep(
    p: Problem, starts: dict[int, float], load: list[float], weights: Drag | None = None
) -> Values:
    """Water-fill these boxes from these currents; `load` has them at those currents."""
    members: dict[int, list[tuple[float, float, int]]] = {}
    for i, amps in starts.items():
        box = p.boxes[i]
        members.setdefault(box.kind, []).append((amps, box.hi * box.res, i))
    room = [c - x for c, x in zip(p.cap, load, strict=True)]
    return water_fill(p.kinds, members, room, weights)
