"""Switching a wallbox between 1 and 3 phases without ever switching under load.

A switch goes: pause (the box is held at 0 A), wait until the car has stopped drawing, wait
SETTLE_S more, then change the phase count the loop passes to `apply` and resume. The driver
switches its relay on the first offer with the new count (devices/modbus/wallbox.py keeps the
box paused a while longer itself); the resume delay after a pause does not apply to it. A car
that draws nothing on 1 phase after a switch is remembered: that box stays on 3 phases from
then on. When to switch is decided in manager/solar.py; this module only carries a switch out
safely.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from manager.model import ChargeStatus, EventSink, Reason
from manager.runtime import EvseRuntime

#: the car counts as stopped below this current on every phase (A)
STOPPED_A = 1.0
#: after the car stopped, wait this long before the new phase count is used (s)
SETTLE_S = 5.0
#: a car offered its min on 1 phase that draws nothing this long refuses 1 phase (s)
REFUSE_AFTER_S = 60.0


@runtime_checkable
class PhaseSwitcher(Protocol):
    """A wallbox that can switch between 1 and 3 phases (a relay behind Modbus, the simulator).

    `switching` says whether the owner enabled it in the driver's options; `active_phases` is
    what the box is switched to (None while unknown)."""

    switching: bool
    active_phases: int | None


def can_switch(st: EvseRuntime) -> bool:
    return st.spec.phases == 3 and isinstance(st.device, PhaseSwitcher) and st.device.switching


@dataclass
class PhaseState:
    """One box's phase count and a switch in progress."""

    active: int = 3
    want: int | None = None
    stopped_at: float | None = None
    last_switch: float = -math.inf
    on_1p_since: float | None = None
    refuses_1p: bool = False
    switches: int = 0

    def may_switch(self, now: float, min_interval_s: float) -> bool:
        return self.want is None and now - self.last_switch >= min_interval_s

    def wait_s(self, now: float, min_interval_s: float) -> float:
        """Seconds until the next switch is allowed."""
        return max(0.0, min_interval_s - (now - self.last_switch))

    def request(self, phases: int) -> None:
        if phases != self.active and self.want is None:
            self.want = phases
            self.stopped_at = None

    def step(self, now: float, st: EvseRuntime, events: EventSink) -> Reason | None:
        """Advance a switch; the reason the box is held at 0 A while it goes on."""
        if self.want is None:
            self._check_refusal(now, st, events)
            return None
        if self.stopped_at is None:
            if max(st.last_measured) < STOPPED_A and st.commanded_a == 0:
                self.stopped_at = now
            return Reason("phase_switching", {"phases": self.want})
        if now - self.stopped_at < SETTLE_S:
            return Reason("phase_switching", {"phases": self.want})
        self._switched(now, st, events)
        return None

    def _switched(self, now: float, st: EvseRuntime, events: EventSink) -> None:
        assert self.want is not None
        events(
            "phase_switch",
            f"{st.name} switched to {self.want} phase(s) while paused",
            device=st.id,
        )
        self.active, self.want, self.stopped_at = self.want, None, None
        self.last_switch = now
        self.switches += 1
        self.on_1p_since = now if self.active == 1 else None
        st.car_phases = None  # learned again on the new phases
        # the pause was the switch's own: no resume delay on top (switches are rate-limited,
        # so this is no on/off flapping)
        st.paused_at = None

    def _check_refusal(self, now: float, st: EvseRuntime, events: EventSink) -> None:
        """A car offered current on 1 phase that does not draw refuses 1 phase."""
        if self.active != 1 or self.on_1p_since is None or st.reading is None:
            return
        if max(st.last_measured) >= STOPPED_A:
            self.on_1p_since = None  # it charges on 1 phase
            return
        offered = st.commanded_a >= st.spec.min_current_a
        waiting = st.reading.status is ChargeStatus.CONNECTED
        if not (offered and waiting):
            self.on_1p_since = now  # the clock runs only while it is offered current
            return
        if now - self.on_1p_since >= REFUSE_AFTER_S:
            self.refuses_1p = True
            self.on_1p_since = None
            events(
                "phase_refused",
                f"the car at {st.name} does not charge on 1 phase; it stays on 3 phases",
                device=st.id,
            )
            self.want, self.stopped_at = 3, None  # at once: the car charges not at all
