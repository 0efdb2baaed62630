"""The charging modes in the control loop: which boxes charge from the surplus, and on how
many phases (docs/charging-modes.md).

Each cycle `Solar.plan` turns the modes into the allocator's input and nothing else:
- a box that must not charge now (`off`, waiting for surplus, starting in n s, switching
  phases) gets demand 0 and a reason;
- the surplus becomes two `Budget` rows that the allocator shares with priorities and max-min
  fairness like any other limit: the boxes in `pv` and `minpv` together get at most the
  surplus plus the `minpv` boxes' minimum, the `pv` boxes alone at most the surplus. So a
  `minpv` box always has room for its minimum, and the surplus is never handed out here.
Start and stop follow the enable and disable delays; a box that is running keeps at least its
minimum until the disable delay has passed. The surplus they compare is a short rolling average
(manager/surplus.py); overloads are the fuses' rows and are not delayed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import cast

from manager.chargemode import ChargeMode
from manager.config import SiteSettings
from manager.model import Budget, ChargeStatus, EventSink, Reason
from manager.phaseswitch import PhaseState, PhaseSwitcher, can_switch
from manager.runtime import FOLLOW_S, EvseRuntime, MeterRuntime
from manager.surplus import SurplusMeter, battery_share, total_power
from manager.surplusrows import surplus_rows

SOLAR = (ChargeMode.PV, ChargeMode.MINPV, ChargeMode.PLAN)
#: going back to 3 phases needs the 3-phase minimum plus this share of it (hysteresis)
PHASE_UP_MARGIN = 0.2
PLUGGED = (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)
#: the slow average of the surplus (s): a running box is kept at its min through a cloud
#: while this average still covers it, and phases switch only when it agrees
SLOW_AVERAGE_S = 900.0


def configured_mode(st: EvseRuntime) -> ChargeMode:
    """The box's own mode, when no rule (schedule, price, plan, user) decided one."""
    return ChargeMode(st.spec.charge_mode)


def acting_mode(mode: ChargeMode) -> ChargeMode:
    """How the loop charges in a mode: the rules turn `plan` into now, pv or off; a `plan`
    that reaches here anyway (no rules consulted) charges as `pv`."""
    return ChargeMode.PV if mode is ChargeMode.PLAN else mode


@dataclass
class BoxSolar:
    """What the loop remembers of one box's solar charging between cycles."""

    phase: PhaseState = field(default_factory=PhaseState)
    on: bool = False
    ok_since: float | None = None
    short_since: float | None = None
    up_since: float | None = None
    start_in: float | None = None
    stop_in: float | None = None
    switch_in: float | None = None
    pauses: int = 0
    #: the driver instance last checked and whether it switches (the Protocol check is slow)
    switcher: tuple[object, bool] | None = None

    def clear_countdowns(self) -> None:
        self.start_in = self.stop_in = self.switch_in = None


@dataclass
class SolarPlan:
    """One cycle's answer: boxes held at 0 A with their reason, the budgets, reasons to show
    for boxes that charge (a stop countdown), and the figures for the dashboard."""

    held: dict[str, Reason] = field(default_factory=dict)
    budgets: tuple[Budget, ...] = ()
    notes: dict[str, Reason] = field(default_factory=dict)
    modes: dict[str, ChargeMode] = field(default_factory=dict)
    surplus_w: float | None = None


@dataclass
class Ctx:
    """What every box's decision in one cycle shares."""

    now: float
    cfg: SiteSettings
    events: EventSink
    avail: float  # surplus left for the boxes not yet decided (W)
    slow: float  # the same from the slow average (W)
    known: bool  # the surplus could be measured

    def take(self, watts: float) -> None:
        self.avail -= watts
        self.slow -= watts


