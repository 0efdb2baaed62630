"""Why each wallbox got what it got: the last 24 h of setpoint, draw and reason, per box.

Kept by the history store (manager/history.py) and saved in its file. Two kinds of record:
- a point per minute and box: the average setpoint and the average draw (highest phase), so
  the chart shows what was offered against what the car took;
- bands: one per stretch of time with the same reason (e.g. 14:02-14:20 `circuit_limit`
  Garage board L1). A band keeps the code, the text parameters and the cause; numbers that
  move while the reason stays the same (a countdown, a ramp's amperes) keep their first value,
  so a countdown does not cut a band into seconds.

Bounds, per box: `POINTS` minute points (24 h) and at most `MAX_BANDS` bands, none older than
24 h; a box that has sent nothing for 24 h is forgotten. That is about 40 KB of points per box,
plus the bands: a few KB on a normal day, at most about 300 KB for a box whose reason flips
every minute all day. Reasons stay data (codes and parameters): the web edge words them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from manager.state import EvseState, ReasonState

WINDOW_S = 24 * 3600.0
POINTS = 24 * 60
#: bands kept per box: one change a minute on average for 24 h
MAX_BANDS = 1440
#: a band is closed when no snapshot came for this long (the manager was stopped); above
#: the longest control interval (60 s)
GAP_S = 150.0


class _Out(BaseModel):
    model_config = ConfigDict(extra="forbid", json_schema_serialization_defaults_required=True)


class DecisionPoint(_Out):
    ts: str = Field(description="start of the minute (ISO 8601, UTC)")
    setpoint_a: float | None = Field(None, description="average current offered (A)")
    draw_a: float | None = Field(None, description="average draw of the highest phase (A)")


class DecisionBand(_Out):
    since: str = Field(description="from (ISO 8601, UTC)")
    until: str = Field(description="to (ISO 8601, UTC); the last band runs until now")
    reason: ReasonState


class DecisionTimeline(_Out):
    """One wallbox's last 24 h: what it was offered, what it drew, and why."""

    evse: str
    name: str
    points: list[DecisionPoint] = Field(default_factory=list)
    bands: list[DecisionBand] = Field(default_factory=list)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


def _identity(reason: Mapping[str, Any] | None) -> tuple[Any, ...] | None:
    """What makes two reasons the same band: code, text parameters, and the cause's identity."""
    if not reason:
        return None
    params = reason.get("params") or {}
    words = tuple(sorted((k, v) for k, v in params.items() if isinstance(v, str)))
    return (reason.get("code"), words, _identity(reason.get("cause")))


@dataclass
class _Box:
    name: str
    points: deque[list[Any]] = field(default_factory=lambda: deque(maxlen=POINTS))
    bands: deque[dict[str, Any]] = field(default_factory=lambda: deque(maxlen=MAX_BANDS))
    seen: float = 0.0
    acc: list[float] = field(default_factory=lambda: [0.0, 0.0, 0.0])  # setpoint, draw, n

    def note(self, now: float, e: EvseState) -> None:
        reason = e.reason.model_dump(mode="json", exclude={"text"}) if e.reason else None
        last = self.bands[-1] if self.bands else None
        fresh = last is not None and now - float(last["until"]) <= GAP_S
        if fresh and last is not None and _identity(last["reason"]) == _identity(reason):
            last["until"] = now
        elif reason is not None:
            self.bands.append({"since": now, "until": now, "reason": reason})
        self.seen = now
        self.acc[0] += float(e.setpoint_a or 0.0)
        self.acc[1] += max((float(a or 0.0) for a in e.current_a), default=0.0)
        self.acc[2] += 1

    def flush(self, minute: float) -> None:
        setpoint, draw, n = self.acc
        if n:
            self.points.append([minute, round(setpoint / n, 1), round(draw / n, 1)])
        self.acc = [0.0, 0.0, 0.0]

    def prune(self, cutoff: float) -> None:
        while self.points and float(self.points[0][0]) < cutoff:
            self.points.popleft()
        while self.bands and float(self.bands[0]["until"]) < cutoff:
            self.bands.popleft()


class Timeline:
    """The decision timelines of all boxes, fed once per snapshot."""

    def __init__(self) -> None:
        self.boxes: dict[str, _Box] = {}

    def add(self, now: float, evses: Iterable[EvseState]) -> None:
        for e in evses:
            box = self.boxes.setdefault(e.id, _Box(e.name))
            box.name = e.name
            box.note(now, e)

    def flush(self, minute: float) -> None:
        """Close the minute that started at `minute` (epoch s) and drop what is older than 24 h."""
        cutoff = minute - WINDOW_S
        for key in [k for k, box in self.boxes.items() if box.seen < cutoff]:
            del self.boxes[key]
        for box in self.boxes.values():
            box.flush(minute)
            box.prune(cutoff)

    def view(self, now: float, evse: str | None = None) -> list[DecisionTimeline]:
        cutoff = now - WINDOW_S
        out = []
        for key, box in sorted(self.boxes.items(), key=lambda kv: kv[1].name.casefold()):
            if evse is not None and key != evse:
                continue
            rows = [p for p in box.points if p[0] >= cutoff]
            setpoint, draw, n = box.acc
            if n:  # the minute under way, so a fresh start shows at once
                rows.append([now - now % 60.0, round(setpoint / n, 1), round(draw / n, 1)])
            points = [DecisionPoint(ts=_iso(p[0]), setpoint_a=p[1], draw_a=p[2]) for p in rows]
            bands = [
                DecisionBand(
                    since=_iso(max(cutoff, b["since"])),
                    until=_iso(b["until"]),
                    reason=ReasonState.model_validate(b["reason"]),
                )
                for b in box.bands
                if b["until"] >= cutoff
            ]
            out.append(DecisionTimeline(evse=key, name=box.name, points=points, bands=bands))
        return out

    # -- the history file -------------------------------------------------------------------

    def dump(self) -> dict[str, Any]:
        return {
            key: {"name": box.name, "seen": box.seen, "points": list(box.points),
                  "bands": list(box.bands)}
            for key, box in self.boxes.items()
        }  # fmt: skip

    def load(self, data: object) -> None:
        """Take what `dump` wrote; raises ValueError on anything else."""
        if not isinstance(data, dict):
            raise ValueError("decisions are not an object")
        for key, raw in data.items():
            if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
                raise ValueError(f"decisions of {key!r} are malformed")
            box = _Box(raw["name"], seen=float(raw.get("seen") or 0.0))
            for p in raw.get("points") or []:
                if not (isinstance(p, list) and len(p) == 3):
                    raise ValueError(f"a point of {key!r} is malformed")
                box.points.append([float(p[0]), p[1], p[2]])
            for b in raw.get("bands") or []:
                if not (isinstance(b, dict) and isinstance(b.get("reason"), dict)):
                    raise ValueError(f"a band of {key!r} is malformed")
                ReasonState.model_validate(b["reason"])
                box.bands.append(
                    {"since": float(b["since"]), "until": float(b["until"]), "reason": b["reason"]}
                )
            self.boxes[key] = box
