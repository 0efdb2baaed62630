"""The phase-aware budget allocator: how many amperes each wallbox may draw right now.

`allocate(site, evses)` is pure and deterministic: no I/O, no clock, no hidden state, and the
result does not depend on the order of the inputs. docs/allocator.md explains the semantics
for operators and the design:

- rows.py: every limit as a constraint row (label, capacity, per-box coefficients), one small
  builder per kind of rule;
- problem.py: the boxes, their rows and the loads; validate.py: the input checks;
- slots.py: mins first, in slot order (rotation); waterfill.py: max-min fair filling;
  rounding.py: rounding to each grid and the top-up; unbalance.py: the gap rows;
- fill.py: the order of those steps; reasons.py: why each box got its setpoint.
"""

from __future__ import annotations

from collections.abc import Sequence

from manager.allocation.fill import run
from manager.allocation.problem import Problem
from manager.allocation.reasons import reasons
from manager.model import Allocation, EvseLoad, Site

__all__ = ["allocate"]


def allocate(site: Site, evses: Sequence[EvseLoad]) -> Allocation:
    """Setpoints (0 = paused) and the reason for each, for every wallbox in `evses`.

    Raises ValueError naming the circuit or wallbox when the input is inconsistent."""
    p = Problem(site, evses)
    run(p)
    setpoints = {
        b.id: round(b.n * b.res, 9) if b.granted and b.out is None else 0.0 for b in p.boxes
    }
    return Allocation(setpoints=setpoints, reasons=reasons(p))
