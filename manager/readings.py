"""Reading every device once per cycle, telling online from offline, and the grid meter's health.

A read that takes longer than the cycle's budget is not cancelled (on a shared RS485 bus that
would lose its place in the queue): it goes on, the loop works with the last reading, and takes
the answer in a later cycle. A device is offline on an error, or when it has not answered for
STALE_CYCLES cycles (at least STALE_MIN_S).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Sequence
from typing import Any

from manager.model import DeviceError, EventSink, MeterRole, Reason
from manager.runtime import DeviceRuntime, EvseRuntime, MeterRuntime, phase_currents

#: a device that does not answer in time, as the tiles word it
NO_ANSWER = Reason("box_no_answer")

#: a device that has not answered for this many cycles (and at least STALE_MIN_S) is offline
STALE_CYCLES = 3
STALE_MIN_S = 3.0

Runtime = MeterRuntime | EvseRuntime


class Reader:
    """Starts the reads, waits one budget for them, and records what came back."""

    def __init__(self, events: EventSink) -> None:
        self.events = events

    async def read_all(
        self, states: Sequence[Runtime], now: float, budget_s: float, interval_s: float
    ) -> None:
        live = [st for st in states if st.device is not None]
        for st in live:
            if st.pending is None:
                assert st.device is not None
                st.pending = asyncio.create_task(st.device.read())
                if st.asked_since is None:
                    st.asked_since = now
        tasks = {st.pending for st in live if st.pending is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=budget_s)
        stale_s = max(STALE_MIN_S, STALE_CYCLES * interval_s)
        for st in live:
            self._take(st, now, stale_s)

    def _take(self, st: Runtime, now: float, stale_s: float) -> None:
        task = st.pending
        if task is None:
            return
        if not task.done():
            since = st.answered_at if st.answered_at is not None else st.asked_since
            if since is not None and now - since > stale_s:
                self.failed(st, f"no answer for {now - since:.0f} s", NO_ANSWER)
            return
        st.pending = None
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            st.asked_since = None
            reason = exc.reason if isinstance(exc, DeviceError) else None
            self.failed(st, str(exc) or type(exc).__name__, reason)
        else:
            self.answered(st, now, task.result())

    def failed(self, st: DeviceRuntime, error: str, reason: Reason | None = None) -> None:
        st.error_reason = reason
        if st.online or st.error != error:
            self.events(
                "offline",
                f"{st.name}: {error}",
                device=st.id,
                params={"name": st.name, "error": error},
            )
        st.online, st.error = False, error

    def answered(self, st: Runtime, now: float, reading: Any) -> None:
        if not st.online and st.error is not None:
            self.events(
                "online", f"{st.name} answers again", device=st.id, params={"name": st.name}
            )
        st.online, st.error, st.error_reason = True, None, None
        st.answered_at, st.asked_since = now, None
        st.reading = reading
        if isinstance(st, MeterRuntime) and phase_currents(reading) is not None:
            st.last_ok = now


def grid_meter(meters: Iterable[MeterRuntime]) -> MeterRuntime | None:
    """The enabled grid meter (the first by id if there are several)."""
    grids = [m for m in meters if m.spec.role is MeterRole.GRID and m.spec.enabled]
    return min(grids, key=lambda m: m.id) if grids else None


def safe_mode_reason(grid: MeterRuntime | None, now: float, timeout_s: float) -> Reason | None:
    """Why the site must fall back to the safe current, or None while the grid meter answers."""
    if grid is None:
        return None
    if grid.last_ok is None:
        return Reason("meter_no_reading", {"meter": grid.spec.name})
    if now - grid.last_ok > timeout_s:
        return Reason(
            "meter_silent", {"meter": grid.spec.name, "seconds": round(now - grid.last_ok)}
        )
    return None