class Solar:
    """The per-box memory and the decisions of the solar modes."""

    def __init__(self, events: EventSink) -> None:
        self.events = events
        self.boxes: dict[str, BoxSolar] = {}
        self.meter = SurplusMeter()
        self.slow = SurplusMeter()
        #: the mode each box was in at the last cycle (for the dashboard)
        self.modes: dict[str, ChargeMode] = {}

    def box(self, st: EvseRuntime) -> BoxSolar:
        b = self.boxes.get(st.id)
        if b is None:
            b = self.boxes[st.id] = BoxSolar()
            b.phase.active = st.spec.phases
            if can_switch(st) and isinstance(st.device, PhaseSwitcher):
                b.phase.active = st.device.active_phases or st.spec.phases
        return b

    def phases(self, st: EvseRuntime) -> int:
        """The phase count the box charges on now (its wiring unless it switches)."""
        return self.box(st).phase.active if st.spec.phases == 3 else 1

    def measure(
        self,
        now: float,
        cfg: SiteSettings,
        grid: MeterRuntime | None,
        meters: Iterable[MeterRuntime],
        solar_boxes: Iterable[EvseRuntime],
    ) -> float | None:
        """This cycle's averaged surplus (W), None without a grid reading."""
        reading = grid.reading if grid is not None and grid.online else None
        grid_w = total_power(reading, cfg.nominal_voltage_v)
        raw = None
        if grid_w is not None:
            drawn = sum(st.reading.power_w for st in solar_boxes if st.reading and st.online)
            raw = -grid_w + drawn - cfg.surplus_reserve_w + battery_share(meters, cfg)
        return self.meter.update(now, raw, cfg.surplus_average_s)

    def plan(
        self,
        now: float,
        cfg: SiteSettings,
        evses: Iterable[EvseRuntime],
        grid: MeterRuntime | None,
        meters: Iterable[MeterRuntime],
        mode_of: Callable[[EvseRuntime], ChargeMode] = configured_mode,
    ) -> SolarPlan:
        """What the solar modes ask of the allocator this cycle; `mode_of` gives each box's
        mode in force (the rules' verdict, manager/site_rules.py)."""
        boxes = list(evses)
        self._forget({st.id for st in boxes})
        active = [st for st in boxes if st.enabled and st.device is not None and st.online]
        out = SolarPlan(modes={st.id: mode_of(st) for st in active})
        solar = [st for st in active if out.modes[st.id] in SOLAR]
        out.surplus_w = surplus = self.measure(now, cfg, grid, meters, solar)
        slow = self.slow.update(now, self.meter.raw_w, SLOW_AVERAGE_S)
        ctx = Ctx(now, cfg, self.events, surplus or 0.0, slow or 0.0, surplus is not None)
        for st in active:
            self._switch_step(now, st, out)
        self._share(ctx, solar, out)
        for st in active:
            if out.modes[st.id] not in SOLAR or not self._auto(st):
                self._fixed(ctx, st, out)
            st.phases_active = self.phases(st)
        self.modes = out.modes
        return out

    def _share(self, ctx: Ctx, solar: list[EvseRuntime], out: SolarPlan) -> None:
        """The minpv boxes' mins first, then the pv boxes in order; then the rows."""
        minpv = [st for st in solar if acting_mode(out.modes[st.id]) is ChargeMode.MINPV]
        pv = [st for st in solar if st not in minpv]
        minpv_need = sum(self._minpv(ctx, st, out) for st in _ordered(minpv, self))
        pv_room = ctx.avail
        on = [st for st in _ordered(pv, self) if self._pv(ctx, st, out)]
        takes = [st for st in on if _held(ctx, st, 1.0)]  # a full car keeps no room
        pv_rows = [(st.id, self.need(st, self.phases(st), ctx)) for st in takes]
        minpv_rows = [
            st.id for st in minpv if st.id not in out.held and _plugged(st) and _held(ctx, st, 1.0)
        ]
        out.budgets = surplus_rows(out.surplus_w, pv_room, minpv_need, pv_rows, minpv_rows)

    def _forget(self, ids: set[str]) -> None:
        """What was learned of deleted boxes goes with them."""
        for gone in set(self.boxes) - ids:
            del self.boxes[gone]

    # -- the modes ---------------------------------------------------------------------------
    def _switch_step(self, now: float, st: EvseRuntime, out: SolarPlan) -> None:
        """A switch in progress holds the box at 0 A; `off` holds it too (under control)."""
        b = self.box(st)
        b.clear_countdowns()
        held = b.phase.step(now, st, self.events)
        if held is not None:
            out.held[st.id] = held
        elif out.modes[st.id] is ChargeMode.OFF and configured_mode(st) is ChargeMode.OFF:
            out.held[st.id] = Reason("mode_off")  # a rule's off is held by the rule, with its why
        if not _plugged(st) or out.modes[st.id] not in SOLAR:
            b.on, b.ok_since, b.short_since, b.up_since = False, None, None, None
        if b.phase.want is not None:
            b.switch_in = 0.0

    def _minpv(self, ctx: Ctx, st: EvseRuntime, out: SolarPlan) -> float:
        """A `minpv` box charges at least its min; the surplus decides its phases. Returns the
        surplus its min takes."""
        b = self.box(st)
        if not _plugged(st) or st.id in out.held:
            return 0.0
        if self._auto(st):
            self._phases_by_surplus(ctx, st, b)
        need = _held(ctx, st, self.need(st, b.phase.active, ctx))
        ctx.take(need)
        return need

    def _pv(self, ctx: Ctx, st: EvseRuntime, out: SolarPlan) -> bool:
        """A `pv` box: start and stop by the surplus left for it. True if it charges."""
        b = self.box(st)
        if not _plugged(st) or st.id in out.held:
            return False
        if b.on:
            self._running(ctx, st, b, out)
        else:
            self._waiting(ctx, st, b, out)
        if not ctx.known and st.id in out.held:
            out.held[st.id] = Reason("surplus_unknown")
        return b.on and st.id not in out.held

    def _running(self, ctx: Ctx, st: EvseRuntime, b: BoxSolar, out: SolarPlan) -> None:
        """Keeps charging while the surplus, or its slow average (a cloud), covers the min;
        else counts down the disable delay, first switching to 1 phase where that helps."""
        if self._auto(st):
            self._phases_by_surplus(ctx, st, b)
        need = self.need(st, b.phase.active, ctx)
        one = self.need(st, 1, ctx)
        going_1p = self._auto(st) and b.phase.active == 3 and ctx.avail >= one
        if ctx.avail >= need or ctx.slow >= need or (going_1p and not b.phase.refuses_1p):
            b.short_since = None
            if ctx.avail < need:
                out.notes[st.id] = _short("pv_bridging", ctx.avail, need)
            ctx.take(_held(ctx, st, need))
            return
        b.short_since = b.short_since if b.short_since is not None else ctx.now
        left = ctx.cfg.pv_disable_delay_s - (ctx.now - b.short_since)
        if left > 0:
            b.stop_in = left
            out.notes[st.id] = _short("pv_stopping", ctx.avail, need, left)
            ctx.take(need)
            return
        b.on, b.short_since, b.pauses = False, None, b.pauses + 1
        out.held[st.id] = _short("pv_waiting", ctx.avail, need)

    def _waiting(self, ctx: Ctx, st: EvseRuntime, b: BoxSolar, out: SolarPlan) -> None:
        phases = self._start_phases(ctx, st, b)
        if phases is None:
            b.ok_since = None
            out.held[st.id] = _short("pv_waiting", ctx.avail, self._least_need(ctx, st, b))
            return
        need = self.need(st, phases, ctx)
        b.ok_since = b.ok_since if b.ok_since is not None else ctx.now
        left = ctx.cfg.pv_enable_delay_s - (ctx.now - b.ok_since)
        avail = ctx.avail
        ctx.take(need)  # kept for it while it counts down
        if left > 0:
            b.start_in = left
            out.held[st.id] = _short("pv_starting", avail, need, left)
            return
        b.on, b.ok_since = True, None
        if phases != b.phase.active:
            b.phase.request(phases)
            out.held[st.id] = Reason("phase_switching", {"phases": phases})

    def _start_phases(self, ctx: Ctx, st: EvseRuntime, b: BoxSolar) -> int | None:
        """The phases a waiting box would start on with the surplus left (None: too little):
        3 when the surplus and its slow average carry 3 x min, else 1 when it carries 1 x min."""
        three, one = self.need(st, 3, ctx), self.need(st, 1, ctx)
        cur = b.phase.active
        if not self._auto(st) or not b.phase.may_switch(ctx.now, _interval(ctx)):
            return cur if ctx.avail >= self.need(st, cur, ctx) else None
        margin = 1 + PHASE_UP_MARGIN if cur == 1 else 1.0
        if min(ctx.avail, ctx.slow) >= three * margin:
            return 3
        if ctx.avail >= one and not b.phase.refuses_1p:
            return 1
        return 3 if cur == 3 and ctx.avail >= three else None

    def _least_need(self, ctx: Ctx, st: EvseRuntime, b: BoxSolar) -> float:
        if self._auto(st) and not b.phase.refuses_1p:
            return self.need(st, 1, ctx)
        return self.need(st, b.phase.active, ctx)

    def _phases_by_surplus(self, ctx: Ctx, st: EvseRuntime, b: BoxSolar) -> None:
        """Down to 1 phase after the disable delay when neither the surplus nor its slow
        average carries 3 x min; back to 3 after the enable delay when both carry 3 x min plus
        the hysteresis. At most one switch per `phase_switch_min_interval_s`."""
        three = self.need(st, 3, ctx)
        if b.phase.active == 3 and max(ctx.avail, ctx.slow) < three and not b.phase.refuses_1p:
            want, delay = 1, ctx.cfg.pv_disable_delay_s
        elif b.phase.active == 1 and min(ctx.avail, ctx.slow) >= three * (1 + PHASE_UP_MARGIN):
            want, delay = 3, ctx.cfg.pv_enable_delay_s
        else:
            b.up_since = None
            return
        b.up_since = b.up_since if b.up_since is not None else ctx.now
        left = max(delay - (ctx.now - b.up_since), b.phase.wait_s(ctx.now, _interval(ctx)))
        if left > 0:
            b.switch_in = left
            return
        b.up_since = None
        b.phase.request(want)

    def _fixed(self, ctx: Ctx, st: EvseRuntime, out: SolarPlan) -> None:
        """`now` and `off`: 3 phases (or the fixed setting) when the box switches at all."""
        b = self.box(st)
        want = self._wanted_fixed(st, b)
        if want is None or want == b.phase.active:
            return
        if out.modes[st.id] is ChargeMode.OFF or not _plugged(st):
            b.phase.request(want)  # nothing flows: no reason to wait
        elif b.phase.may_switch(ctx.now, _interval(ctx)):
            b.phase.request(want)
        else:
            b.switch_in = b.phase.wait_s(ctx.now, _interval(ctx))

    def _wanted_fixed(self, st: EvseRuntime, b: BoxSolar) -> int | None:
        if not self.switches(st):
            return None
        setting = st.spec.phase_switching
        if setting == "1p" and not b.phase.refuses_1p:
            return 1
        return 3

    def _auto(self, st: EvseRuntime) -> bool:
        return self.switches(st) and st.spec.phase_switching == "auto"

    def switches(self, st: EvseRuntime) -> bool:
        """can_switch; the Protocol check once per driver instance, the driver's `switching`
        every time (an OCPP box says whether it can after it connected)."""
        b = self.box(st)
        if b.switcher is None or b.switcher[0] is not st.device:
            b.switcher = (st.device, isinstance(st.device, PhaseSwitcher))
        if not b.switcher[1] or st.spec.phases != 3:
            return False
        return bool(cast(PhaseSwitcher, st.device).switching)

    def need(self, st: EvseRuntime, phases: int, ctx: Ctx) -> float:
        """The box's minimum power on `phases` phases (W), as the budget counts it: once per
        phase the car draws on (all of them while that is unknown, or while the box is on 1
        phase: what the car did there says nothing of 3 phases)."""
        on_three = self.box(st).phase.active == 3
        used = 1 if phases == 1 else len((st.car_phases if on_three else None) or (0, 1, 2))
        return st.spec.min_current_a * used * ctx.cfg.nominal_voltage_v


