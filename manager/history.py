"""The last 24 h of grid, PV and charging power, one point a minute, in memory and on disk,
and each wallbox's decision timeline (manager/timeline.py) in the same file."""

from __future__ import annotations

import logging
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from manager.state import State
from manager.store import AtomicJSONStorage, CorruptDataError
from manager.timeline import DecisionTimeline, Timeline

log = logging.getLogger("ampshare.history")

POINTS = 24 * 60


class History:
    """Averages every snapshot into one-minute points; the file never holds more than 24 h."""

    def __init__(
        self,
        path: Path | None,
        *,
        bucket_s: float = 60.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.storage = AtomicJSONStorage(path) if path else None
        self.bucket_s = bucket_s
        self.clock = clock
        self.points: deque[dict[str, Any]] = deque(maxlen=POINTS)
        self._acc: dict[str, float] = {}
        self._n = 0
        self._bucket: int | None = None
        self.timeline = Timeline()
        if self.storage is not None:  # a damaged file stops start-up, like every data file
            data = self.storage.read() or {}
            points = data.get("points", [])
            if not isinstance(points, list) or not all(
                isinstance(p, dict) and isinstance(p.get("ts"), str) for p in points
            ):
                raise CorruptDataError(f"data file {self.storage.path} holds no list of points")
            self.points.extend(points[-POINTS:])
            try:
                self.timeline.load(data.get("decisions", {}))
            except (ValueError, TypeError, KeyError) as exc:
                raise CorruptDataError(f"data file {self.storage.path}: {exc}") from None

    def add(self, snapshot: State) -> None:
        site = snapshot.site
        now = self.clock()
        bucket = int(now // self.bucket_s)
        if self._bucket is not None and bucket != self._bucket and self._n:
            self._flush()
        self._bucket = bucket
        for key in ("grid_w", "pv_w", "charge_w"):
            value = getattr(site, key)
            self._acc[key] = self._acc.get(key, 0.0) + float(value or 0.0)
        self._n += 1
        self.timeline.add(now, snapshot.evses)

    def _flush(self) -> None:
        assert self._bucket is not None
        ts = datetime.fromtimestamp(self._bucket * self.bucket_s, UTC)
        point: dict[str, Any] = {"ts": ts.isoformat(timespec="seconds")}
        for key, total in self._acc.items():
            point[key] = round(total / self._n, 1)
        self.points.append(point)
        self._acc, self._n = {}, 0
        self.timeline.flush(self._bucket * self.bucket_s)
        if self.storage is not None:
            try:
                self.storage.write({"points": list(self.points), "decisions": self.timeline.dump()})
            except OSError as exc:
                log.warning("history not saved: %s", exc)

    def recent(self, hours: float = 24.0) -> list[dict[str, Any]]:
        cutoff = datetime.fromtimestamp(self.clock() - hours * 3600, UTC).isoformat()
        return [p for p in self.points if p["ts"] >= cutoff]

    def decisions(self, evse: str | None = None) -> list[DecisionTimeline]:
        """Per wallbox, the last 24 h of setpoint, draw and reason bands."""
        return self.timeline.view(self.clock(), evse)
