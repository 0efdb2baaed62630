"""Schedules of a wallbox: weekly time windows, each with the charging mode it sets.

A window starts on each of its days at `from` and ends at `to` (the next day when `to` is not
after `from`; "24:00" is midnight at the end of the day). Windows are read top down; outside
every window the box's own mode applies. The control loop also wakes at every window edge
(APScheduler cron triggers, manager/schedule_edges.py), so a change happens at the edge.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from manager.chargemode import ChargeMode

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
Day = Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]
WEEK_S = 7 * 86400
_HHMM = r"^([01]\d|2[0-3]):[0-5]\d$"
_HHMM_24 = r"^(([01]\d|2[0-3]):[0-5]\d|24:00)$"


class ScheduleWindow(BaseModel):
    """One window: on these days, from .. to, this mode."""

    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )

    days: list[Day] = Field(min_length=1, description="Days the window starts on")
    from_: str = Field(alias="from", pattern=_HHMM, description="Start, local time HH:MM")
    to: str = Field(pattern=_HHMM_24, description="End, local time HH:MM (next day if earlier)")
    mode: ChargeMode = Field(description="Charging mode inside the window")

    def span_s(self) -> tuple[int, int]:
        """Seconds from midnight of the start day to the start, and the window's length."""
        start = _seconds(self.from_)
        end = _seconds(self.to)
        length = (end - start) % 86400 if self.to != "24:00" else 86400 - start
        return start, length

    def starts_s(self) -> list[int]:
        """Second of the week (Monday 00:00 = 0) of each start."""
        start, _ = self.span_s()
        return sorted(DAYS.index(d) * 86400 + start for d in set(self.days))


def _seconds(hhmm: str) -> int:
    hours, minutes = hhmm.split(":")
    return int(hours) * 3600 + int(minutes) * 60


def window_errors(windows: Sequence[ScheduleWindow]) -> list[str]:
    """Empty windows (from == to) and windows that overlap another, in words."""
    errors = []
    spans: list[tuple[int, int, int]] = []  # (start, end, window index) on the week's seconds
    for i, w in enumerate(windows):
        _, length = w.span_s()
        if length == 0:
            errors.append(f"window {i + 1} is empty (from equals to)")
            continue
        spans += [(s, s + length, i) for s in w.starts_s()]
    for a, (s1, e1, i) in enumerate(spans):
        for s2, e2, j in spans[a + 1 :]:
            if i != j and _overlap(s1, e1, s2, e2):  # a window is at most a day long
                errors.append(f"window {i + 1} overlaps window {j + 1}")
    return list(dict.fromkeys(errors))


def _overlap(s1: int, e1: int, s2: int, e2: int) -> bool:
    """Two spans on a circular week (ends may pass the week's end)."""
    return any(s1 < e2 + k and s2 + k < e1 for k in (-WEEK_S, 0, WEEK_S))


def week_second(at: float) -> int:
    """The second of the week (Monday 00:00 local time = 0) of epoch time `at`."""
    local = datetime.fromtimestamp(at).astimezone()
    return local.weekday() * 86400 + local.hour * 3600 + local.minute * 60 + local.second


def active_window(
    windows: Sequence[ScheduleWindow], at: float
) -> tuple[ScheduleWindow, float] | None:
    """The first window (top down) that holds at `at`, and when it ends (epoch s)."""
    if not windows:
        return None
    now = week_second(at)
    for w in windows:
        _, length = w.span_s()
        for start in w.starts_s():
            into = (now - start) % WEEK_S
            if into < length:
                return w, float(int(at) - into + length)
    return None
