"""Wakes the control loop at the edges of the wallboxes' schedule windows, and at the other
moments a rule changes its mind (a limit's end, a plan's slots, a price slot's start).

The loop runs once per interval anyway; a cron job (APScheduler) per window edge, and a date
job per dated edge in the next hour, runs one more cycle right then, so a window's mode starts
and ends on the minute rather than up to one interval later. The jobs follow the
configuration: each cycle compares the edges wanted with those scheduled and replaces them
when they differ.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.base import BaseScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

from manager.schedules import DAYS, ScheduleWindow

log = logging.getLogger("ampshare.rules")

#: (days of the week as cron names, hour, minute)
Edge = tuple[str, int, int]


def window_edges(window: ScheduleWindow) -> list[Edge]:
    """The start and the end of a window as cron edges (the end on the next day when the
    window passes midnight)."""
    start, length = window.span_s()
    days = sorted({DAYS.index(d) for d in window.days})
    end = start + length
    end_days = sorted({(d + end // 86400) % 7 for d in days})
    return [
        (",".join(DAYS[d] for d in days), start // 3600, start % 3600 // 60),
        (",".join(DAYS[d] for d in end_days), end % 86400 // 3600, end % 3600 // 60),
    ]


def edges_of(schedules: Iterable[Sequence[ScheduleWindow]]) -> set[Edge]:
    return {e for windows in schedules for w in windows for e in window_edges(w)}


def trigger(edge: Edge) -> CronTrigger:
    days, hour, minute = edge
    return CronTrigger(day_of_week=days, hour=hour, minute=minute, second=0)


class Loop(Protocol):
    """The control loop as far as the edges need it: its boxes, its rules, a cycle to run."""

    evses: Any  # id -> runtime with `.spec.schedules`
    rules: Any  # manager.site_rules.SiteRules (`next_edges`)
    wall: Callable[[], float]

    def cycle(self) -> Awaitable[object]: ...


class ScheduleEdges:
    """The cron jobs of the edges; `sync` with the schedules the boxes have now."""

    def __init__(
        self,
        scheduler: BaseScheduler,
        loop: Loop | None = None,
        wake: Callable[[], Awaitable[object]] | None = None,
    ) -> None:
        self.scheduler = scheduler
        self.loop = loop
        self.wake = wake or (loop.cycle if loop is not None else None)
        self.edges: set[Edge] = set()
        self.dated: set[float] = set()

    def follow(self, _: object = None) -> None:
        """After each cycle (an `on_cycle` hook): the jobs follow the boxes' schedules and the
        rules' coming edges."""
        if self.loop is not None:
            self.sync(st.spec.schedules for st in self.loop.evses.values())
            self.sync_dated(self.loop.rules.next_edges(self.loop.wall()))

    def sync_dated(self, times: Iterable[float]) -> None:
        """One date job per coming edge (epoch s); a job that ran is gone by itself."""
        wanted = set(times)
        if wanted == self.dated:
            return
        for t in self.dated - wanted:
            try:
                self.scheduler.remove_job(_date_id(t))
            except JobLookupError:
                pass  # it has run
        assert self.wake is not None, "nothing to wake"
        for t in wanted - self.dated:
            self.scheduler.add_job(
                self.wake,
                DateTrigger(datetime.fromtimestamp(t, UTC)),
                id=_date_id(t),
                replace_existing=True,
                misfire_grace_time=60,
            )
        self.dated = wanted

    def sync(self, schedules: Iterable[Sequence[ScheduleWindow]]) -> None:
        wanted = edges_of(schedules)
        if wanted == self.edges:
            return
        for edge in self.edges - wanted:
            self.scheduler.remove_job(_job_id(edge))
        assert self.wake is not None, "nothing to wake"
        for edge in wanted - self.edges:
            self.scheduler.add_job(
                self.wake,
                trigger(edge),
                id=_job_id(edge),
                coalesce=True,
                max_instances=1,
                misfire_grace_time=60,
            )
        self.edges = wanted
        log.info("schedule edges: %d", len(wanted))


def _job_id(edge: Edge) -> str:
    days, hour, minute = edge
    return f"edge:{days}:{hour:02d}:{minute:02d}"


def _date_id(t: float) -> str:
    return f"at:{t:.3f}"
