"""The solar surplus as constraint rows for the allocator (docs/charging-modes.md).

Two `Budget` rows, shared by the allocator with priorities and max-min fairness like any other
limit: the `pv` and `minpv` boxes together get at most the surplus plus the `minpv` boxes'
minimum, the `pv` boxes alone at most the surplus (but at least the minimum of those running,
while their disable delay runs). So a `minpv` box always has room for its minimum, even against
a `pv` box of higher priority.
"""

from __future__ import annotations

from collections.abc import Sequence

from manager.model import Budget, Reason


def surplus_rows(
    surplus_w: float | None,
    pv_room_w: float,
    minpv_need_w: float,
    pv: Sequence[tuple[str, float]],
    minpv: Sequence[str],
) -> tuple[Budget, ...]:
    """The rows for the running `pv` boxes (id, the minimum it holds) and the charging `minpv`
    boxes; `pv_room_w` is the surplus left after the `minpv` minimums (`minpv_need_w`)."""
    pv_ids = tuple(box_id for box_id, _ in pv)
    if not pv_ids and not minpv:
        return ()
    label = Reason("pv_budget", {"surplus_w": round(surplus_w or 0.0)})
    pv_cap = max(pv_room_w, sum(held for _, held in pv), 0.0)
    rows = [Budget(label, pv_ids + tuple(minpv), max_power_w=pv_cap + minpv_need_w)]
    if pv_ids:
        rows.append(Budget(label, pv_ids, max_power_w=pv_cap))
    return tuple(rows)
