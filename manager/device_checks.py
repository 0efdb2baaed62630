"""Rules across a wallbox's fields, judged on the values as given, so that they are reported
together with every other mistake of the same form."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from manager.invalid import problem


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


def current_errors(data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The minimum current above the maximum, judged on the values as given."""
    lo = _number(data.get("min_current_a", 6.0))
    hi = _number(data.get("max_current_a", 16.0))
    if lo is None or hi is None or lo <= hi:
        return []
    msg = f"minimum current must not be above maximum ({hi:g} A)"
    return [problem("min_current_a", "min_above_max_current", msg, max=hi)]
