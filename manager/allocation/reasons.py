"""Why each box got its setpoint, as data (manager.model.Reason).

A box at its cap names its max or its demand; a box below it names the row that refuses it one
more step (that row's label). A box without a slot names the row that refused its min. Either
becomes a `priority` reason when a higher priority holds room in a row of that label: for a box
waiting, a higher-priority box with a slot there; for a box held at its min, a higher-priority
box above its min there.
"""

from __future__ import annotations

from manager.allocation.problem import Problem
from manager.model import Reason


def reasons(p: Problem) -> dict[str, Reason]:
    slot_top, fill_top = _top_priorities(p)
    out: dict[str, Reason] = {}
    for box in p.boxes:
        if box.out is not None:
            out[box.id] = box.out
        elif not box.granted:
            assert box.refused is not None
            label = p.rows[box.refused].label
            higher = slot_top.get(label, box.prio) > box.prio
            out[box.id] = Reason("priority" if higher else "waiting_slot", cause=label)
        elif box.why is None or box.n >= box.hi:
            out[box.id] = box.at_cap
        else:
            label = p.rows[box.why].label
            if box.n == box.lo and fill_top.get(label, box.prio) > box.prio:
                out[box.id] = Reason("priority", cause=label)
            else:
                out[box.id] = label
    return out


def _top_priorities(p: Problem) -> tuple[dict[Reason, int], dict[Reason, int]]:
    """Per row label: the highest priority holding a slot in it, and the highest priority
    holding more than its min in it (empty when all boxes share one priority)."""
    if len({b.prio for b in p.boxes}) < 2:
        return {}, {}
    slot: dict[int, int] = {}  # kind -> highest priority with a slot
    fill: dict[int, int] = {}  # kind -> highest priority above its min
    for box in p.boxes:
        if box.granted:
            slot[box.kind] = max(slot.get(box.kind, box.prio), box.prio)
            if box.n > box.lo:
                fill[box.kind] = max(fill.get(box.kind, box.prio), box.prio)
    return _per_label(p, slot), _per_label(p, fill)


def _per_label(p: Problem, per_kind: dict[int, int]) -> dict[Reason, int]:
    top: dict[Reason, int] = {}
    for k, prio in per_kind.items():
        for r, _ in p.kinds[k].terms:
            label = p.rows[r].label
            if top.get(label, prio) <= prio:
                top[label] = prio
    return top
