"""Constraint rows: every limit the allocator keeps is one linear inequality.

    sum over boxes of coefs[box] * current[box] <= capacity

A box's current is its setpoint in amperes; a coefficient says how much of the limit one ampere
of that box uses, through its phase rotation and car phases. Each kind of rule is one small
builder below that turns a piece of the input into rows; the allocator knows nothing else about
rules. To add a kind of rule, write a builder that returns rows with a label (the Reason a box
stopped by it shows) and call it in `build_rows`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from manager.model import PHASES, ZERO3, Budget, Circuit, Reason, phase_name

#: (box index, site phases it loads) of the boxes a rule applies to
Members = Sequence[tuple[int, tuple[int, ...]]]
#: ordered phase pairs (busy, quiet) of an unbalance limit
PAIRS = [(p, q) for p in range(PHASES) for q in range(PHASES) if p != q]
EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Constraint:
    """One limit: the boxes' weighted currents stay within `capacity` (amperes).

    `label` is what a box stopped by this row shows. Coefficients may be negative (current on
    the quiet phase of an unbalance limit makes room on the busy one)."""

    label: Reason
    capacity: float
    coefs: Mapping[int, float]


def circuit_reason(code: str, c: Circuit, **more: str) -> Reason:
    return Reason(code, {"circuit": c.id, "circuit_name": c.name or c.id, **more})


def current_rows(c: Circuit, below: Members) -> list[Constraint]:
    """The fuse of circuit c: per site phase, base load + reserve + boxes <= max_current_a."""
    free = c.max_current_a - c.reserve_a
    return [
        Constraint(
            circuit_reason("circuit_limit", c, phase=phase_name(p)),
            free - c.base_load_a[p],
            {i: 1.0 for i, ph in below if p in ph},
        )
        for p in range(PHASES)
    ]


def power_rows(c: Circuit, below: Members, volt: float) -> list[Constraint]:
    """The power limit of circuit c at the nominal voltage; the reserve counts on all phases."""
    if c.max_power_w is None or c.max_power_w == math.inf:
        return []
    room = c.max_power_w / volt - PHASES * c.reserve_a - sum(c.base_load_a)
    return [Constraint(circuit_reason("power_limit", c), room, {i: len(ph) for i, ph in below})]


def unbalance_base(c: Circuit) -> tuple[float, ...]:
    return tuple(c.base_load_a) if c.unbalance_counts_base else ZERO3


def unbalance_rows(c: Circuit, below: Members) -> list[Constraint]:
    """An unbalanced-load limit: per ordered phase pair (p, q), load_p - load_q <= limit.

    Boxes on p but not q count +1, boxes on q but not p count -1; 3-phase loads cancel."""
    u = c.max_unbalance_a
    if u is None or u == math.inf:
        return []
    base = unbalance_base(c)
    label = circuit_reason("unbalance_limit", c)
    rows = []
    for p, q in PAIRS:
        coefs = {i: w for i, ph in below if (w := (p in ph) - (q in ph))}
        rows.append(Constraint(label, u - (base[p] - base[q]), coefs))
    return rows


def budget_rows(b: Budget, members: Members, volt: float) -> list[Constraint]:
    """A budget over some boxes: per site phase in amperes, and/or in watts over all phases."""
    rows = []
    if b.max_current_a is not None and b.max_current_a < math.inf:
        for p in range(PHASES):
            coefs = {i: 1.0 for i, ph in members if p in ph}
            if coefs:
                rows.append(Constraint(b.reason, b.max_current_a, coefs))
    if b.max_power_w is not None and b.max_power_w < math.inf:
        coefs = {i: float(len(ph)) for i, ph in members}
        rows.append(Constraint(b.reason, b.max_power_w / volt, coefs))
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
    tree: Sequence[tuple[Circuit, Members]],
    budgets: Sequence[tuple[Budget, Members]],
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
    return [r for r in rows if r.coefs]
