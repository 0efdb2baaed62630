"""Why each box got its setpoint, as data (manager.model.Reason).

A box at its cap names its max or its demand; a box below it names the row that refuses it one
more step (that row's label). A box without a slot names the row that refused its min. Either
becomes a `priority` reason when a higher priority holds room in a row of that label: for a box
waiting, a higher-priority box with a slot there; for a box held at its min, a higher-priority
box above its min there. (The rows of one unbalance limit share a label: any phase of it may
be the busy one.)
"""

from __future__ import annotations

from manager.allocation.problem import Problem
from manager.model import Reason


def reasons(p: Problem) -> dict[str, Reason]:
    labels: dict[Reason, int] = {}
    label_of = [labels.setdefault(row.label, len(labels)) for row in p.rows]
    slot_top, fill_top = _top_priorities(p, label_of)
    out: dict[str, Reason] = {}
    said: dict[tuple[str, int], Reason] = {}  # (code, row) -> reason: built once each
    for box in p.boxes:
        if box.out is not None:
            out[box.id] = box.out
        elif not box.granted:
            assert box.refused is not None
            higher = slot_top.get(label_of[box.refused], box.prio) > box.prio
            out[box.id] = _say(p, said, "priority" if higher else "waiting_slot", box.refused)
        elif box.why is None or box.n >= box.hi:
            out[box.id] = box.at_cap
        elif box.n == box.lo and fill_top.get(label_of[box.why], box.prio) > box.prio:
            out[box.id] = _say(p, said, "priority", box.why)
        else:
            out[box.id] = p.rows[box.why].label
    return out


def _say(p: Problem, said: dict[tuple[str, int], Reason], code: str, r: int) -> Reason:
    reason = said.get((code, r))
    if reason is None:
        reason = said[code, r] = Reason(code, cause=p.rows[r].label)
    return reason


def _top_priorities(p: Problem, label_of: list[int]) -> tuple[dict[int, int], dict[int, int]]:
    """Per label: the highest priority holding a slot in a row of it, and the highest priority
    holding more than its min there (empty when all boxes share one priority)."""
    if len({b.prio for b in p.boxes}) < 2:
        return {}, {}
    slot: dict[int, int] = {}  # kind -> highest priority with a slot
    fill: dict[int, int] = {}  # kind -> highest priority above its min
    for box in p.boxes:
        if box.granted:
            slot[box.kind] = max(slot.get(box.kind, box.prio), box.prio)
            if box.n > box.lo:
                fill[box.kind] = max(fill.get(box.kind, box.prio), box.prio)
    return _per_label(p, slot, label_of), _per_label(p, fill, label_of)


def _per_label(p: Problem, per_kind: dict[int, int], label_of: list[int]) -> dict[int, int]:
    top: dict[int, int] = {}
    for k, prio in per_kind.items():
        for r, _ in p.kinds[k].terms:
            label = label_of[r]
            if top.get(label, prio) <= prio:
                top[label] = prio
    return top
