"""Publishing a cycle: the typed `State` (manager/state.py), overload events, the fan-out to SSE."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from manager.config import Settings
from manager.model import (
    PHASES,
    ROTATIONS,
    BillingGateways,
    ChargeStatus,
    Circuit,
    EventSink,
    MeterReading,
    MeterRole,
    Reason,
    Site,
    Triple,
    phase_name,
)
from manager.runtime import FOLLOW_S, EvseRuntime, MeterRuntime, now_iso, phase_currents
from manager.solar import SOLAR, Solar
from manager.state import (
    ChargePoint,
    CircuitState,
    EvseState,
    EvseStatus,
    GatewayState,
    MeterState,
    ReasonState,
    SiteState,
    State,
)

SOLAR_MODES = frozenset(m.value for m in SOLAR)

#: what the composition root adds to every snapshot: OCPP charge points seen
ChargePoints = Callable[[], list[dict[str, Any]]]

_STATUS: Mapping[ChargeStatus, EvseStatus] = {
    ChargeStatus.ERROR: "error",
    ChargeStatus.NO_CAR: "no_car",
    ChargeStatus.CHARGING: "charging",
}


def status_word(st: EvseRuntime) -> EvseStatus:
    if not st.enabled:
        return "disabled"
    r = st.reading
    if st.device is None or not st.online or r is None:
        return "offline"
    if r.status in _STATUS:
        return _STATUS[r.status]
    if st.commanded_a == 0 and st.target_a == 0:
        return "paused"
    return "connected"


def _rounded(values: Triple | None, digits: int = 2) -> tuple[float | None, ...]:
    if values is None:
        return (None, None, None)
    return tuple(round(x, digits) for x in values)


def _detail(
    said: Reason | str | None, error: str | None, error_reason: Reason | None = None
) -> ReasonState | None:
    """What the box reports (as data, or its own words), else the driver's error."""
    if error_reason is not None and said is None:
        return ReasonState.of(error_reason)
    if isinstance(said, Reason):
        return ReasonState.of(said)
    if said:
        return ReasonState(code="box_says", params={"text": said})
    return ReasonState(code="device_error", params={"error": error}) if error else None


def evse_state(
    st: EvseRuntime, gateways: BillingGateways | None = None, solar: Solar | None = None
) -> EvseState:
    r = st.reading if st.online else None
    cfg = st.spec
    return EvseState(
        **_modes(st, solar),
        id=st.id,
        name=cfg.name,
        driver=cfg.driver,
        enabled=st.enabled,
        online=st.online,
        status=status_word(st),
        current_a=r.current_a if r else (0.0, 0.0, 0.0),
        # a disabled box is not ours to command: no setpoint to show
        setpoint_a=round(st.commanded_a, 2) if st.enabled else 0.0,
        target_a=round(st.target_a, 2),
        reason=ReasonState.of(st.reason),
        power_w=r.power_w if r else 0.0,
        session_wh=r.session_wh if r else 0.0,
        user=r.user if r else None,
        detail=_detail(r.detail if r else None, st.error, st.error_reason),
        circuit=cfg.circuit,
        phases=cfg.phases,
        phases_used=sorted(st.site_phases()) if st.car_phases else None,
        priority=cfg.priority,
        max_current_a=cfg.max_current_a,
        deactivation=_deactivation(st),
        gateway=_gateway(gateways, st.id),
    )


def _deactivation(st: EvseRuntime) -> ReasonState | None:
    """The last hand-back, while it applies: once the box is enabled again it is ours again."""
    note = ReasonState.of(st.deactivation) if not st.enabled else None
    return note.model_copy(update={"since": st.deactivated_at}) if note is not None else None


def _modes(st: EvseRuntime, solar: Solar | None) -> dict[str, Any]:
    """The box's mode, phases and countdowns (manager/solar.py)."""
    b = solar.boxes.get(st.id) if solar is not None else None
    return {
        # the owner's choice (the tile's switch); a rule in force shows as `rule` and reason
        "charge_mode": st.spec.charge_mode.value,
        "phases_active": st.phases_active or st.spec.phases,
        "pv_start_in_s": _secs(b.start_in if b else None),
        "pv_stop_in_s": _secs(b.stop_in if b else None),
        "phase_switch_in_s": _secs(b.switch_in if b else None),
    }


def _solar_site(solar: Solar | None, evses: list[EvseState]) -> dict[str, float | None]:
    """The surplus and what the boxes in a solar mode draw of it."""
    surplus = solar.meter.average_w if solar is not None else None
    modes = solar.modes if solar is not None else {}
    drawn = sum(e.power_w or 0.0 for e in evses if modes.get(e.id) in SOLAR_MODES)
    return {
        "surplus_w": None if surplus is None else round(surplus, 1),
        "solar_charge_w": round(drawn, 1),
    }


def _secs(value: float | None) -> float | None:
    return None if value is None else float(round(value))


def _gateway(gateways: BillingGateways | None, evse_id: str) -> GatewayState | None:
    status = gateways.status(evse_id) if gateways is not None else None
    return GatewayState.model_validate(status) if status is not None else None


