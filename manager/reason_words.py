"""Interim: the allocator's reason codes in the English words the control loop still composes.

The allocator returns reasons as data (`manager.model.Reason`). Until the control loop and the
web edge carry those codes all the way to the page (issue: reasons as data), this turns them
into the exact sentences the control loop used before, so nothing a user sees changes. It only
renders; nothing parses these words.
"""

from __future__ import annotations

from manager.model import Reason


def _a(value: object) -> str:
    return f"{float(value):.2f}".rstrip("0").rstrip(".")  # type: ignore[arg-type]


def _limit(r: Reason) -> str:
    p = r.params
    if r.code == "circuit_limit":
        return f"circuit {p['circuit_name']} {p['phase']}"
    if r.code == "power_limit":
        return f"power limit of circuit {p['circuit_name']}"
    return f"unbalance limit of circuit {p['circuit_name']}"


def _full(r: Reason) -> str:
    return f"{_limit(r)} full" if r.code == "circuit_limit" else f"{_limit(r)} reached"


_BASE = {
    "base_power": "base load alone exceeds the power limit of circuit {circuit_name}",
    "base_unbalance": "base load alone exceeds the unbalance limit of circuit {circuit_name}",
    "base_overload": "base load alone overloads circuit {circuit_name} {phase}",
}


def english(r: Reason) -> str:
    """The sentence for an allocator reason."""
    p = r.params
    if r.code in ("circuit_limit", "power_limit", "unbalance_limit"):
        return f"limited by {_limit(r)}"
    if r.code in ("priority", "waiting_slot") and r.cause is not None:
        head = (
            "priority: higher-priority wallboxes first"
            if r.code == "priority"
            else ("waiting for a slot")
        )
        return f"{head} ({_full(r.cause)})"
    if r.code in _BASE:
        return "paused: " + _BASE[r.code].format(**p)
    simple = {
        "at_max": lambda: f"at its max {_a(p['amps'])} A",
        "demand_cap": lambda: f"capped by demand {_a(p['amps'])} A",
        "no_demand": lambda: "must not charge (demand 0)",
        "below_min": lambda: (
            f"paused: demand {_a(p['demand'])} A is below its min {_a(p['min'])} A"
        ),
        "min_above_max": lambda: (
            f"paused: its min {_a(p['min'])} A, rounded up to its {_a(p['step'])} A steps, "
            f"is above its max {_a(p['max'])} A"
        ),
    }
    return simple[r.code]() if r.code in simple else r.code
