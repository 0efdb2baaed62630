"""The control loop: read every device, decide, apply, publish — once per interval.

The allocator decides what is safe and fair right now; the loop adds what depends on time, each
part in its own module (docs/architecture.md walks through one cycle):
- manager/readings.py: reads, online/offline, the grid meter's health (safe mode);
- manager/observe.py: what the cars do (phases used, overdraw, taking less, sessions);
- manager/loads.py: the allocator's question (demands, slot order, base loads, safe mode);
- manager/setpoints.py: targets and reasons, the ramp, the dead-band, following cuts;
- manager/snapshot.py: the typed state it publishes.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any

from manager import backend, setpoints
from manager.allocation import allocate
from manager.authorize import Authorizer, limiting
from manager.config import CircuitConfig, EvseConfig, Settings
from manager.loads import build_model
from manager.model import (
    BillingGateways,
    Deactivatable,
    DeviceError,
    EventSink,
    Evse,
    Meter,
    Reason,
)
from manager.observe import (
    OVERDRAW_MEMORY_S,
    PHASE_MIN_A,
    PHASE_SHARE,
    PROBE_AFTER_S,
    RECLAIM_AFTER_S,
    RECLAIM_MARGIN_A,
    Observer,
    SessionLog,
)
from manager.readings import STALE_CYCLES, STALE_MIN_S, Reader, grid_meter, safe_mode_reason
from manager.reservations import Reservations
from manager.runtime import (
    FOLLOW_S,
    OVERDRAW_TOLERANCE_A,
    EvseRuntime,
    MeterRuntime,
    phase_currents,
)
from manager.setpoints import DEADBAND_A, INCREASE_EVERY_S, RAMP_STEP_A, REFRESH_S
from manager.site_rules import SiteRules, UserLookup
from manager.snapshot import ChargePoints, Inputs, OverloadWatch, Subscribers, build_state
from manager.solar import Solar
from manager.state import State
from manager.user_modes import user_modes

__all__ = [
    "DEADBAND_A",
    "FOLLOW_S",
    "INCREASE_EVERY_S",
    "OVERDRAW_MEMORY_S",
    "OVERDRAW_TOLERANCE_A",
    "PHASE_MIN_A",
    "PHASE_SHARE",
    "PROBE_AFTER_S",
    "RAMP_STEP_A",
    "RECLAIM_AFTER_S",
    "RECLAIM_MARGIN_A",
    "REFRESH_S",
    "STALE_CYCLES",
    "STALE_MIN_S",
    "ControlLoop",
    "SessionLog",
]

log = logging.getLogger("ampshare.control")

BuildDevice = Callable[[dict[str, Any]], Meter | Evse]
Runtime = MeterRuntime | EvseRuntime


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
        self.meters: dict[str, MeterRuntime] = {}
        self.evses: dict[str, EvseRuntime] = {}
        self.safe_reason: Reason | None = None
        self.started = clock()
        self._reader = Reader(events)
        self.observer = Observer(events, sessions)
        self._overload = OverloadWatch(events)
        #: the charging modes: surplus, start/stop delays, 1p/3p switching
        self.solar = Solar(events)
        self._snapshot = State()
        self._subs = Subscribers()
        self._lock = asyncio.Lock()
        self.cycles = 0
        #: OCPP charge points seen, for the snapshot (set by the composition root)
        self.charge_points: ChargePoints = list
        self.on_cycle: list[Callable[[State], None]] = []
        #: how long the last cycle and its allocation took (s), and when it ended (monotonic)
        self.last_cycle_s = 0.0
        self.last_allocation_s = 0.0
        self.last_cycle_at: float | None = None
        #: reserved boxes are kept free (demand 0) until their user comes
        self.reservations = Reservations()
        #: the gateways to billing backends (wired by the composition root; None: none)
        self.gateways: BillingGateways | None = None
        #: who may charge where (manager.authorize; wired by the composition root)
        self.authorizer: Authorizer | None = None
        #: schedules, prices, plans and the external limit (manager/site_rules.py)
        self.rules = SiteRules(events=events)
        #: the wall clock the rules read (schedules, prices, plans and limits are dated)
        self.wall: Callable[[], float] = time.time

    @property
    def users(self) -> UserLookup | None:
        """Who charges at a box and the mode they allow (the users' settings)."""
        return user_modes(self.authorizer) if self.authorizer is not None else None

    @property
    def safe_mode(self) -> bool:
        return self.safe_reason is not None

    # -- configuration -----------------------------------------------------------------
    def set_settings(self, settings: Settings) -> None:
        self.settings = settings

    def set_circuits(self, circuits: list[CircuitConfig]) -> None:
        self.circuits = list(circuits)

    async def set_devices(self, configs: list[dict[str, Any]]) -> None:
        """Build new and changed devices, close removed ones. Never blocks on a dead device."""
        async with self._lock:
            wanted = {str(c["id"]): dict(c) for c in configs}
            previous = await self._drop_changed(wanted)
            for dev_id, cfg in wanted.items():
                if dev_id not in self.meters and dev_id not in self.evses:
                    self._add(cfg, previous.get(dev_id))
            if self.gateways is not None:
                await self.gateways.configure(list(wanted.values()))

    async def _drop_changed(self, wanted: dict[str, dict[str, Any]]) -> dict[str, Runtime]:
        """Close devices removed or edited; returns the edited ones to learn from."""
        previous: dict[str, Runtime] = {}
        tables: tuple[dict[str, Any], ...] = (self.meters, self.evses)
        for table in tables:
            for dev_id in list(table):
                state = table[dev_id]
                if isinstance(state, EvseRuntime) and _mode_edit(state, wanted.get(dev_id)):
                    continue  # a mode switch: the driver stays as it is
                if wanted.get(dev_id) != state.config:
                    state.forget_read()
                    await self._close(state.device)
                    previous[dev_id] = state
                    del table[dev_id]
        return previous

    def _add(self, cfg: dict[str, Any], old: Runtime | None) -> None:
        """An edited device keeps what was learned: a meter's last good reading (an edit is not
        a lost meter), a box's last offer (it may still draw it) and its car."""
        if cfg["kind"] == "meter":
            meter = MeterRuntime(cfg)
            if isinstance(old, MeterRuntime):
                meter.last_ok = old.last_ok
            meter.device = self._build(cfg, meter)
            self.meters[meter.id] = meter
            return
        evse = EvseRuntime(cfg)
        if isinstance(old, EvseRuntime):
            evse = replace(
                old,
                config=cfg,
                device=None,
                reading=None,
                online=False,
                error=None,
                build_error=None,
                pending=None,
                answered_at=None,
                asked_since=None,
            )
            evse.sent_at = -math.inf  # tell the new driver instance at once
        evse.device = self._build(cfg, evse)
        self.evses[evse.id] = evse

    def _build(self, cfg: dict[str, Any], state: Runtime) -> Any:
        if not state.spec.enabled:
            return None
        try:
            return self.build_device(cfg)
        except Exception as exc:  # a broken device must not stop the others
            state.build_error = str(exc) or type(exc).__name__
            state.error = f"cannot start driver: {state.build_error}"
            log.warning("device %s: %s", cfg["id"], state.error)
            return None

    async def _close(self, device: Meter | Evse | None) -> None:
        if device is None:
            return
        try:
            await asyncio.wait_for(device.close(), 2.0)
        except Exception as exc:
            log.warning("closing device failed: %s", exc)

    async def deactivate(self, device_id: str) -> Reason:
        """Hand a wallbox back to its own control before it is disabled or deleted."""
        state = self.evses.get(device_id)
        if state is None or not isinstance(state.device, Deactivatable):
            return Reason("box_not_running")
        try:
            result = await asyncio.wait_for(state.device.deactivate(), 15.0)
        except TimeoutError:
            result = Reason("box_no_answer")
        except DeviceError as exc:
            result = Reason("device_error", {"error": str(exc)})
        state.deactivation = result
        self.events(
            "deactivated",
            f"{state.name} handed back to its own control ({result})",
            device=device_id,
        )
        return result

    async def close(self) -> None:
        async with self._lock:
            for state in [*self.meters.values(), *self.evses.values()]:
                state.forget_read()
                await self._close(state.device)
                state.device = None

    # -- one cycle ---------------------------------------------------------------------
    async def cycle(self) -> State:
        async with self._lock:
            t0 = time.perf_counter()
            now = self.clock()
            interval = self.settings.site.control_interval_s
            devices: list[Runtime] = [*self.meters.values(), *self.evses.values()]
            await self._reader.read_all(devices, now, self._timeout(), interval)
            self._update_safe_mode(now)
            evses = list(self.evses.values())
            self.observer.observe(now, evses)
            backend.feed(self.gateways, evses)
            wall = self.wall()
            self.rules.decide(evses, self.settings, wall, self.users)  # modes in force
            grid = self.grid_meter()
            plan = self.solar.plan(
                now, self.settings.site, evses, grid, self.meters.values(), self.rules.mode_of
            )
            model = build_model(
                now,
                self.settings,
                self.circuits,
                evses,
                self.meters,
                grid,
                self.safe_mode,
                self.reservations,
                self.gateways,
                self.authorizer,
                plan,
            )
            model = self.rules.apply(model, self.settings, wall)
            t_alloc = time.perf_counter()
            allocation = allocate(model.site, model.loads)
            self.last_allocation_s = time.perf_counter() - t_alloc
            reasons = {**allocation.reasons, **model.overrides}
            for box_id, note in plan.notes.items():  # a stop countdown while it charges
                if allocation.setpoints.get(box_id, 0.0) > 0:
                    reasons[box_id] = note
            capped = backend.reasons(self.gateways, evses, allocation.setpoints, model.overrides)
            skip = model.overrides.keys() | capped.keys()
            capped |= limiting(model.user_caps, allocation.setpoints, skip)
            setpoints.decide(now, evses, allocation.setpoints, reasons, self.safe_reason, capped)
            await setpoints.apply_all(now, evses, self._timeout())
            self.cycles += 1
            snapshot = self._publish(model.site, grid)
            self.last_cycle_s = time.perf_counter() - t0
            self.last_cycle_at = time.monotonic()
        self._snapshot = snapshot
        self._subs.publish(snapshot)
        for hook in self.on_cycle:
            hook(snapshot)
        return snapshot

    def _publish(self, site: Any, grid: MeterRuntime | None) -> State:
        reading = grid.reading if grid and grid.online else None
        grid_a = phase_currents(reading) if reading else None
        self._overload.check(self.clock(), site.circuits[0].max_current_a, grid_a)
        inputs = Inputs(
            settings=self.settings,
            site=site,
            evses=self.evses.values(),
            meters=self.meters.values(),
            grid=grid,
            safe_reason=self.safe_reason,
            charge_points=self.charge_points(),
            gateways=self.gateways,
            solar=self.solar,
        )
        return self.rules.annotate(build_state(inputs), self.wall())

    def _timeout(self) -> float:
        return max(0.3, min(2.0, self.settings.site.control_interval_s * 0.8))

    def grid_meter(self) -> MeterRuntime | None:
        return grid_meter(self.meters.values())

    def _update_safe_mode(self, now: float) -> None:
        timeout = self.settings.site.meter_timeout_s
        reason = safe_mode_reason(self.grid_meter(), now, timeout)
        if reason and not self.safe_mode:
            share = self.settings.site.safe_current_a
            self.events(
                "safe_mode", f"safe mode: {_event_words(reason)}; wallboxes share {share:g} A"
            )
        elif not reason and self.safe_mode:
            self.events("safe_mode_end", "grid meter readings are back; safe mode ended")
        self.safe_reason = reason

    # -- publish -------------------------------------------------------------------------
    def snapshot(self) -> State:
        return self._snapshot

    async def subscribe(self) -> AsyncIterator[State]:
        queue: asyncio.Queue[State] = asyncio.Queue(maxsize=2)
        self._subs.queues.add(queue)
        try:
            if self._snapshot.ts is not None:
                yield self._snapshot
            while True:
                yield await queue.get()
        finally:
            self._subs.queues.discard(queue)


#: fields a box takes over at once, without rebuilding its driver (the tile's mode switch)
LIVE_FIELDS = frozenset({"charge_mode", "phase_switching"})


def _mode_edit(state: EvseRuntime, new: dict[str, Any] | None) -> bool:
    """Takes over an edit of only the live fields; False for any other change."""
    if new is None or new == state.config:
        return False
    keys = set(new) | set(state.config)
    if any(new.get(k) != state.config.get(k) for k in keys - LIVE_FIELDS):
        return False
    state.config = new
    state.spec = EvseConfig.model_validate(new)
    return True


def _event_words(reason: Reason) -> str:
    """The event log's (English) words for why safe mode began; the page words the reason."""
    meter = reason.params.get("meter", "?")
    if reason.code == "meter_silent":
        return f"grid meter {meter} silent for {reason.params.get('seconds', '?')} s"
    return f"no valid reading from grid meter {meter} yet"
