"""Schedule window edges through APScheduler cron triggers (manager/schedule_edges.py): the
loop is woken at the edge itself, and at that moment the resolver already gives the new mode."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from manager.chargemode import ChargeMode
from manager.charging_limit import ChargingLimit
from manager.mode_rules import BoxRules, resolve
from manager.schedule_edges import ScheduleEdges, trigger, window_edges
from manager.schedules import ScheduleWindow
from manager.site_rules import SiteRules


def window(days, frm, to, mode="now") -> ScheduleWindow:
    return ScheduleWindow.model_validate({"days": days, "from": frm, "to": to, "mode": mode})


def local(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 12, 7 + day, hour, minute).astimezone()  # 7 Dec 2026: a Monday


def test_edges_of_a_window_across_midnight() -> None:
    w = window(["mon", "tue", "wed", "thu", "fri"], "22:00", "06:00")
    start, end = window_edges(w)
    assert start == ("mon,tue,wed,thu,fri", 22, 0)
    assert end == ("tue,wed,thu,fri,sat", 6, 0)
    # Friday evening: the next start is Monday 22:00, the next end Saturday 06:00
    after = local(4, 23)
    assert trigger(start).get_next_fire_time(None, after) == local(7, 22)
    assert trigger(end).get_next_fire_time(None, after) == local(5, 6)
    assert window_edges(window(["sun"], "20:00", "24:00")) == [("sun", 20, 0), ("mon", 0, 0)]


def test_at_each_edge_the_mode_in_force_changes() -> None:
    w = window(["mon", "tue", "wed", "thu", "fri"], "22:00", "06:00")
    rules = BoxRules(schedules=(w,))
    t = local(0, 12)
    for edge in window_edges(w) * 3:  # walk the next six edges
        fire = trigger(edge).get_next_fire_time(None, t)
        before = resolve(fire.timestamp() - 1, ChargeMode.PV, rules).mode
        at_edge = resolve(fire.timestamp(), ChargeMode.PV, rules).mode
        assert before != at_edge
        t = fire + timedelta(seconds=1)


async def test_scheduler_wakes_the_loop_at_an_edge() -> None:
    """A real AsyncIOScheduler: the edge jobs follow the windows, and a job due now runs the
    wake-up at once (the next edge is moved to now instead of waiting for 22:00)."""
    woke = asyncio.Event()

    async def wake() -> None:
        woke.set()

    scheduler = AsyncIOScheduler()
    scheduler.start()
    try:
        edges = ScheduleEdges(scheduler, wake=wake)
        edges.sync([[window(["mon"], "22:00", "06:00")]])
        ids = sorted(job.id for job in scheduler.get_jobs())
        assert ids == ["edge:mon:22:00", "edge:tue:06:00"]
        edges.sync([[window(["sat"], "10:00", "11:00")]])  # the windows changed
        assert sorted(job.id for job in scheduler.get_jobs()) == [
            "edge:sat:10:00",
            "edge:sat:11:00",
        ]
        job = scheduler.get_job("edge:sat:10:00")
        job.modify(next_run_time=datetime.now().astimezone())
        await asyncio.wait_for(woke.wait(), 5.0)
        edges.sync([])
        assert scheduler.get_jobs() == []
    finally:
        scheduler.shutdown(wait=False)


async def test_a_dated_edge_wakes_the_loop_then_and_is_gone() -> None:
    """A limit's end (or a plan's or a price slot's edge) a moment ahead: the loop wakes then,
    and the job is not kept after it ran."""
    woke: list[float] = []
    done = asyncio.Event()

    async def wake() -> None:
        woke.append(time.time())
        done.set()

    rules = SiteRules()
    edge = time.time() + 0.5
    rules.set_limit(ChargingLimit(4200.0, edge))
    assert rules.next_edges(time.time()) == {edge}
    scheduler = AsyncIOScheduler()
    scheduler.start()
    try:
        edges = ScheduleEdges(scheduler, wake=wake)
        edges.sync_dated(rules.next_edges(time.time()))
        await asyncio.wait_for(done.wait(), 5.0)
        assert woke[0] >= edge - 0.01
        assert scheduler.get_jobs() == []
        edges.sync_dated(set())  # the job that ran is not an error to remove
    finally:
        scheduler.shutdown(wait=False)
