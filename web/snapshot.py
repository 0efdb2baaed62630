"""The live state as the dashboard templates need it: every key present, unknowns as None.

The control loop may omit keys (before its first cycle, or for a device that never answered);
filling them here keeps the templates simple and identical to the blank tiles the browser
script clones for devices that appear later.
"""

from __future__ import annotations

from typing import Any

BLANK_SITE: dict[str, Any] = {
    "limit_a": [None, None, None],
    "grid_a": [None, None, None],
    "grid_w": None,
    "pv_w": None,
    "charge_w": None,
    "reserve_a": None,
    "safe_mode": False,
    "safe_reason": None,
}

BLANK_EVSE: dict[str, Any] = {
    "id": "",
    "name": "",
    "driver": "",
    "enabled": True,
    "online": False,
    "status": "offline",
    "current_a": [0.0, 0.0, 0.0],
    "setpoint_a": None,
    "reason": None,
    "power_w": None,
    "session_wh": None,
    "user": None,
    "detail": None,
    "circuit": None,
    "phases": 3,
    "priority": 1,
    "max_current_a": None,
    "deactivation": None,
}

BLANK_METER: dict[str, Any] = {
    "id": "",
    "name": "",
    "role": "grid",
    "online": False,
    "current_a": [None, None, None],
    "power_w": None,
    "energy_wh": None,
    "error": None,
}

BLANK_CP: dict[str, Any] = {
    "id": "",
    "vendor": "",
    "model": "",
    "connected": False,
    "configured": False,
}


def _fill(blank: dict[str, Any], item: Any) -> dict[str, Any]:
    out = dict(blank)
    if isinstance(item, dict):
        out.update({k: v for k, v in item.items() if v is not None or k not in blank})
        for key in ("current_a", "grid_a", "limit_a"):
            if key in blank and not (isinstance(out.get(key), list) and len(out[key]) == 3):
                out[key] = list(blank[key])
    return out


def normalize(state: dict[str, Any] | None) -> dict[str, Any]:
    state = state or {}
    return {
        "ts": state.get("ts"),
        "site": _fill(BLANK_SITE, state.get("site")),
        "evses": [_fill(BLANK_EVSE, e) for e in state.get("evses") or []],
        "meters": [_fill(BLANK_METER, m) for m in state.get("meters") or []],
        "charge_points": [_fill(BLANK_CP, c) for c in state.get("charge_points") or []],
        "circuits": list(state.get("circuits") or []),
    }


def evse_scale(evse: dict[str, Any]) -> float:
    """Full scale of a wallbox's phase bars: its max current, else 16 A."""
    try:
        return float(evse.get("max_current_a") or 16.0)
    except (TypeError, ValueError):
        return 16.0


def site_scale(site: dict[str, Any]) -> float:
    limits = [x for x in site.get("limit_a") or [] if isinstance(x, int | float)]
    return float(max(limits)) if limits else 32.0
