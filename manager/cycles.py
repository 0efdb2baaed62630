"""The control loop's clock: one cycle every `control_interval_s`, following a changed interval,
and one more at every edge of a schedule window or other rule (manager/schedule_edges.py).

A cycle that outlasts its interval is not run twice at once, and missed ticks are not made up
(apscheduler: one instance, coalesced).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from manager.control import ControlLoop
from manager.schedule_edges import ScheduleEdges
from manager.state import State

log = logging.getLogger("ampshare")


def cycle_every_interval(control: ControlLoop) -> Callable[[], None]:
    """Starts the cycles (on the running event loop); returns what stops them."""
    scheduler = AsyncIOScheduler()
    interval = control.settings.site.control_interval_s

    def follow_interval(_: State) -> None:
        nonlocal interval
        wanted = control.settings.site.control_interval_s
        if wanted != interval:
            interval = wanted
            scheduler.reschedule_job("control", trigger="interval", seconds=wanted)
            log.info("control interval now %.1f s", wanted)

    control.on_cycle.append(follow_interval)
    scheduler.add_job(
        control.cycle,
        "interval",
        seconds=interval,
        id="control",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=None,
    )
    control.on_cycle.append(ScheduleEdges(scheduler, control).follow)  # rules' edges
    scheduler.start()
    return lambda: scheduler.shutdown(wait=False)
