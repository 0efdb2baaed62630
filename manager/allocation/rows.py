"""Constraint rows: every limit the allocator keeps is one linear inequality.

    sum over member boxes of coef(box) * current(box) <= capacity

A box's current is its setpoint in amperes. Its coefficient in a row is the sum of the row's
`weights` over the site phases the box loads (through its phase rotation and its car's
phases): a fuse on L2 weighs (0, 1, 0), so a box counts once if it loads L2; a power limit
weighs (1, 1, 1), so a 3-phase box counts three times; the unbalance gap "L1 over L3" weighs
(1, 0, -1). Each kind of rule is one small builder below that turns a piece of the input into
rows with a label (the Reason a box stopped by the row shows); the allocator knows nothing
else about rules. To add one: write a builder and call it in `build_rows`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from manager.model import PHASES, ZERO3, Budget, Circuit, Reason, Triple, phase_name

#: ordered phase pairs (busy, quiet) of an unbalance limit
PAIRS = [(p, q) for p in range(PHASES) for q in range(PHASES) if p != q]
UNIT: list[Triple] = [(1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0)]
ALL: Triple = (1.0, 1.0, 1.0)
#: weights of the gap "p over q" of an unbalance limit
GAP: dict[tuple[int, int], Triple] = {
    (p, q): tuple(float((x == p) - (x == q)) for x in range(PHASES))  # type: ignore[misc]
    for p, q in PAIRS
}
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Constraint:
    """One limit: the member boxes' weighted currents stay within `capacity` (amperes).

    `members` are box indices (rows of one circuit share one list); `weights` per site phase
    give each member's coefficient, which may be negative (current on the quiet phase of an
    unbalance limit makes room on the busy one). `label` is what a box stopped by it shows."""

    label: Reason
    capacity: float
    members: Sequence[int]
    weights: Triple

    def coef(self, phases: tuple[int, ...]) -> float:
        """The coefficient of a box that loads these site phases."""
        return sum(self.weights[p] for p in phases)


def circuit_reason(code: str, c: Circuit, **more: str) -> Reason:
    return Reason(code, {"circuit": c.id, "circuit_name": c.name or c.id, **more})


def current_rows(c: Circuit, below: Sequence[int]) -> list[Constraint]:
    """The fuse of circuit c: per site phase, base load + reserve + boxes <= max_current_a."""
    free = c.max_current_a - c.reserve_a
    return [
        Constraint(
            circuit_reason("circuit_limit", c, phase=phase_name(p)),
            free - c.base_load_a[p],
            below,
            UNIT[p],
        )
        for p in range(PHASES)
    ]


def power_rows(c: Circuit, below: Sequence[int], volt: float) -> list[Constraint]:
    """The power limit of circuit c at the nominal voltage; the reserve counts on all phases."""
    if c.max_power_w is None or c.max_power_w == math.inf:
        return []
    room = c.max_power_w / volt - PHASES * c.reserve_a - sum(c.base_load_a)
    return [Constraint(circuit_reason("power_limit", c), room, below, ALL)]


def unbalance_base(c: Circuit) -> tuple[float, ...]:
    return tuple(c.base_load_a) if c.unbalance_counts_base else ZERO3


def unbalance_rows(c: Circuit, below: Sequence[int]) -> list[Constraint]:
    """An unbalanced-load limit: per ordered phase pair (p, q), load_p - load_q <= limit.

    Boxes on p but not q count +1, boxes on q but not p count -1; 3-phase loads cancel."""
    u = c.max_unbalance_a
    if u is None or u == math.inf:
        return []
    base = unbalance_base(c)
    label = circuit_reason("unbalance_limit", c)
    return [Constraint(label, u - (base[p] - base[q]), below, GAP[p, q]) for p, q in PAIRS]


def budget_rows(b: Budget, members: Sequence[int], volt: float) -> list[Constraint]:
    """A budget over some boxes: per site phase in amperes, and/or in watts over all phases."""
    rows = []
    if b.max_current_a is not None and b.max_current_a < math.inf:
        rows += [Constraint(b.reason, b.max_current_a, members, UNIT[p]) for p in range(PHASES)]
    if b.max_power_w is not None and b.max_power_w < math.inf:
        rows.append(Constraint(b.reason, b.max_power_w / volt, members, ALL))
    return rows


def base_breaks(c: Circuit, volt: float) -> Reason | None:
    """Why the load ampshare does not control already breaks a limit of c (None: it does not)."""
    base = c.base_load_a
    if c.max_current_a - c.reserve_a - max(base) < -EPS:
        worst = list(base).index(max(base))
        return circuit_reason("base_overload", c, phase=phase_name(worst))
    if c.max_power_w is not None and c.max_power_w < math.inf:
        if c.max_power_w / volt - PHASES * c.reserve_a - sum(base) < -EPS:
            return circuit_reason("base_power", c)
    u = c.max_unbalance_a
    if u is not None and c.unbalance_counts_base and max(base) - min(base) > u + EPS:
        return circuit_reason("base_unbalance", c)
    return None


def build_rows(
    tree: Sequence[tuple[Circuit, Sequence[int]]],
    budgets: Sequence[tuple[Budget, Sequence[int]]],
    volt: float,
) -> list[Constraint]:
    """All rows of a site, in the order that names a limit when several stop a box at once:
    fuses (phase by phase, the nearest circuit first), power, unbalance, budgets.
    `tree` lists the live circuits, deepest first, each with the boxes below it."""
    rows: list[Constraint] = []
    fuses = [current_rows(c, below) for c, below in tree]
    for p in range(PHASES):
        rows += [per_phase[p] for per_phase in fuses]
    for c, below in tree:
        rows += power_rows(c, below, volt)
    for c, below in tree:
        rows += unbalance_rows(c, below)
    for b, members in budgets:
        rows += budget_rows(b, members, volt)
    return [r for r in rows if r.members]
