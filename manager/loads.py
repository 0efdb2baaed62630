"""What the allocator is asked: the wallboxes' loads and the circuits with their base load.

Rules that decide *whether* a box may charge this cycle (no car, an error, the resume delay
after a pause, its authorization, the slot order when not every car fits) live here, as each
box's demand and wait rank plus a reason; rules about *how much* live in the allocator. See
docs/architecture.md.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from manager.authorize import Authorizer, box_rules
from manager.backend import awaits_tag, capped
from manager.config import ROOT_CIRCUIT, CircuitConfig, Settings, to_circuits
from manager.model import (
    PHASES,
    ROTATIONS,
    BillingGateways,
    ChargeStatus,
    EvseLoad,
    Reason,
    Site,
    Triple,
)
from manager.reservations import Reservations
from manager.runtime import EvseRuntime, MeterRuntime, phase_currents, resolution_of
from manager.solar import SolarPlan

Acc = dict[str, list[float]]
RESUME = "resume_wait"


@dataclass(frozen=True, slots=True)
class Model:
    """One cycle's question to the allocator, plus the reasons decided before it."""

    site: Site
    loads: list[EvseLoad]
    overrides: dict[str, Reason]
    #: the charging user's cap per box (`user_limit`), shown when it is what limits the box
    user_caps: dict[str, Reason]


def wait_key(now: float, st: EvseRuntime, rotation_s: float) -> tuple[int, float, str]:
    """Slot order: a box charging for less than one slot first, then who waited longest."""
    if st.charging_since is not None:
        if now - st.charging_since < rotation_s:
            return (0, st.charging_since, st.id)
        return (1, st.charging_since + rotation_s, st.id)
    return (1, st.waiting_since if st.waiting_since is not None else now, st.id)


def hold_back(
    now: float, st: EvseRuntime, resume_delay_s: float, reservations: Reservations
) -> Reason | None:
    """Why the box must not charge this cycle at all, if it must not."""
    r = st.reading
    held = reservations.holding(st.id, r.user if r is not None else None)
    if held is not None:
        return held
    if r is None or r.status is ChargeStatus.NO_CAR:
        return Reason("no_car")
    if r.status is ChargeStatus.ERROR:
        return _box_error(r.detail)
    if not r.user and awaits_tag(st):  # its reader decides who charges (also for the backend)
        return Reason("auth_wait")
    if st.paused_at is not None and now - st.paused_at < resume_delay_s:
        return Reason(RESUME, {"seconds": round(resume_delay_s - (now - st.paused_at))})
    return None


def _box_error(detail: Reason | str | None) -> Reason:
    if isinstance(detail, Reason):
        return Reason("box_error", cause=detail)
    return Reason("box_error", {"detail": detail} if detail else {})


def build_model(
    now: float,
    settings: Settings,
    circuits: list[CircuitConfig],
    evses: Iterable[EvseRuntime],
    meters: Mapping[str, MeterRuntime],
    grid: MeterRuntime | None,
    safe_mode: bool,
    reservations: Reservations,
    gateways: BillingGateways | None = None,
    authorizer: Authorizer | None = None,
    solar: SolarPlan | None = None,
) -> Model:
    site_cfg = settings.site
    loads: list[EvseLoad] = []
    overrides: dict[str, Reason] = {}
    user_caps: dict[str, Reason] = {}
    active = [st for st in evses if st.enabled and st.device is not None]
    ranked = sorted(
        (st for st in active if st.online), key=lambda st: wait_key(now, st, site_cfg.rotation_s)
    )
    for rank, st in enumerate(ranked):
        demand: float | None = st.cap_a
        held = hold_back(now, st, site_cfg.resume_delay_s, reservations)
        if solar is not None and st.id in solar.held and (held is None or held.code == RESUME):
            held = solar.held[st.id]  # its mode: off, waiting for surplus, switching phases
        if held is not None:
            demand, overrides[st.id] = 0.0, held
        demand = capped(gateways, st, demand)
        # the tag decides whether the box may charge; the charging user's limits apply
        rules = box_rules(authorizer, st.config, st.reading.user if st.reading else None, demand)
        if rules.hold is not None:
            overrides[st.id] = rules.hold
        if rules.cap is not None:
            user_caps[st.id] = rules.cap
        loads.append(
            st.load(
                demand_a=rules.demand_a,
                priority=rules.priority,
                resolution_a=resolution_of(st.device),
                wait_rank=rank,
            )
        )
    base, root_uncontrolled = BaseLoads(circuits, active, meters, grid, safe_mode, now).compute()
    tree = to_circuits(site_cfg, circuits, base)
    if safe_mode:
        root = tree[0]
        safe = replace(
            root,
            max_current_a=site_cfg.safe_current_a,
            max_power_w=None,
            reserve_a=0.0,
            base_load_a=root_uncontrolled,
            unbalance_counts_base=False,
        )
        tree = (safe, *tree[1:])
    budgets = solar.budgets if solar is not None else ()
    site = Site(circuits=tree, nominal_voltage_v=site_cfg.nominal_voltage_v, budgets=budgets)
    return Model(site, loads, overrides, user_caps)


