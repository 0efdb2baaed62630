"""Domain model shared by the allocator, the control loop and the device drivers.

Pure data and small interfaces: no I/O, nothing of the project imported but its second file
manager/model_ocpp.py, so the allocator can be tested in microseconds and drivers depend on
nothing but the model.

Phases are indexed 0, 1, 2 (L1, L2, L3). "Box phases" are the terminals of a wallbox; "site
phases" are the phases of the house. A phase rotation maps the one onto the other.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

# the gateways' and the station management's contracts live beside (re-exported here)
from manager.model_ocpp import BackendCap as BackendCap
from manager.model_ocpp import BillingGateways as BillingGateways
from manager.model_ocpp import BoxObservation as BoxObservation
from manager.model_ocpp import OcppHooks as OcppHooks
from manager.model_ocpp import StationActions as StationActions
from manager.model_ocpp import StationInputError as StationInputError
from manager.model_ocpp import StationOffline as StationOffline
from manager.model_ocpp import StationTimeout as StationTimeout

PHASES = 3
Triple = tuple[float, float, float]
ZERO3: Triple = (0.0, 0.0, 0.0)

#: rotation name -> site phase of box phase L1, L2, L3
ROTATIONS: Mapping[str, tuple[int, int, int]] = {
    "L1L2L3": (0, 1, 2),
    "L2L3L1": (1, 2, 0),
    "L3L1L2": (2, 0, 1),
    "L1L3L2": (0, 2, 1),
    "L3L2L1": (2, 1, 0),
    "L2L1L3": (1, 0, 2),
}


def phase_name(phase: int) -> str:
    return f"L{phase + 1}"


# --------------------------------------------------------------------------------------------
# Allocator input and output
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Circuit:
    """A fuse: the grid connection (parent None) or a sub-distribution board.

    `base_load_a` is what flows through this circuit that ampshare does not control (its meter
    reading minus the wallboxes below it; 0 without a meter). Negative values (PV export) are
    allowed and give room.
    """

    id: str
    name: str
    parent: str | None
    max_current_a: float
    max_power_w: float | None = None
    reserve_a: float = 0.0
    base_load_a: Triple = ZERO3
    max_unbalance_a: float | None = None
    unbalance_counts_base: bool = True


@dataclass(frozen=True, slots=True)
class Budget:
    """An extra limit over a set of wallboxes that need not follow the circuit tree.

    A PV surplus shared by some boxes, an external power cap over a circuit, a backend's cap on
    one box: each is a Budget. `max_current_a` limits, per site phase, the summed current of the
    listed boxes that load that phase; `max_power_w` limits their summed power at the site's
    nominal voltage (a box counts its current once per site phase it loads). `reason` is what a
    box stopped by this budget shows (its code names the kind of rule, e.g. `pv_budget`).
    """

    reason: Reason
    boxes: tuple[str, ...]
    max_current_a: float | None = None
    max_power_w: float | None = None


@dataclass(frozen=True, slots=True)
class Site:
    circuits: tuple[Circuit, ...]
    nominal_voltage_v: float = 230.0
    #: limits over sets of boxes beside the circuit tree (solar modes, external caps)
    budgets: tuple[Budget, ...] = ()


@dataclass(frozen=True, slots=True)
class EvseLoad:
    """What one wallbox could take, as the allocator sees it.

    `car_phases` are the box phases the car draws on (detected from measured currents); None
    means unknown, which counts on every wired phase. `demand_a` is a cap from rules or from what
    the car takes; 0 means it must not charge, None means no cap. `wait_rank` orders wallboxes
    that compete for a slot when not all can get their min current: lower waited longer.
    """

    id: str
    circuit: str
    phases: int = 3
    rotation: str = "L1L2L3"
    car_phases: frozenset[int] | None = None
    min_current_a: float = 6.0
    max_current_a: float = 16.0
    demand_a: float | None = None
    priority: int = 1
    resolution_a: float = 0.1
    wait_rank: int = 0

    def site_phases(self) -> tuple[int, ...]:
        """Site phases this wallbox loads with every ampere it gets (sorted, no duplicates)."""
        rot = ROTATIONS[self.rotation]
        wired = range(1 if self.phases == 1 else PHASES)
        box = [p for p in wired if self.car_phases is None or p in self.car_phases]
        if not box:  # car phases outside the wiring: trust the wiring
            box = list(wired)
        return tuple(sorted({rot[p] for p in box}))


ReasonParam = str | int | float


@dataclass(frozen=True, slots=True)
class Reason:
    """Why a wallbox got its setpoint: a code plus parameters, worded only at the edge.

    Codes the allocator gives (params in brackets; `circuit` is the circuit id, `circuit_name`
    its name, `phase` a site phase name "L1".."L3", amounts in A):
    - `at_max` [amps], `demand_cap` [amps]: the box is at its own cap;
    - `circuit_limit` [circuit, circuit_name, phase], `power_limit` [circuit, circuit_name],
      `unbalance_limit` [circuit, circuit_name]: that limit stops the box;
    - `waiting_slot` and `priority`, each with the full limit as `cause`: no slot for its min,
      or a higher priority took the room;
    - `no_demand`; `below_min` [demand, min]; `min_above_max` [min, step, max];
    - `base_overload` [circuit, circuit_name, phase], `base_power` [circuit, circuit_name],
      `base_unbalance` [circuit, circuit_name]: the load ampshare does not control already
      breaks that limit, so the boxes below it are paused;
    - a `Budget`'s own reason (its code chosen by the rule that sets it) where that budget
      stops the box.
    `cause` nests a reason (for example safe mode around the allocator's reason).

    The control loop, the site's safe mode, deactivation and a box's detail add their own codes,
    listed with their params in docs/architecture.md (Reasons are data).
    Names (`meter`, `names`, `circuit_name`) are as the user typed them.
    """

    code: str
    params: Mapping[str, ReasonParam] = field(default_factory=dict)
    cause: Reason | None = None

    def __hash__(self) -> int:
        return hash((self.code, tuple(sorted(self.params.items())), self.cause))

    def data(self) -> dict[str, object]:
        """The JSON form: `code`, `params` and, if there is one, the nested `cause`."""
        out: dict[str, object] = {"code": self.code, "params": dict(self.params)}
        if self.cause is not None:
            out["cause"] = self.cause.data()
        return out

    def __str__(self) -> str:
        """For logs and events only (`code(k=v) <- cause`); people read the web's wording."""
        args = ", ".join(
            f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.params.items()
        )
        head = f"{self.code}({args})" if args else self.code
        return f"{head} <- {self.cause}" if self.cause is not None else head


@dataclass(frozen=True, slots=True)
class Allocation:
    """Setpoints in A (0 = paused) and, per wallbox, why it got that."""

    setpoints: Mapping[str, float]
    reasons: Mapping[str, Reason]


# --------------------------------------------------------------------------------------------
# Devices
# --------------------------------------------------------------------------------------------


class DeviceError(Exception):
    """A device could not be read or written; the message is shown to the operator as is."""


class ChargeStatus(StrEnum):
    """IEC 61851 states as a person names them."""

    NO_CAR = "no_car"  # A
    CONNECTED = "connected"  # B: car plugged in, not drawing
    CHARGING = "charging"  # C/D
    ERROR = "error"  # E/F, or a fault reported by the box


class MeterRole(StrEnum):
    GRID = "grid"
    PV = "pv"
    BATTERY = "battery"
    CONSUMER = "consumer"
    EVSE = "evse"


Optional3 = tuple[float | None, float | None, float | None]
NONE3: Optional3 = (None, None, None)


@dataclass(frozen=True, slots=True)
class MeterReading:
    """SI units. Per-phase current carries the sign of that phase's power (export < 0).

    None means the device gave no value (a "no value" marker or NaN), never 0.
    """

    current_a: Optional3 = NONE3
    voltage_v: Optional3 = NONE3
    power_w: Optional3 = NONE3
    total_power_w: float | None = None
    energy_import_wh: float | None = None
    energy_export_wh: float | None = None
    #: state of charge of a home battery (meter role `battery`), percent
    soc_pct: float | None = None


@dataclass(frozen=True, slots=True)
class EvseReading:
    """Per-phase currents are on the box's terminals (box phases), not site phases."""

    status: ChargeStatus
    current_a: Triple = ZERO3
    voltage_v: Optional3 = NONE3
    power_w: float = 0.0
    session_wh: float = 0.0
    energy_wh: float | None = None
    user: str | None = None
    #: what the box reports that an operator should see: a Reason (`not_under_control`,
    #: `profile_rejected`, `box_reports`...), worded at the web edge, or the box's own words
    detail: Reason | str | None = None


@runtime_checkable
class Meter(Protocol):
    async def read(self) -> MeterReading: ...

    async def close(self) -> None: ...


@runtime_checkable
class Evse(Protocol):
    """A wallbox: what every driver offers. Optional capabilities are the protocols below,
    checked with isinstance (in the style of evcc's api.PhaseSwitcher), never by getattr."""

    async def read(self) -> EvseReading: ...

    async def apply(self, setpoint_a: float, phases: int) -> None:
        """Offer `setpoint_a` (0 = pause) on `phases` phases; raises DeviceError.

        A box that can switch between 1 and 3 phases does so itself when `phases` differs from
        what it is switched to; the others charge on their wiring.
        """
        ...

    async def close(self) -> None: ...


@runtime_checkable
class Stepped(Protocol):
    """Accepts setpoints only in steps: 0.1 A for OCPP, 1 A for many Modbus boxes.

    A wallbox without it is taken to accept 0.1 A steps.
    """

    resolution_a: float


@runtime_checkable
class Deactivatable(Protocol):
    """Can be handed back to its own control before ampshare lets go of it."""

    async def deactivate(self) -> Reason:
        """Clear profiles, set a safe current...; says how it went (codes at `Reason`)."""
        ...


@runtime_checkable
class RecordsSessions(Protocol):
    """Records its charging sessions itself, with the RFID tag (OCPP transactions).

    The control loop records sessions only for wallboxes without it.
    """

    records_sessions: bool


@runtime_checkable
class ReadsTags(Protocol):
    """Has an RFID reader whose tag each reading carries in `EvseReading.user` (a Modbus box
    whose register map shows the card of the session, the simulated box).

    The control loop hands only these boxes' tags to authorization and teach-in; OCPP boxes
    ask by themselves. `reads_tags` is False where the driver is set not to read them.
    """

    reads_tags: bool


@dataclass(frozen=True, slots=True)
class DeviceSpec:
    """A configured device as a driver factory receives it (already validated)."""

    id: str
    name: str
    kind: str  # "meter" | "evse"
    driver: str
    address: str = ""
    options: Mapping[str, object] = field(default_factory=dict)


class EventSink(Protocol):
    """Where drivers and the manager report what an operator should see on the events page.

    `kind` is a short machine word ("overload", "safe_mode", "offline", "online",
    "profile_rejected", "profiles_cleared", "charge_point_connected", ...); `message` is the
    sentence shown; `device` the device id or ChargeBox ID it concerns.
    """

    def __call__(self, kind: str, message: str, *, device: str | None = None) -> None: ...


# --------------------------------------------------------------------------------------------
# OCPP: what the OCPP server needs from the manager (implemented by the composition root)
# --------------------------------------------------------------------------------------------


class SessionRecorder(Protocol):
    """Stores charging sessions (transactions); generic, so non-OCPP wallboxes can use it too.

    Times are ISO 8601 strings with an offset (UTC "Z" or "+00:00"). `start` is idempotent
    for a resent start: the same `key` (or, without one, the same evse, connector, id tag,
    start time and meter start) gives the same id and never a second session. `stop` on an
    already stopped session changes nothing and returns the stored session.
    """

    def start(
        self,
        evse: str,
        connector: int,
        id_tag: str | None,
        started_at: str,
        meter_start_wh: float | None,
        *,
        key: str | None = None,
        user: str | None = None,
        box: str | None = None,
        method: str | None = None,
        result: str | None = None,
    ) -> int: ...

    def stop(
        self,
        transaction_id: int,
        stopped_at: str,
        meter_stop_wh: float | None,
        reason: str | None = None,
        signed_data: list[object] | None = None,
        *,
        meter_start_wh: float | None = None,
    ) -> Mapping[str, object] | None: ...

    def find(self, key: str) -> int | None:
        """Id of the session started with `key`, if any (e.g. a 2.0.1 transaction id)."""
        ...

    def open_sessions(self) -> list[dict[str, Any]]:
        """Sessions started and not stopped (a restarted manager resumes them)."""
        ...

    def annotate(self, transaction_id: int, fields: Mapping[str, Any]) -> None:
        """Store more about a session (e.g. its `cost`); unknown ids are ignored."""
        ...
