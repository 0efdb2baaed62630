"""An external limit (grid operator, EMS) in the allocator's terms: one `Budget` row in watts
over the wallboxes it covers (all, or those in one circuit and below), with the reason
`grid_limit` [max_power_w, until] for a box it stops.

The §14a option: every box that may charge keeps its floor (4 200 W, but not below its min nor
above its max power or its demand) while the limit holds. The floor becomes the box's min
current, which the allocator grants before it shares anything (mins first), and the row is
never below the sum of those mins. So each box gets its floor whenever the fuses allow,
whatever the phases and priorities: the 3-phase box that rises three times as fast in watts,
or the higher priority served first, take only what is above the floors.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import replace

from manager.model import Budget, Circuit, EvseLoad, Reason


def external_limit(
    max_power_w: float,
    until: float,
    circuit: str | None,
    circuits: Sequence[Circuit],
    loads: Sequence[EvseLoad],
    volt: float,
    floor_w: float = 0.0,
) -> tuple[Budget, list[EvseLoad]]:
    """The limit's row, and the loads with the §14a floors as mins; `circuit` None covers
    every wallbox."""
    inside = _subtree(circuit, circuits)
    out, members, floors = [], [], 0.0
    for e in loads:
        if inside is not None and e.circuit not in inside:
            out.append(e)
            continue
        members.append(e.id)
        if floor_w > 0 and e.demand_a != 0:
            e = replace(e, min_current_a=_floor_a(e, floor_w, volt))
            floors += e.min_current_a * len(e.site_phases()) * volt
        out.append(e)
    reason = Reason("grid_limit", {"max_power_w": max_power_w, "until": until})
    return Budget(reason, tuple(members), max_power_w=max(max_power_w, floors)), out


def _floor_a(e: EvseLoad, floor_w: float, volt: float) -> float:
    """The box's floor in amperes on its grid: the floor's current rounded up, not below its
    min, not above its max or its demand (a car that takes less keeps what it takes)."""
    res = e.resolution_a
    cap = e.max_current_a if e.demand_a is None else min(e.max_current_a, e.demand_a)
    top = math.floor(cap / res + 1e-9)  # its cap, on its grid
    want = math.ceil(floor_w / (len(e.site_phases()) * volt) / res - 1e-9)
    return max(e.min_current_a, min(want, top) * res)


def _subtree(root: str | None, circuits: Sequence[Circuit]) -> set[str] | None:
    if root is None:
        return None
    found = {root}
    grew = True
    while grew:
        below = {c.id for c in circuits if c.parent in found}
        grew = not below <= found
        found |= below
    return found
