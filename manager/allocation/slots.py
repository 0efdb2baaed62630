"""Min slots with rotation: who may charge at all when not every car gets its min.

Every box that may charge asks for its min in slot order: higher priority first, then the
lowest wait_rank (the one that has waited longest; the control loop re-ranks boxes over time,
so waiting cars take turns), then id. It gets its min if that fits every row (first fit: a
later, smaller box may still fit where an earlier one did not).
"""

from __future__ import annotations

from manager.allocation.problem import Problem
from manager.allocation.rows import EPS


def slot_order(p: Problem) -> list[int]:
    """The boxes that may charge, in slot order (boxes are indexed in id order)."""
    able = [i for i, b in enumerate(p.boxes) if b.out is None]
    return sorted(able, key=lambda i: (-p.boxes[i].prio, p.boxes[i].wait, i))


def grant_mins(p: Problem, order: list[int]) -> None:
    """First fit in slot order. Where an unbalance gap refused a min, mins granted later may
    have balanced its phases: the refused ones are asked again, in slot order, until no more
    fits."""
    if not p.coupled and _all_fit(p, order):
        for i in order:
            _grant(p, i)
        return
    waiting = order
    while waiting:
        before = len(waiting)
        waiting = [i for i in waiting if not try_min(p, i)]
        if len(waiting) == before or not p.coupled:
            return
        waiting = [i for i in waiting if p.eases_row(p.boxes[i].refused)]


def try_min(p: Problem, i: int) -> bool:
    box = p.boxes[i]
    r = p.blocker(i, box.lo * box.res)
    if r is not None:
        box.refused = r
        return False
    _grant(p, i)
    return True


def _grant(p: Problem, i: int) -> None:
    box = p.boxes[i]
    box.granted, box.refused, box.n = True, None, box.lo
    p.add(i, box.lo * box.res)


def _all_fit(p: Problem, order: list[int]) -> bool:
    """Whether every min fits at once (the usual case: then their order does not matter)."""
    per_kind: dict[int, float] = {}
    for i in order:
        box = p.boxes[i]
        per_kind[box.kind] = per_kind.get(box.kind, 0.0) + box.lo * box.res
    total = list(p.load)
    for k, amps in per_kind.items():
        for r, w in p.kinds[k].terms:
            total[r] += w * amps
    return all(x <= c + EPS for x, c in zip(total, p.cap, strict=True))
