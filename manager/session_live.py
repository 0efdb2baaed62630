"""Running sessions as the dashboard sees them: the energy and duration so far.

A session's energy is stored when it stops (meter stop minus meter start). While it runs, the
box's live `session_wh` (what its tile shows) is the energy so far; joining the two here means
the session list, its totals and the CSV agree with the tiles instead of showing nothing.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from manager.sessions import parse_time
from manager.state import EvseState

#: a box in one of these states still has the car of its open session
_PLUGGED = ("connected", "charging", "paused")


def with_live(
    rows: Iterable[Mapping[str, Any]], evses: Iterable[EvseState], now: datetime | None = None
) -> list[dict[str, Any]]:
    """Each row with `running` and `duration_s`; a running one with the live energy so far."""
    now = now or datetime.now(UTC)
    rows = list(rows)
    live = {e.id: e for e in evses}
    # the box's live count belongs to its newest open session, not to one left open before it
    newest: dict[str, tuple[str, Any]] = {}
    for r in rows:
        if r.get("stopped_at") is None:
            key = (str(r.get("started_at")), r.get("id"))
            newest[str(r.get("evse"))] = max(newest.get(str(r.get("evse")), key), key)
    out: list[dict[str, Any]] = []
    for row in rows:
        r = dict(row)
        running = r.get("stopped_at") is None
        r["running"] = running
        r["duration_s"] = _duration(r.get("started_at"), r.get("stopped_at"), now)
        evse = str(r.get("evse"))
        mine = running and newest.get(evse) == (str(r.get("started_at")), r.get("id"))
        box = live.get(evse) if mine else None
        if box is not None and box.status in _PLUGGED and box.session_wh is not None:
            r["energy_wh"] = round(float(box.session_wh), 1)
        out.append(r)
    return out


def _duration(started: object, stopped: object, now: datetime) -> int | None:
    try:
        start = parse_time(str(started))
        end = parse_time(str(stopped)) if stopped else now
    except ValueError:
        return None
    return max(0, int((end - start).total_seconds()))
