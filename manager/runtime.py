"""What the control loop knows of each device between cycles, and the timing shared by its parts.

A device's configuration arrives as the stored dict (the driver needs all of it); the loop reads
the common fields through the typed `EvseConfig`/`MeterConfig` built from it once.
"""

from __future__ import annotations

import asyncio
import math
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from manager.config import EvseConfig, MeterConfig
from manager.model import (
    PHASES,
    ZERO3,
    Evse,
    EvseLoad,
    EvseReading,
    Meter,
    MeterReading,
    Reason,
    Stepped,
    Triple,
)

#: a car drawing this much more than offered is overdrawing (A)
OVERDRAW_TOLERANCE_A = 1.0
#: an EV may take this long to follow a lower offer (IEC 61851 ~6 s; EVerest allows 7 s)
FOLLOW_S = 10.0

#: the reason of a wallbox before its first cycle (a frozen value, safe to share)
STARTING = Reason("starting")


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class DeviceRuntime:
    """One device; a read that outlasts a cycle goes on in `pending`."""

    config: dict[str, Any]
    online: bool = False
    error: str | None = None
    error_reason: Reason | None = None  # the error as data, when the driver gave one
    #: why the driver could not be built (the driver's own words), shown as the reason
    build_error: str | None = None
    pending: asyncio.Task[Any] | None = None
    answered_at: float | None = None
    asked_since: float | None = None

    @property
    def id(self) -> str:
        return str(self.config["id"])

    @property
    def name(self) -> str:
        return str(self.config.get("name", self.id))

    def forget_read(self) -> None:
        if self.pending is not None:
            self.pending.cancel()
            self.pending = None


@dataclass
class MeterRuntime(DeviceRuntime):
    device: Meter | None = None
    reading: MeterReading | None = None
    last_ok: float | None = None
    spec: MeterConfig = field(init=False)

    def __post_init__(self) -> None:
        self.spec = MeterConfig.model_validate(self.config)


@dataclass
class EvseRuntime(DeviceRuntime):
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
    #: the most the box counted for the open session (Wh), for boxes without a register
    session_wh: float = 0.0
    #: the tag the open session is recorded with (a reader's card may come after the plug)
    session_tag: str | None = None
    target_a: float = 0.0
    #: the target last written to the log (small ripples are not logged)
    logged_a: float = 0.0
    #: the reason last written to the log, without its counters
    logged_why: tuple[object, ...] = ()
    #: why the last setpoint write failed (logged once until it works again)
    apply_failed: str | None = None
    reason: Reason = STARTING
    deactivation: Reason | None = None
    deactivated_at: float | None = None  # wall clock, for "when it happened"
    #: phases it charges on now (a box that switches 1p/3p; None: its wiring)
    phases_active: int | None = None
    spec: EvseConfig = field(init=False)

    def __post_init__(self) -> None:
        self.spec = EvseConfig.model_validate(self.config)

    @property
    def enabled(self) -> bool:
        return self.spec.enabled

    def load(self, **values: Any) -> EvseLoad:
        """The wallbox as the allocator sees it, with `values` (demand, rank, a user's priority...)
        filled in or replaced."""
        cfg = self.spec
        fields: dict[str, Any] = {
            "circuit": cfg.circuit,
            "phases": self.phases_active or cfg.phases,
            "rotation": cfg.phase_rotation,
            "car_phases": self.car_phases,
            "min_current_a": cfg.min_current_a,
            "max_current_a": cfg.max_current_a,
            "priority": cfg.priority,
        }
        return EvseLoad(id=self.id, **(fields | values))

    def site_phases(self) -> tuple[int, ...]:
        return self.load().site_phases()


def resolution_of(device: object) -> float:
    """A wallbox's setpoint step (A); 0.1 A when it does not say."""
    if isinstance(device, Stepped) and device.resolution_a > 0:
        return float(device.resolution_a)
    return 0.1


def phase_currents(reading: MeterReading | None) -> Triple | None:
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
