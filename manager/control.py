"""The control loop: read every device, decide, apply, publish — once per interval.

The allocator decides what is safe and fair right now; this module adds what depends on time:
meter staleness and safe mode, cuts at once but increases slowly, a dead-band, pause/resume
hysteresis, reclaiming current a car does not take, remembering overdraw, and the slot rotation
when not every car can charge.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from manager.allocator import allocate
from manager.config import ROOT_CIRCUIT, CircuitConfig, Settings, to_circuits
from manager.model import (
    PHASES,
    ROTATIONS,
    ZERO3,
    ChargeStatus,
    DeviceError,
    EventSink,
    Evse,
    EvseLoad,
    EvseReading,
    Meter,
    MeterReading,
    SessionRecorder,
    Site,
    Triple,
    phase_name,
)
from manager.reason_words import english
from manager.reservations import Reservations, reserved_words

log = logging.getLogger("ampshare.control")

#: a car drawing this much more than offered is overdrawing (A)
OVERDRAW_TOLERANCE_A = 1.0
#: a device that has not answered for this many cycles (and at least STALE_MIN_S) is offline
STALE_CYCLES = 3
STALE_MIN_S = 3.0
#: an EV may take this long to follow a lower offer (IEC 61851 ~6 s; EVerest allows 7 s)
FOLLOW_S = 10.0
#: how long an observed overdraw is remembered (s); cFos uses 5 min
OVERDRAW_MEMORY_S = 300.0
#: a car drawing this much less than offered for RECLAIM_AFTER_S takes less (A)
RECLAIM_MARGIN_A = 2.0
RECLAIM_AFTER_S = 30.0
#: after that long with a reduced cap, offer more again to see whether the car takes it (s)
PROBE_AFTER_S = 120.0
#: IEC 61851: do not change the offer upwards more often than this (s)
INCREASE_EVERY_S = 5.0
#: one increase raises the offer by at most this much (A)
RAMP_STEP_A = 4.0
#: increases smaller than this are not sent (A)
DEADBAND_A = 0.5
#: the setpoint is sent again this often even if unchanged (s)
REFRESH_S = 60.0
#: a measured phase above this share of the highest phase counts as used by the car
PHASE_SHARE = 0.4
PHASE_MIN_A = 1.5

BuildDevice = Callable[[dict[str, Any]], Meter | Evse]


class SessionLog(SessionRecorder, Protocol):
    """The session store as the loop uses it: record, and find sessions left open."""

    def open_sessions(self) -> list[dict[str, Any]]: ...

    def get(self, transaction_id: int) -> dict[str, Any] | None: ...


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DeviceState:
    """What the loop knows of one device; a read that outlasts a cycle goes on in `pending`."""

    config: dict[str, Any]
    online: bool = False
    error: str | None = None
    pending: asyncio.Task[Any] | None = None
    answered_at: float | None = None
    asked_since: float | None = None

    @property
    def id(self) -> str:
        return str(self.config["id"])

    def forget_read(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None


@dataclass
class MeterState(DeviceState):
    device: Meter | None = None
    reading: MeterReading | None = None
    last_ok: float | None = None


@dataclass
class EvseState(DeviceState):
    device: Evse | None = None
    reading: EvseReading | None = None
    commanded_a: float = 0.0
    sent_at: float = -math.inf
    increased_at: float = -math.inf
    decreased_at: float = -math.inf
    car_phases: frozenset[int] | None = None
    charging_since: float | None = None
    waiting_since: float | None = None
    paused_at: float | None = None
    overdraw_a: float = 0.0
    overdraw_until: float = -math.inf
    less_since: float | None = None
    cap_a: float | None = None
    cap_until: float = -math.inf
    last_measured: Triple = ZERO3
    session_id: int | None = None
    target_a: float = 0.0
    reason: str = "starting"
    deactivation: str | None = None

    @property
    def enabled(self) -> bool:
        return bool(self.config.get("enabled", True))

    def site_phases(self) -> tuple[int, ...]:
        return self.load_phases_probe().site_phases()

    def load_phases_probe(self) -> EvseLoad:
        return EvseLoad(
            id=self.id,
            circuit=str(self.config.get("circuit", ROOT_CIRCUIT)),
            phases=int(self.config.get("phases", 3)),
            rotation=str(self.config.get("phase_rotation", "L1L2L3")),
            car_phases=self.car_phases,
        )


@dataclass
class Subscribers:
    """Fan-out of snapshots to SSE clients; a slow client only ever misses old snapshots."""

    queues: set[asyncio.Queue[dict[str, Any]]] = field(default_factory=set)

    def publish(self, snapshot: dict[str, Any]) -> None:
        for q in self.queues:
            if q.full():
                q.get_nowait()
            q.put_nowait(snapshot)


class ControlLoop:
    def __init__(
        self,
        *,
        build_device: BuildDevice,
        events: EventSink,
        clock: Callable[[], float] = time.monotonic,
        sessions: SessionLog | None = None,
    ) -> None:
        self.build_device = build_device
        self.events = events
        self.sessions = sessions
        self.clock = clock
        self.settings = Settings()
        self.circuits: list[CircuitConfig] = []
        self.meters: dict[str, MeterState] = {}
        self.evses: dict[str, EvseState] = {}
        self.safe_mode = False
        self.safe_reason: str | None = None
        self.started = clock()
        self._overloaded: dict[str, float | None] = {}
        self._snapshot: dict[str, Any] = {}
        self._subs = Subscribers()
        self._lock = asyncio.Lock()
        self.cycles = 0
        #: how long the last cycle and its allocation took (s), and when it ended (monotonic)
        self.last_cycle_s = 0.0
        self.last_allocation_s = 0.0
        self.last_cycle_at: float | None = None
        self.extra_state: Callable[[], dict[str, Any]] = dict
        self.on_cycle: list[Callable[[dict[str, Any]], None]] = []
        #: reserved boxes are kept free (demand 0) until their user comes
        self.reservations = Reservations()

    # -- configuration -----------------------------------------------------------------
    def set_settings(self, settings: Settings) -> None:
        self.settings = settings

    def set_circuits(self, circuits: list[CircuitConfig]) -> None:
        self.circuits = list(circuits)

    async def set_devices(self, configs: list[dict[str, Any]]) -> None:
        """Build new and changed devices, close removed ones. Never blocks on a dead device."""
        async with self._lock:
            wanted = {str(c["id"]): dict(c) for c in configs}
            # an edited device keeps what was learned: a meter's last good reading (an edit is
            # not a lost meter), a box's last offer (it may still draw it) and its car
            previous: dict[str, MeterState | EvseState] = {}
            for table in (self.meters, self.evses):
                for dev_id in list(table):
                    state = table[dev_id]
                    if wanted.get(dev_id) != state.config:
                        state.forget_read()
                        await self._close(state.device)
                        previous[dev_id] = state
                        del table[dev_id]
            for dev_id, cfg in wanted.items():
                if dev_id in self.meters or dev_id in self.evses:
                    continue
                old = previous.get(dev_id)
                if cfg["kind"] == "meter":
                    meter = MeterState(cfg)
                    if isinstance(old, MeterState):
                        meter.last_ok = old.last_ok
                    meter.device = self._build(cfg, meter)
                    self.meters[dev_id] = meter
                else:
                    evse = EvseState(cfg)
                    if isinstance(old, EvseState):
                        evse = replace(
                            old,
                            config=cfg,
                            device=None,
                            reading=None,
                            online=False,
                            error=None,
                            pending=None,
                            answered_at=None,
                            asked_since=None,
                        )
                        evse.sent_at = -math.inf  # tell the new driver instance at once
                    evse.device = self._build(cfg, evse)
                    self.evses[dev_id] = evse

    def _build(self, cfg: dict[str, Any], state: MeterState | EvseState) -> Any:
        if not cfg.get("enabled", True):
            return None
        try:
            return self.build_device(cfg)
        except Exception as exc:  # a broken device must not stop the others
            state.error = f"cannot start driver: {exc}"
            log.warning("device %s: %s", cfg["id"], state.error)
            return None

    async def _close(self, device: Meter | Evse | None) -> None:
        if device is None:
            return
        try:
            await asyncio.wait_for(device.close(), 2.0)
        except Exception as exc:
            log.warning("closing device failed: %s", exc)

    async def deactivate(self, device_id: str) -> str:
        """Hand a wallbox back to its own control before it is disabled or deleted."""
        state = self.evses.get(device_id)
        if state is None or state.device is None:
            return "box not running"
        try:
            result = await asyncio.wait_for(state.device.deactivate(), 15.0)
        except TimeoutError:
            result = "box did not answer"
        except DeviceError as exc:
            result = str(exc)
        state.deactivation = result
        self.events("deactivated", f"{state.config['name']}: {result}", device=device_id)
        return result

    async def close(self) -> None:
        async with self._lock:
            for state in [*self.meters.values(), *self.evses.values()]:
                state.forget_read()
                await self._close(state.device)
                state.device = None

    # -- one cycle ---------------------------------------------------------------------
    async def cycle(self) -> dict[str, Any]:
        async with self._lock:
            t0 = time.perf_counter()
            now = self.clock()
            await self._read_all(now)
            self._update_safe_mode(now)
            self._observe(now)
            site, loads, overrides = self._model(now)
            t_alloc = time.perf_counter()
            allocation = allocate(site, loads)
            self.last_allocation_s = time.perf_counter() - t_alloc
            words = {k: english(r) for k, r in allocation.reasons.items()}
            self._decide(now, allocation.setpoints, words, overrides, site)
            await self._apply_all(now)
            self.cycles += 1
            snapshot = self._build_snapshot(site)
            self.last_cycle_s = time.perf_counter() - t0
            self.last_cycle_at = time.monotonic()
        self._snapshot = snapshot
        self._subs.publish(snapshot)
        for hook in self.on_cycle:
            hook(snapshot)
        return snapshot

    def _timeout(self) -> float:
        return max(0.3, min(2.0, self.settings.site.control_interval_s * 0.8))

    async def _read_all(self, now: float) -> None:
        """Read every device at once, waiting at most one budget for all of them.

        A read that takes longer is not cancelled (on a shared RS485 bus that would lose its
        place in the queue): it goes on, the loop works with the last reading, and takes the
        answer in a later cycle. A device is offline on an error, or when it has not answered
        for STALE_CYCLES cycles (at least STALE_MIN_S).
        """
        states: list[MeterState | EvseState] = [
            st for st in [*self.meters.values(), *self.evses.values()] if st.device is not None
        ]
        for st in states:
            if st.pending is None:
                assert st.device is not None
                st.pending = asyncio.create_task(st.device.read())
                if st.asked_since is None:
                    st.asked_since = now
        tasks = {st.pending for st in states if st.pending is not None}
        if tasks:
            await asyncio.wait(tasks, timeout=self._timeout())
        stale_s = max(STALE_MIN_S, STALE_CYCLES * self.settings.site.control_interval_s)
        for st in states:
            task = st.pending
            if task is None:
                continue
            if not task.done():
                since = st.answered_at if st.answered_at is not None else st.asked_since
                if since is not None and now - since > stale_s:
                    self._failed(st, f"no answer for {now - since:.0f} s")
                continue
            st.pending = None
            if task.cancelled():
                continue
            exc = task.exception()
            if exc is not None:
                st.asked_since = None
                self._failed(st, str(exc) or type(exc).__name__)
            else:
                self._answered(st, now, task.result())

    def _failed(self, st: MeterState | EvseState, error: str) -> None:
        if st.online or st.error != error:
            self.events("offline", f"{st.config['name']}: {error}", device=st.id)
        st.online, st.error = False, error

    def _answered(self, st: MeterState | EvseState, now: float, reading: Any) -> None:
        if not st.online and st.error is not None:
            self.events("online", f"{st.config['name']} answers again", device=st.id)
        st.online, st.error = True, None
        st.answered_at, st.asked_since = now, None
        st.reading = reading
        if isinstance(st, MeterState) and _phase_currents(reading) is not None:
            st.last_ok = now

    def grid_meter(self) -> MeterState | None:
        grids = [
            m
            for m in self.meters.values()
            if m.config.get("role") == "grid" and m.config.get("enabled", True)
        ]
        return min(grids, key=lambda m: m.id) if grids else None

    def _update_safe_mode(self, now: float) -> None:
        grid = self.grid_meter()
        reason = None
        if grid is not None:
            timeout = self.settings.site.meter_timeout_s
            if grid.last_ok is None:
                reason = f"no valid reading from grid meter {grid.config['name']} yet"
            elif now - grid.last_ok > timeout:
                reason = f"grid meter {grid.config['name']} silent for {now - grid.last_ok:.0f} s"
        if reason and not self.safe_mode:
            self.events(
                "safe_mode",
                f"safe mode: {reason}; wallboxes share {self.settings.site.safe_current_a:g} A",
            )
        elif not reason and self.safe_mode:
            self.events("safe_mode_end", "grid meter readings are back; safe mode ended")
        self.safe_mode, self.safe_reason = reason is not None, reason

    def _observe(self, now: float) -> None:
        """Learn from what the cars do: phases used, overdraw, taking less than offered."""
        for st in self.evses.values():
            r = st.reading
            if not st.online or r is None:
                continue
            st.last_measured = r.current_a
            wants = r.status in (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)
            self._track_session(st, wants, r)
            if not wants:
                st.car_phases, st.cap_a, st.less_since = None, None, None
                st.charging_since, st.waiting_since, st.paused_at = None, None, None
                continue
            top = max(r.current_a)
            if r.status is ChargeStatus.CHARGING and top >= PHASE_MIN_A:
                st.car_phases = frozenset(
                    p
                    for p in range(PHASES)
                    if r.current_a[p] >= max(PHASE_MIN_A, PHASE_SHARE * top)
                )
            over = top - st.commanded_a
            settled = now - st.decreased_at >= FOLLOW_S
            if settled and st.commanded_a > 0 and over > OVERDRAW_TOLERANCE_A:
                if now > st.overdraw_until:  # once per episode, not at every wobble
                    self.events(
                        "overdraw",
                        f"{st.config['name']} draws {top:.1f} A, offered {st.commanded_a:.1f} A",
                        device=st.id,
                    )
                st.overdraw_a = max(over, st.overdraw_a if now < st.overdraw_until else 0.0)
                st.overdraw_until = now + OVERDRAW_MEMORY_S
            elif now >= st.overdraw_until:
                st.overdraw_a = 0.0
            self._reclaim(now, st, top)

    def _track_session(self, st: EvseState, plugged: bool, r: EvseReading) -> None:
        """Sessions of boxes whose driver does not record them itself (all but OCPP)."""
        if self.sessions is None or getattr(st.device, "records_sessions", False):
            return
        if plugged and st.session_id is None:
            open_ = [s for s in self.sessions.open_sessions() if s.get("evse") == st.id]
            if open_:  # the manager restarted while the car stayed plugged in
                st.session_id = int(open_[-1]["id"])
                return
            st.session_id = self.sessions.start(
                st.id,
                1,
                r.user,
                _now_iso(),
                r.energy_wh,
                user=r.user,
                box=str(st.config.get("name", st.id)),
            )
        elif not plugged and st.session_id is not None:
            self.sessions.stop(st.session_id, _now_iso(), r.energy_wh, "EVDisconnected")
            st.session_id = None

    def _reclaim(self, now: float, st: EvseState, top: float) -> None:
        min_a = float(st.config.get("min_current_a", 6.0))
        if st.cap_a is not None and now >= st.cap_until:
            st.cap_a, st.less_since = None, None  # probe: offer everything again
            return
        if st.commanded_a >= min_a and top < st.commanded_a - RECLAIM_MARGIN_A:
            if st.less_since is None:
                st.less_since = now
            elif now - st.less_since >= RECLAIM_AFTER_S and st.cap_a is None:
                st.cap_a = max(min_a, math.ceil(top + 1.0))
                st.cap_until = now + PROBE_AFTER_S
                log.info("%s takes only %.1f A: offer capped at %.0f A", st.id, top, st.cap_a)
        else:
            st.less_since = None

    def _wait_key(self, now: float, st: EvseState) -> tuple[int, float, str]:
        rotation = self.settings.site.rotation_s
        if st.charging_since is not None:
            if now - st.charging_since < rotation:
                return (0, st.charging_since, st.id)
            return (1, st.charging_since + rotation, st.id)
        return (1, st.waiting_since if st.waiting_since is not None else now, st.id)

    def _model(self, now: float) -> tuple[Site, list[EvseLoad], dict[str, str]]:
        site_cfg = self.settings.site
        loads: list[EvseLoad] = []
        overrides: dict[str, str] = {}
        active = [st for st in self.evses.values() if st.enabled and st.device is not None]
        ranked = sorted((st for st in active if st.online), key=lambda st: self._wait_key(now, st))
        for rank, st in enumerate(ranked):
            cfg = st.config
            r = st.reading
            demand: float | None = st.cap_a
            held = self.reservations.holding(st.id, r.user if r is not None else None)
            if held is not None:
                demand, overrides[st.id] = 0.0, reserved_words(held)
            elif r is None or r.status is ChargeStatus.NO_CAR:
                demand, overrides[st.id] = 0.0, "no car"
            elif r.status is ChargeStatus.ERROR:
                demand, overrides[st.id] = 0.0, f"error: {r.detail or 'box reports a fault'}"
            elif st.paused_at is not None and now - st.paused_at < site_cfg.resume_delay_s:
                wait = site_cfg.resume_delay_s - (now - st.paused_at)
                demand = 0.0
                overrides[st.id] = f"paused: may resume in {wait:.0f} s (no on/off flapping)"
            loads.append(
                EvseLoad(
                    id=st.id,
                    circuit=str(cfg.get("circuit", ROOT_CIRCUIT)),
                    phases=int(cfg.get("phases", 3)),
                    rotation=str(cfg.get("phase_rotation", "L1L2L3")),
                    car_phases=st.car_phases,
                    min_current_a=float(cfg.get("min_current_a", 6.0)),
                    max_current_a=float(cfg.get("max_current_a", 16.0)),
                    demand_a=demand,
                    priority=int(cfg.get("priority", 1)),
                    resolution_a=float(getattr(st.device, "resolution_a", 0.1) or 0.1),
                    wait_rank=rank,
                )
            )
        base, root_uncontrolled = self._base_loads(now)
        circuits = to_circuits(site_cfg, self.circuits, base)
        if self.safe_mode:
            root = circuits[0]
            safe = type(root)(
                id=root.id,
                name=root.name,
                parent=None,
                max_current_a=site_cfg.safe_current_a,
                base_load_a=root_uncontrolled,
                max_unbalance_a=root.max_unbalance_a,
                unbalance_counts_base=False,
            )
            circuits = (safe, *circuits[1:])
        return (
            Site(circuits=circuits, nominal_voltage_v=site_cfg.nominal_voltage_v),
            loads,
            overrides,
        )

    def _base_loads(self, now: float) -> tuple[dict[str, Triple], Triple]:
        """Per circuit, the current not under ampshare's control (see DESIGN.md, Model).

        A metered circuit: its meter minus the online wallboxes below it. Without a meter: the
        sum of its sub-boards. Both plus what offline wallboxes are assumed to draw and any
        remembered overdraw. Also returns that assumed part alone for the root (safe mode).
        """
        parents = {c.id: c.parent for c in self.circuits}
        meter_of = {c.id: c.meter for c in self.circuits}
        grid = self.grid_meter()
        meter_of[ROOT_CIRCUIT] = grid.id if grid else None
        children: dict[str, list[str]] = {ROOT_CIRCUIT: []}
        for cid, parent in parents.items():
            children.setdefault(parent, []).append(cid)
            children.setdefault(cid, [])

        measured: dict[str, list[float]] = {cid: [0.0] * PHASES for cid in children}
        uncontrolled: dict[str, list[float]] = {cid: [0.0] * PHASES for cid in children}
        for st in self.evses.values():
            cid = str(st.config.get("circuit", ROOT_CIRCUIT))
            if cid not in children or not st.enabled or st.device is None:
                continue
            rot = ROTATIONS[str(st.config.get("phase_rotation", "L1L2L3"))]
            site_now = [0.0] * PHASES
            for p in range(PHASES):
                site_now[rot[p]] += st.last_measured[p]
            if st.online:
                for p in range(PHASES):
                    measured[cid][p] += site_now[p]
                extra = st.overdraw_a if now < st.overdraw_until else 0.0
                for p in st.site_phases():
                    uncontrolled[cid][p] += extra
            else:
                # offline: assume it still draws what it was last offered
                for p in range(PHASES):
                    measured[cid][p] += site_now[p]
                for p in st.site_phases():
                    uncontrolled[cid][p] += st.commanded_a

        base: dict[str, Triple] = {}

        def walk(cid: str) -> tuple[list[float], list[float]]:
            """Returns (measured wallbox current, uncontrolled extra) of the subtree."""
            sub_meas = list(measured[cid])
            sub_unc = list(uncontrolled[cid])
            child_base = [0.0] * PHASES
            for child in children.get(cid, []):
                m, u = walk(child)
                for p in range(PHASES):
                    sub_meas[p] += m[p]
                    sub_unc[p] += u[p]
                    child_base[p] += base[child][p]
            meter_id = meter_of.get(cid)
            reading = self.meters[meter_id].reading if meter_id in self.meters else None
            currents = _phase_currents(reading) if reading is not None else None
            if currents is not None and not (cid == ROOT_CIRCUIT and self.safe_mode):
                value = [currents[p] - sub_meas[p] + sub_unc[p] for p in range(PHASES)]
            else:
                value = [child_base[p] + uncontrolled[cid][p] for p in range(PHASES)]
            base[cid] = (value[0], value[1], value[2])
            return sub_meas, sub_unc

        _, root_unc = walk(ROOT_CIRCUIT)
        return base, (root_unc[0], root_unc[1], root_unc[2])

    def _decide(
        self,
        now: float,
        setpoints: Mapping[str, float],
        reasons: Mapping[str, str],
        overrides: Mapping[str, str],
        site: Site,
    ) -> None:
        for st in self.evses.values():
            if not st.enabled:
                st.target_a, st.reason = 0.0, "disabled"
                continue
            if st.device is None:
                st.target_a, st.reason = 0.0, st.error or "driver not running"
                continue
            if not st.online:
                st.target_a = st.commanded_a
                st.reason = f"offline: assumed to draw its last {st.commanded_a:g} A"
                continue
            target = float(setpoints.get(st.id, 0.0))
            reason = overrides.get(st.id) or reasons.get(st.id, "")
            if self.safe_mode:
                reason = f"safe mode ({self.safe_reason}): {reason}"
            elif st.cap_a is not None and target >= st.cap_a - 1e-9:
                reason = f"car takes less: offer capped at {st.cap_a:g} A"
            wants = st.reading is not None and st.reading.status in (
                ChargeStatus.CONNECTED,
                ChargeStatus.CHARGING,
            )
            if wants and target == 0 and st.waiting_since is None:
                st.waiting_since = now
            if target > 0:
                st.waiting_since = None
            if target != st.target_a or reason != st.reason:
                log.info("%s: %.1f A (%s)", st.id, target, reason)
            st.target_a, st.reason = target, reason

    def _following(self, now: float) -> list[EvseState]:
        """Boxes whose car has not yet come down to a recent cut."""
        return [
            st
            for st in self.evses.values()
            if st.online
            and now - st.decreased_at < FOLLOW_S
            and max(st.last_measured) > st.commanded_a + OVERDRAW_TOLERANCE_A
        ]

    async def _apply_all(self, now: float) -> None:
        # an increase waits until every cut has been followed, or a newcomer's first amperes
        # would meet the old draw of the car that is still slowing down
        following = self._following(now)
        jobs = []
        for st in self.evses.values():
            if st.device is None or not st.online or not st.enabled:
                continue
            setpoint = self._next_setpoint(now, st)
            if setpoint is None:
                continue
            if following and setpoint > st.commanded_a + 1e-9 and st not in following:
                names = ", ".join(str(f.config.get("name", f.id)) for f in following)
                st.reason = f"waiting for {names} to reduce ({st.reason})"
                continue
            jobs.append(self._apply(now, st, setpoint))
        if jobs:
            await asyncio.gather(*jobs)

    def _next_setpoint(self, now: float, st: EvseState) -> float | None:
        """Cuts at once; increases every few seconds in steps; small increases not at all."""
        target, current = st.target_a, st.commanded_a
        res = float(getattr(st.device, "resolution_a", 0.1) or 0.1)
        if target < current - 1e-9:
            return target
        if target > current + 1e-9:
            if now - st.increased_at < INCREASE_EVERY_S:
                return None
            if current > 0 and target - current < max(DEADBAND_A, res) - 1e-9:
                return self._refresh(now, st)
            step = target if current == 0 else min(target, current + RAMP_STEP_A)
            return math.floor(step / res + 1e-9) * res
        return self._refresh(now, st)

    def _refresh(self, now: float, st: EvseState) -> float | None:
        return st.commanded_a if now - st.sent_at >= REFRESH_S else None

    async def _apply(self, now: float, st: EvseState, setpoint: float) -> None:
        assert st.device is not None
        phases = int(st.config.get("phases", 3))
        try:
            await asyncio.wait_for(st.device.apply(round(setpoint, 3), phases), self._timeout())
        except (TimeoutError, DeviceError) as exc:
            st.error = str(exc) or "no answer while setting the current"
            log.warning("%s: setting %.1f A failed: %s", st.id, setpoint, st.error)
            return  # keep assuming the old offer
        if setpoint > st.commanded_a:
            st.increased_at = now
        elif setpoint < st.commanded_a:
            st.decreased_at = now
        if st.commanded_a > 0 and setpoint == 0:
            st.paused_at = now
            st.charging_since = None
        if st.commanded_a == 0 and setpoint > 0:
            st.charging_since = now
            st.paused_at = None
        st.commanded_a = setpoint
        st.sent_at = now
        if setpoint < st.target_a - 1e-9:
            st.reason = f"ramping up to {st.target_a:g} A ({st.reason})"

    # -- publish -------------------------------------------------------------------------
    def _build_snapshot(self, site: Site) -> dict[str, Any]:
        grid = self.grid_meter()
        grid_reading = grid.reading if grid and grid.online else None
        grid_a = _phase_currents(grid_reading) if grid_reading else None
        pv_w = 0.0
        for m in self.meters.values():
            if m.config.get("role") == "pv" and m.online and m.reading is not None:
                pv_w += abs(m.reading.total_power_w or 0.0)
        root = site.circuits[0]
        self._check_overload(self.clock(), root.max_current_a, grid_a)
        evses = []
        for st in sorted(self.evses.values(), key=lambda s: str(s.config.get("name", s.id))):
            r = st.reading if st.online else None
            evses.append(
                {
                    "id": st.id,
                    "name": st.config.get("name", st.id),
                    "driver": st.config.get("driver"),
                    "enabled": st.enabled,
                    "online": st.online,
                    "status": _status_word(st),
                    "current_a": list(r.current_a) if r else [0.0, 0.0, 0.0],
                    # a disabled box is not ours to command: no setpoint to show
                    "setpoint_a": round(st.commanded_a, 2) if st.enabled else 0.0,
                    "target_a": round(st.target_a, 2),
                    "reason": st.reason,
                    "power_w": r.power_w if r else 0.0,
                    "session_wh": r.session_wh if r else 0.0,
                    "user": r.user if r else None,
                    "detail": (r.detail if r else None) or st.error,
                    "circuit": st.config.get("circuit", ROOT_CIRCUIT),
                    "phases": st.config.get("phases", 3),
                    "phases_used": sorted(st.site_phases()) if st.car_phases else None,
                    "priority": st.config.get("priority", 1),
                    "max_current_a": st.config.get("max_current_a"),
                    "deactivation": st.deactivation,
                }
            )
        meters = []
        for m in sorted(self.meters.values(), key=lambda s: str(s.config.get("name", s.id))):
            r = m.reading if m.online else None
            cur = _phase_currents(r) if r else None
            meters.append(
                {
                    "id": m.id,
                    "name": m.config.get("name", m.id),
                    "driver": m.config.get("driver"),
                    "role": m.config.get("role"),
                    "enabled": m.config.get("enabled", True),
                    "online": m.online,
                    "current_a": [round(c, 2) for c in cur] if cur else [None, None, None],
                    "voltage_v": list(r.voltage_v) if r else [None, None, None],
                    "power_w": r.total_power_w if r else None,
                    "energy_wh": r.energy_import_wh if r else None,
                    "error": m.error,
                }
            )
        circuits = [
            {
                "id": c.id,
                "name": c.name,
                "parent": c.parent,
                "max_current_a": c.max_current_a,
                "base_load_a": [round(x, 2) for x in c.base_load_a],
            }
            for c in site.circuits
        ]
        charge_w = sum(e["power_w"] or 0.0 for e in evses)
        snapshot = {
            "ts": _now_iso(),
            "site": {
                "limit_a": [self.settings.site.max_current_a] * PHASES,
                "grid_a": [round(c, 2) for c in grid_a] if grid_a else [None, None, None],
                "grid_w": grid_reading.total_power_w if grid_reading else None,
                "pv_w": round(pv_w, 1),
                "charge_w": round(charge_w, 1),
                "reserve_a": self.settings.site.reserve_a,
                "safe_mode": self.safe_mode,
                "safe_reason": self.safe_reason,
                "safe_current_a": self.settings.site.safe_current_a,
            },
            "evses": evses,
            "meters": meters,
            "circuits": circuits,
        }
        snapshot.update(self.extra_state())
        return snapshot

    def _check_overload(self, now: float, limit: float, grid_a: Triple | None) -> None:
        """An event when a phase stays above the fuse longer than cars need to follow a cut."""
        if grid_a is None:
            return
        for p in range(PHASES):
            key = phase_name(p)
            if grid_a[p] <= limit + 0.5:
                self._overloaded.pop(key, None)
                continue
            since = self._overloaded.setdefault(key, now)
            if since is not None and now - since >= FOLLOW_S:
                self._overloaded[key] = None  # reported; once per episode
                self.events(
                    "overload",
                    f"grid {key} at {grid_a[p]:.1f} A > {limit:g} A for {now - since:.0f} s",
                )

    def snapshot(self) -> dict[str, Any]:
        return self._snapshot

    async def subscribe(self) -> AsyncIterator[dict[str, Any]]:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=2)
        self._subs.queues.add(queue)
        try:
            if self._snapshot:
                yield self._snapshot
            while True:
                yield await queue.get()
        finally:
            self._subs.queues.discard(queue)


def _phase_currents(reading: MeterReading | None) -> Triple | None:
    """Signed current per phase, from current or else from power; None if any phase is missing."""
    if reading is None:
        return None
    out: list[float] = []
    for p in range(PHASES):
        c = reading.current_a[p]
        if c is None:
            w, v = reading.power_w[p], reading.voltage_v[p]
            if w is None:
                return None
            c = w / (v if v else 230.0)
        if math.isnan(c):
            return None
        out.append(c)
    return (out[0], out[1], out[2])


def _status_word(st: EvseState) -> str:
    if not st.enabled:
        return "disabled"
    if st.device is None or not st.online:
        return "offline"
    r = st.reading
    if r is None:
        return "offline"
    if r.status is ChargeStatus.ERROR:
        return "error"
    if r.status is ChargeStatus.NO_CAR:
        return "no_car"
    if r.status is ChargeStatus.CHARGING:
        return "charging"
    if st.commanded_a == 0 and st.target_a == 0:
        return "paused"
    return "connected"