def _held(ctx: Ctx, st: EvseRuntime, need: float) -> float:
    """What a running box keeps of the surplus: its min, or nothing when its car has not
    drawn for a while although offered current (a full car keeps nothing from the others)."""
    r, since = st.reading, st.charging_since
    offered = st.commanded_a > 0 and since is not None and ctx.now - since > FOLLOW_S
    if offered and r is not None and r.status is ChargeStatus.CONNECTED:
        return 0.0
    return need


def _interval(ctx: Ctx) -> float:
    return ctx.cfg.phase_switch_min_interval_s


def _plugged(st: EvseRuntime) -> bool:
    return st.reading is not None and st.reading.status in PLUGGED


def _short(code: str, avail: float, need: float, seconds: float | None = None) -> Reason:
    params: dict[str, float | int] = {"surplus_w": round(max(avail, 0.0)), "need_w": round(need)}
    if seconds is not None:
        params["seconds"] = round(seconds)
    return Reason(code, params)


def _ordered(boxes: list[EvseRuntime], solar: Solar) -> list[EvseRuntime]:
    """Who is served first from the surplus: higher priority, then boxes already charging,
    then the one waiting longest."""

    def key(st: EvseRuntime) -> tuple[int, int, float, str]:
        since = st.charging_since if st.charging_since is not None else st.waiting_since
        return (-st.spec.priority, 0 if solar.box(st).on else 1, since or 0.0, st.id)

    return sorted(boxes, key=key)