def meter_state(m: MeterRuntime) -> MeterState:
    r = m.reading if m.online else None
    return MeterState(
        id=m.id,
        name=m.spec.name,
        driver=m.spec.driver,
        role=m.spec.role.value,
        enabled=m.spec.enabled,
        online=m.online,
        current_a=_rounded(phase_currents(r)),
        voltage_v=r.voltage_v if r else (None, None, None),
        power_w=r.total_power_w if r else None,
        energy_wh=_meter_energy(m, r),
        error=m.error,
    )


def _meter_energy(m: MeterRuntime, r: MeterReading | None) -> float | None:
    """Energy imported; for a PV meter what it produced, which it may count as export."""
    if r is None:
        return None
    if m.spec.role is MeterRole.PV and r.energy_export_wh is not None:
        return max(r.energy_export_wh, r.energy_import_wh or 0.0)
    return r.energy_import_wh


def pv_power(meters: Iterable[MeterRuntime]) -> float:
    return sum(
        abs(m.reading.total_power_w or 0.0)
        for m in meters
        if m.spec.role is MeterRole.PV and m.online and m.reading is not None
    )


def circuit_loads(circuits: Iterable[Circuit], evses: list[EvseRuntime]) -> dict[str, Triple]:
    """Current through each fuse per site phase: its base load (which already holds the
    sub-boards' base loads) plus what the wallboxes anywhere below it draw."""
    circuits = list(circuits)
    parent = {c.id: c.parent for c in circuits}
    out = {c.id: list(c.base_load_a) for c in circuits}
    for st in evses:
        if not st.enabled:
            continue
        rot = ROTATIONS[st.spec.phase_rotation]
        cid: str | None = st.spec.circuit
        seen: set[str] = set()
        while cid is not None and cid in out and cid not in seen:
            seen.add(cid)
            for p in range(PHASES):
                out[cid][rot[p]] += st.last_measured[p]
            cid = parent.get(cid)
    return {cid: (v[0], v[1], v[2]) for cid, v in out.items()}


@dataclass(frozen=True, slots=True)
class Inputs:
    """What one snapshot is made of."""

    settings: Settings
    site: Site
    evses: Iterable[EvseRuntime]
    meters: Iterable[MeterRuntime]
    grid: MeterRuntime | None
    safe_reason: Reason | None
    charge_points: list[dict[str, Any]]
    gateways: BillingGateways | None = None
    solar: Solar | None = None


def build_state(x: Inputs) -> State:
    by_name = lambda s: s.name  # noqa: E731
    evses = [evse_state(st, x.gateways, x.solar) for st in sorted(x.evses, key=by_name)]
    meters = sorted(x.meters, key=by_name)
    grid_reading = x.grid.reading if x.grid and x.grid.online else None
    cfg = x.settings.site
    site = SiteState(
        limit_a=(cfg.max_current_a,) * PHASES,
        grid_a=_rounded(phase_currents(grid_reading) if grid_reading else None),
        grid_w=grid_reading.total_power_w if grid_reading else None,
        pv_w=round(pv_power(meters), 1),
        charge_w=round(sum(e.power_w or 0.0 for e in evses), 1),
        reserve_a=cfg.reserve_a,
        safe_mode=x.safe_reason is not None,
        safe_reason=ReasonState.of(x.safe_reason),
        safe_current_a=cfg.safe_current_a,
        **_solar_site(x.solar, evses),
    )
    loads = circuit_loads(x.site.circuits, list(x.evses))
    circuits = [
        CircuitState(
            id=c.id,
            name=c.name,
            parent=c.parent,
            max_current_a=c.max_current_a,
            base_load_a=_rounded(c.base_load_a),
            load_a=_rounded(loads[c.id]),
        )
        for c in x.site.circuits
    ]
    return State(
        ts=now_iso(),
        site=site,
        evses=evses,
        meters=[meter_state(m) for m in meters],
        charge_points=[ChargePoint.model_validate(cp) for cp in x.charge_points],
        circuits=circuits,
    )


@dataclass
class OverloadWatch:
    """An event when a phase stays above the fuse longer than cars need to follow a cut."""

    events: EventSink
    since: dict[str, float | None] = field(default_factory=dict)

    def check(self, now: float, limit: float, grid_a: Triple | None) -> None:
        if grid_a is None:
            return
        for p in range(PHASES):
            key = phase_name(p)
            if grid_a[p] <= limit + 0.5:
                self.since.pop(key, None)
                continue
            since = self.since.setdefault(key, now)
            if since is not None and now - since >= FOLLOW_S:
                self.since[key] = None  # reported; once per episode
                self.events(
                    "overload",
                    f"grid {key} at {grid_a[p]:.1f} A > {limit:g} A for {now - since:.0f} s",
                    params={
                        "phase": key,
                        "amps": round(grid_a[p], 1),
                        "limit": limit,
                        "seconds": round(now - since),
                    },
                )


@dataclass
class Subscribers:
    """Fan-out of snapshots to SSE clients; a slow client only ever misses old snapshots."""

    queues: set[asyncio.Queue[State]] = field(default_factory=set)

    def publish(self, snapshot: State) -> None:
        for q in self.queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(snapshot)
