"""The constraint row of an external limit (grid operator, EMS): one `Budget` in watts over
the wallboxes it covers (all, or those in one circuit and below), with the reason
`grid_limit` [max_power_w, until] for a box it stops.

The §14a option keeps at least `floor_w` per box that may charge (4 200 W under §14a EnWG, at
most what the box can draw): the row's capacity is never below the sum of those floors. Boxes
of one priority share the row max-min fairly, so each of them then gets its floor or more;
a higher priority is served first, as everywhere in the allocator.
"""

from __future__ import annotations

from collections.abc import Sequence

from manager.model import Budget, Circuit, EvseLoad, Reason


def external_budget(
    max_power_w: float,
    until: float,
    circuit: str | None,
    circuits: Sequence[Circuit],
    loads: Sequence[EvseLoad],
    volt: float,
    floor_w: float = 0.0,
) -> Budget:
    """The limit as a budget; `circuit` None covers every wallbox."""
    inside = _subtree(circuit, circuits)
    members = [e for e in loads if inside is None or e.circuit in inside]
    floor = sum(
        min(floor_w, e.max_current_a * len(e.site_phases()) * volt)
        for e in members
        if e.demand_a != 0
    )
    reason = Reason("grid_limit", {"max_power_w": max_power_w, "until": until})
    return Budget(reason, tuple(e.id for e in members), max_power_w=max(max_power_w, floor))


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
