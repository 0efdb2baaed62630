"""Input checks: bad input raises a ValueError that names the circuit or wallbox and the field.

Kept apart from the allocation so that the arithmetic can trust its input (finite numbers, a
tree with one root, known phases).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import pairwise

from manager.model import PHASES, ROTATIONS, Budget, Circuit, EvseLoad, Site


def _bad(x: object) -> bool:
    """True unless x is a number that is not NaN (inf passes; callers check the range)."""
    return not isinstance(x, int | float) or isinstance(x, bool) or x != x


def check_site(site: Site) -> dict[str, int | None]:
    """Validate the circuits; the parent index of each circuit id (None for the root)."""
    volt = site.nominal_voltage_v
    if _bad(volt) or not 0.0 < volt < math.inf:
        raise ValueError(f"site: nominal_voltage_v must be a positive number, got {volt!r}")
    circuits = sorted(site.circuits, key=lambda c: c.id)
    seen: set[str] = set()
    for c in circuits:
        if c.id in seen:
            raise ValueError(f"duplicate circuit id {c.id!r}")
        seen.add(c.id)
        check_circuit(c)
    return _check_tree(circuits)


def _check_tree(circuits: list[Circuit]) -> dict[str, int | None]:
    """One root, known parents, no cycle."""
    roots = [c.id for c in circuits if c.parent is None]
    if circuits and not roots:
        raise ValueError("circuits: no root (one circuit must have no parent: the grid)")
    if len(roots) > 1:
        raise ValueError(f"circuits: more than one root (no parent): {', '.join(roots)}")
    parent = {c.id: c.parent for c in circuits}
    for c in circuits:
        if c.parent is not None and c.parent not in parent:
            raise ValueError(f"circuit {c.id!r}: unknown parent {c.parent!r}")
    cycle = find_cycle(parent)
    if cycle:
        raise ValueError(f"circuits: cycle {cycle}")
    return {cid: i for i, cid in enumerate(parent)}  # type: ignore[misc]


def check_circuit(c: Circuit) -> None:
    who = f"circuit {c.id!r}"
    if _bad(c.max_current_a) or c.max_current_a < 0:
        raise ValueError(f"{who}: max_current_a must be a number >= 0, got {c.max_current_a!r}")
    if c.max_power_w is not None and (_bad(c.max_power_w) or c.max_power_w < 0):
        raise ValueError(f"{who}: max_power_w must be a number >= 0, got {c.max_power_w!r}")
    if _bad(c.reserve_a) or not 0 <= c.reserve_a < math.inf:
        raise ValueError(f"{who}: reserve_a must be a number >= 0, got {c.reserve_a!r}")
    base = c.base_load_a
    if not _three_finite(base):
        raise ValueError(f"{who}: base_load_a must be three finite numbers, got {base!r}")
    u = c.max_unbalance_a
    if u is not None and (_bad(u) or u < 0):
        raise ValueError(f"{who}: max_unbalance_a must be a number >= 0, got {u!r}")


def _three_finite(base: object) -> bool:
    return (
        isinstance(base, tuple | list)
        and len(base) == PHASES
        and not any(_bad(b) or not -math.inf < b < math.inf for b in base)
    )


def find_cycle(parent: dict[str, str | None]) -> str:
    """The first cycle met walking up from each circuit in id order, as ids ("" if none)."""
    done: set[str] = set()  # reaches the root
    for start in parent:
        chain: list[str] = []
        c: str | None = start
        while c is not None and c not in done:
            if c in chain:
                return " -> ".join(repr(x) for x in [*chain[chain.index(c) :], c])
            chain.append(c)
            c = parent[c]
        done.update(chain)
    return ""


def check_evses(evses: Sequence[EvseLoad], circuits: dict[str, object]) -> list[EvseLoad]:
    """Validate the wallboxes; them sorted by id. Each wiring and each set of currents is
    checked once (boxes share few), in id order, so the first bad box is the one named."""
    boxes = sorted(evses, key=lambda e: e.id)
    for a, b in pairwise(boxes):
        if a.id == b.id:
            raise ValueError(f"duplicate wallbox id {a.id!r}")
    good: set[tuple] = set()
    for e in boxes:
        if e.circuit not in circuits:
            raise ValueError(f"wallbox {e.id!r}: unknown circuit {e.circuit!r}")
        key = (e.phases, e.rotation, e.car_phases, e.min_current_a, e.max_current_a)
        key += (e.demand_a, e.resolution_a, type(e.priority), type(e.wait_rank))
        try:
            if key in good:
                continue
        except TypeError:  # car phases as a set or list: checked, not cached
            check_evse(e, circuits)
            continue
        check_evse(e, circuits)
        good.add(key)
    return boxes


def check_evse(e: EvseLoad, circuits: dict[str, object]) -> None:
    who = f"wallbox {e.id!r}"
    if e.circuit not in circuits:
        raise ValueError(f"{who}: unknown circuit {e.circuit!r}")
    if e.phases not in (1, 3) or isinstance(e.phases, bool):
        raise ValueError(f"{who}: phases must be 1 or 3, got {e.phases!r}")
    if e.rotation not in ROTATIONS:
        raise ValueError(
            f"{who}: unknown phase rotation {e.rotation!r} (one of {', '.join(ROTATIONS)})"
        )
    cp = e.car_phases
    if cp is not None and (
        not isinstance(cp, frozenset | set | tuple | list)
        or any(not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < PHASES for p in cp)
    ):
        raise ValueError(f"{who}: car_phases must be box phases 0, 1, 2 or None, got {cp!r}")
    _check_currents(e, who)


def _check_currents(e: EvseLoad, who: str) -> None:
    for field in ("min_current_a", "max_current_a"):
        v = getattr(e, field)
        if _bad(v) or not 0 <= v < math.inf:
            raise ValueError(f"{who}: {field} must be a finite number >= 0, got {v!r}")
    if e.min_current_a > e.max_current_a:
        raise ValueError(
            f"{who}: min_current_a {e.min_current_a:g} A is above max_current_a "
            f"{e.max_current_a:g} A"
        )
    if e.demand_a is not None and (_bad(e.demand_a) or e.demand_a < 0):
        raise ValueError(f"{who}: demand_a must be None or a number >= 0, got {e.demand_a!r}")
    r = e.resolution_a
    if _bad(r) or not 0 < r < math.inf:
        raise ValueError(f"{who}: resolution_a must be a finite number > 0, got {r!r}")
    for field in ("priority", "wait_rank"):
        v = getattr(e, field)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{who}: {field} must be an integer, got {v!r}")


def check_budget(b: Budget, known: set[str]) -> None:
    who = f"budget {b.reason.code!r}"
    if b.max_current_a is None and b.max_power_w is None:
        raise ValueError(f"{who}: needs max_current_a or max_power_w")
    for field in ("max_current_a", "max_power_w"):
        v = getattr(b, field)
        if v is not None and (_bad(v) or v < 0):
            raise ValueError(f"{who}: {field} must be a number >= 0, got {v!r}")
    for box in b.boxes:
        if box not in known:
            raise ValueError(f"{who}: unknown wallbox {box!r}")