class BaseLoads:
    """Per circuit, the current not under ampshare's control (docs/architecture.md, Model).

    A metered circuit: its meter minus the online wallboxes below it. Without a meter: the sum
    of its sub-boards. Both plus what offline wallboxes are assumed to draw and any remembered
    overdraw. Also gives that assumed part alone for the root (safe mode).
    """

    def __init__(
        self,
        circuits: list[CircuitConfig],
        active: list[EvseRuntime],
        meters: Mapping[str, MeterRuntime],
        grid: MeterRuntime | None,
        safe_mode: bool,
        now: float,
    ) -> None:
        self.meters = meters
        self.safe_mode = safe_mode
        self.meter_of = {c.id: c.meter for c in circuits}
        self.meter_of[ROOT_CIRCUIT] = grid.id if grid else None
        self.children: dict[str, list[str]] = {ROOT_CIRCUIT: []}
        for c in circuits:
            self.children.setdefault(c.parent, []).append(c.id)
            self.children.setdefault(c.id, [])
        self.measured: Acc = {cid: [0.0] * PHASES for cid in self.children}
        self.uncontrolled: Acc = {cid: [0.0] * PHASES for cid in self.children}
        self.base: dict[str, Triple] = {}
        for st in active:
            if st.spec.circuit in self.children:
                self._add_evse(st, now)

    def _add_evse(self, st: EvseRuntime, now: float) -> None:
        cid = st.spec.circuit
        rot = ROTATIONS[st.spec.phase_rotation]
        for p in range(PHASES):
            self.measured[cid][rot[p]] += st.last_measured[p]
        if st.online:  # a remembered overdraw comes on top of what it is offered
            extra = st.overdraw_a if now < st.overdraw_until else 0.0
        else:  # offline: assume it still draws what it was last offered
            extra = st.commanded_a
        for p in st.site_phases():
            self.uncontrolled[cid][p] += extra

    def compute(self) -> tuple[dict[str, Triple], Triple]:
        _, root_unc = self._walk(ROOT_CIRCUIT)
        return self.base, (root_unc[0], root_unc[1], root_unc[2])

    def _walk(self, cid: str) -> tuple[list[float], list[float]]:
        """Returns (measured wallbox current, uncontrolled extra) of the subtree."""
        sub_meas = list(self.measured[cid])
        sub_unc = list(self.uncontrolled[cid])
        child_base = [0.0] * PHASES
        for child in self.children.get(cid, []):
            m, u = self._walk(child)
            for p in range(PHASES):
                sub_meas[p] += m[p]
                sub_unc[p] += u[p]
                child_base[p] += self.base[child][p]
        currents = self._metered(cid)
        if currents is not None:
            value = [currents[p] - sub_meas[p] + sub_unc[p] for p in range(PHASES)]
        else:
            value = [child_base[p] + self.uncontrolled[cid][p] for p in range(PHASES)]
        self.base[cid] = (value[0], value[1], value[2])
        return sub_meas, sub_unc

    def _metered(self, cid: str) -> Triple | None:
        """The circuit's meter reading, unless it has none (or it is the silent grid meter)."""
        if cid == ROOT_CIRCUIT and self.safe_mode:
            return None
        meter_id = self.meter_of.get(cid)
        meter = self.meters.get(meter_id) if meter_id is not None else None
        return phase_currents(meter.reading) if meter is not None else None
