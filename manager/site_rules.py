"""The charging rules at work in the control loop: prices, the external limit, plans, and each
box's mode in force (manager/mode_rules.py decides it; this module keeps what it needs between
cycles and puts the result into the allocator's question).

What a rule does to a box is data in the model, never a special case around the allocator:
a box a rule stops gets demand 0 and the rule's reason; a user's max current caps its demand;
the external limit is a `Budget` (one constraint row) in the site.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

from manager.allocation.external import external_limit
from manager.chargemode import ChargeMode
from manager.charging_limit import ChargingLimit, LimitFile
from manager.config import Settings
from manager.loads import Model
from manager.mode_rules import BoxRules, InForce, PlanProgress, UserLimits, resolve
from manager.model import ChargeStatus, EventSink
from manager.plan import Plan, behind, make_plan
from manager.prices import PriceFile, PriceSlot
from manager.rules_config import FLOOR_14A_W
from manager.runtime import EvseRuntime
from manager.solar import configured_mode
from manager.state import ReasonState, State
from manager.state_rules import ChargingLimitState, PlanState
from manager.timestamps import iso, parse_time

log = logging.getLogger("ampshare.rules")

#: who charges at a box and what they allow (from the users' settings)
UserLookup = Callable[[EvseRuntime], UserLimits | None]


@dataclass
class SiteRules:
    """Prices, the external limit and plans, and what they decided in the last cycle."""

    prices: tuple[PriceSlot, ...] = ()
    limit: ChargingLimit | None = None
    limit_file: LimitFile | None = None
    price_file: PriceFile | None = None
    #: where a limit's end is reported to the operator (the events page)
    events: EventSink | None = None
    in_force: dict[str, InForce] = field(default_factory=dict)
    progress: dict[str, PlanProgress] = field(default_factory=dict)
    _plans: dict[str, tuple[tuple[object, ...], Plan]] = field(default_factory=dict)
    _version: int = 0

    # -- inputs ----------------------------------------------------------------------------
    def keep_in(self, data_dir: Path, wall: Callable[[], float]) -> None:
        """Store the limit and the prices in `data_dir` from now on, and take what is there
        (a limit only while it still holds by the clock `wall`)."""
        self.limit_file = LimitFile(data_dir, wall)
        self.limit = self.limit_file.load()
        self.price_file = PriceFile(data_dir)
        self.prices = self.price_file.load()

    def set_prices(self, slots: Sequence[PriceSlot]) -> None:
        if self.price_file is not None:
            self.price_file.save(slots)
        self.prices = tuple(slots)
        self._version += 1  # plans are made again with the new prices

    def set_limit(self, limit: ChargingLimit | None) -> None:
        if self.limit_file is not None:
            self.limit_file.save(limit)
        self.limit = limit
        if limit is None:
            log.info("charging limit lifted")
        else:
            log.info("charging limit %.0f W until %s", limit.max_power_w, iso(limit.until))

    def active_limit(self, at: float) -> ChargingLimit | None:
        """The limit while it holds; an expired one is dropped (and its file with it)."""
        if self.limit is not None and not self.limit.active(at):
            self.set_limit(None)
            if self.events is not None:
                self.events("charging_limit", "charging limit ended (not renewed)")
        return self.limit

    # -- each cycle ------------------------------------------------------------------------
    def decide(
        self,
        evses: Iterable[EvseRuntime],
        settings: Settings,
        at: float,
        users: UserLookup | None = None,
    ) -> None:
        """Each online box's mode in force now (`in_force`) and its plan (`progress`)."""
        volt = settings.site.nominal_voltage_v
        self.in_force, self.progress = {}, {}
        seen = set()
        for st in evses:
            seen.add(st.id)
            if st.enabled and st.device is not None and st.online:
                self.in_force[st.id] = self._resolve(st, at, volt, users)
        for gone in set(self._plans) - seen:  # a removed box's plan
            del self._plans[gone]

    def mode_of(self, st: EvseRuntime) -> ChargeMode:
        """The mode in force for a box (its own mode when the rules did not see it)."""
        force = self.in_force.get(st.id)
        return force.mode if force is not None else configured_mode(st)

    def apply(self, model: Model, settings: Settings, at: float) -> Model:
        """The allocator's question with the rules in (after `decide`): a box a rule stops
        gets demand 0 and the rule's reason, a user's max current caps the demand, and the
        external limit is a row of the site."""
        loads, overrides = [], dict(model.overrides)
        for load in model.loads:
            force = self.in_force.get(load.id)
            if force is None or load.id in overrides:  # no car, an error...: that stands
                loads.append(load)
                continue
            demand = load.demand_a
            if force.mode is ChargeMode.OFF and force.reason is not None:
                demand, overrides[load.id] = 0.0, force.reason
            cap = force.max_current_a
            if cap is not None:
                demand = cap if demand is None else min(demand, cap)
            loads.append(replace(load, demand_a=demand))
        site = model.site
        limit = self.active_limit(at)
        if limit is not None:
            floor = FLOOR_14A_W if settings.limits.keep_14a_minimum else 0.0
            volt = settings.site.nominal_voltage_v
            row, loads = external_limit(
                limit.max_power_w, limit.until, limit.circuit, site.circuits, loads, volt, floor
            )
            site = replace(site, budgets=(*site.budgets, row))
        return replace(model, site=site, loads=loads, overrides=overrides)

    def _resolve(
        self, st: EvseRuntime, at: float, volt: float, users: UserLookup | None
    ) -> InForce:
        cfg = st.spec
        rules = BoxRules(tuple(cfg.schedules), cfg.price_limit)
        progress = self._progress(st, at, volt)
        if progress is not None:
            self.progress[st.id] = progress
        user = users(st) if users is not None else None
        return resolve(at, configured_mode(st), rules, self.prices, progress, user)

    def _progress(self, st: EvseRuntime, at: float, volt: float) -> PlanProgress | None:
        """The box's plan and what it still misses; made again when the plan, the prices or
        the session change, or when it has fallen behind."""
        cfg = st.spec
        if cfg.plan_energy_wh is None or cfg.plan_time is None:
            self._plans.pop(st.id, None)
            return None
        done = st.reading.session_wh if st.reading is not None else 0.0
        missing = cfg.plan_energy_wh - done
        power = _rate(st, volt)
        key = (cfg.plan_energy_wh, cfg.plan_time, self._version, st.session_id)
        kept = self._plans.get(st.id)
        if kept is None or kept[0] != key or behind(kept[1], at, missing, power):
            deadline = parse_time(cfg.plan_time)
            plan = make_plan(at, max(0.0, missing), deadline, power, self.prices)
            if kept is None or kept[1].slots != plan.slots:
                log.info("%s: plan %.0f Wh by %s at %.0f W", st.id, missing, cfg.plan_time, power)
            self._plans[st.id] = (key, plan)
        return PlanProgress(self._plans[st.id][1], missing)

    def next_edges(self, at: float, horizon_s: float = 3600.0) -> set[float]:
        """When a rule may decide differently within the horizon: the limit's end, the edges
        of the plans' slots and of the price slots (a price limit starts or ends there)."""
        times = {self.limit.until} if self.limit is not None else set()
        for progress in self.progress.values():
            times |= {t for span in (*progress.plan.slots, *progress.plan.solar) for t in span}
        times |= {t for slot in self.prices for t in (slot.start, slot.end)}
        return {t for t in times if at < t <= at + horizon_s}

    # -- the snapshot ----------------------------------------------------------------------
    def annotate(self, state: State, at: float) -> State:
        """The snapshot with the active limit, each box's plan and the rule in force."""
        limit = self.limit if self.limit is not None and self.limit.active(at) else None
        site = state.site.model_copy(update={"charging_limit": _limit_state(limit)})
        evses = [
            e.model_copy(
                update={
                    "rule": ReasonState.of(f.reason) if (f := self.in_force.get(e.id)) else None,
                    "plan": _plan_state(self.progress.get(e.id)),
                }
            )
            for e in state.evses
        ]
        return state.model_copy(update={"site": site, "evses": evses})


def _rate(st: EvseRuntime, volt: float) -> float:
    """The power a plan counts on: what the car draws while it charges (a car may take less
    than the box offers), else the box's max."""
    cfg = st.spec
    full = cfg.max_current_a * len(st.site_phases()) * volt
    r = st.reading
    floor = cfg.min_current_a * len(st.site_phases()) * volt
    if r is not None and r.status is ChargeStatus.CHARGING and r.power_w >= floor:
        return min(full, r.power_w)
    return full


def _limit_state(limit: ChargingLimit | None) -> ChargingLimitState | None:
    if limit is None:
        return None
    return ChargingLimitState(
        max_power_w=limit.max_power_w, until=limit.until, circuit=limit.circuit
    )


def _plan_state(progress: PlanProgress | None) -> PlanState | None:
    if progress is None:
        return None
    plan = progress.plan
    return PlanState(
        start=plan.start,
        end=plan.end,
        deadline=plan.deadline,
        missing_wh=round(max(0.0, progress.missing_wh), 1),
        slots=[[s, e] for s, e in plan.slots],
        solar=[[s, e] for s, e in plan.solar],
        forecast=plan.forecast,
    )
