"""What every Modbus wallbox driver shares: options, the safety-net set-up and session energy.

The safety net is what keeps a site safe when ampshare dies: each driver writes its box's own
fallback (watchdog, failsafe current, validity time...) in `_setup()`. It runs before the first
read or write, again after any failure (the box may have rebooted and forgotten it) and every
few minutes, so a replaced or power-cycled box gets it back without a restart of ampshare.
"""

from __future__ import annotations

import asyncio
import logging

from pydantic import Field

from devices.driver import DeviceContext
from devices.modbus.unit import ModbusDevice, ModbusOptions
from manager.model import ChargeStatus, DeviceError, DeviceSpec

log = logging.getLogger(__name__)

SETUP_REFRESH_S = 300.0
#: after a 1p/3p switch the box stays paused this long (the car needs CP off ~5-10 s)
PHASE_HOLD_S = 10.0


class WallboxOptions(ModbusOptions):
    release_current_a: float = Field(
        16.0,
        ge=0,
        le=80,
        description="Current the box keeps when it is released (device switched off in ampshare)",
    )


class FailsafeOptions(WallboxOptions):
    """For boxes with a fallback current of their own that ampshare sets."""

    failsafe_current_a: float = Field(
        6.0,
        ge=0,
        le=32,
        description="Current the box falls back to on its own when ampshare stops talking to it "
        "(0 = stop charging)",
    )


class SessionEnergy:
    """Energy of the current plug-in session from the box's energy counter (or its power).

    A session starts when a car is plugged in (any state but NO_CAR after NO_CAR) and the
    counter reading at that moment is the zero; without a counter, power is integrated.
    """

    def __init__(self) -> None:
        self.start_wh: float | None = None
        self.integrated_wh = 0.0
        self._plugged = False
        self._last_t: float | None = None

    def update(self, status: ChargeStatus, energy_wh: float | None, power_w: float) -> float:
        now = asyncio.get_running_loop().time()
        plugged = status != ChargeStatus.NO_CAR
        if plugged and not self._plugged:
            self.start_wh = energy_wh
            self.integrated_wh = 0.0
        if plugged and self._last_t is not None:
            self.integrated_wh += max(0.0, power_w) * (now - self._last_t) / 3600.0
        self._plugged = plugged
        self._last_t = now
        if not plugged:
            return 0.0
        if energy_wh is not None and self.start_wh is not None and energy_wh >= self.start_wh:
            return round(energy_wh - self.start_wh, 1)
        return round(self.integrated_wh, 1)


class ModbusWallbox(ModbusDevice):
    resolution_a = 1.0

    def __init__(self, spec: DeviceSpec, opts: WallboxOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.wopts = opts
        self.session = SessionEnergy()
        self._setup_at: float | None = None
        self._setup_lock = asyncio.Lock()
        self.setup_note: str | None = None

    async def _setup(self) -> str | None:
        """Write the box's safety net; returns a note for the operator (or None)."""
        return None

    async def _ready(self) -> None:
        """Run `_setup` if it is due; any failure makes it due again."""
        self._u()
        now = asyncio.get_running_loop().time()
        if self._setup_at is not None and now - self._setup_at < SETUP_REFRESH_S:
            return
        async with self._setup_lock:
            if self._setup_at is not None and now - self._setup_at < SETUP_REFRESH_S:
                return
            try:
                self.setup_note = await self._setup()
            except DeviceError:
                self._setup_at = None
                raise
            self._setup_at = now
            log.info(
                "%s: safety net set%s",
                self.name,
                f" ({self.setup_note})" if self.setup_note else "",
            )

    def _failed(self) -> None:
        """Call when a request failed: the box may be a different or rebooted one next time."""
        self._setup_at = None

    async def read(self):  # type: ignore[no-untyped-def]
        try:
            await self._ready()
            return await self._read()
        except DeviceError:
            self._failed()
            raise

    async def probe_read(self):  # type: ignore[no-untyped-def]
        """Read without writing the safety net: for "test connection" before the box is added."""
        return await self._read()

    async def apply(self, setpoint_a: float, phases: int) -> None:
        try:
            await self._ready()
            await self._apply(max(0.0, setpoint_a), phases)
        except DeviceError:
            self._failed()
            raise

    async def _read(self):  # type: ignore[no-untyped-def]
        raise NotImplementedError

    # ---- phase switching (boxes that have it override the three hooks below) -------------

    #: phases the box is switched to, None while unknown (read at set-up)
    active_phases: int | None = None
    _hold_until = 0.0

    async def _pause(self) -> None:
        raise NotImplementedError

    async def _write_phases(self, phases: int) -> None:
        raise NotImplementedError

    async def _switch_if_needed(self, setpoint_a: float, phases: int) -> bool:
        """Switch 1p/3p safely; True while the box must stay paused for it.

        Never switches under load: the box is paused first, switched, and kept paused for
        PHASE_HOLD_S so the car sees a clean stop before charging on the new phases.
        """
        now = asyncio.get_running_loop().time()
        if phases in (1, 3) and self.active_phases is not None and phases != self.active_phases:
            if setpoint_a <= 0:
                return False  # nothing to charge: switch when there is
            await self._pause()
            await self._write_phases(phases)
            log.info("%s: switched to %d phase(s)", self.name, phases)
            self.active_phases = phases
            self._hold_until = now + PHASE_HOLD_S
            return True
        if now < self._hold_until:
            await self._pause()
            return True
        return False

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        raise NotImplementedError

    def _clamp(self, setpoint_a: float, lo: float, hi: float) -> float:
        """0 below the box's minimum (pause), else within [lo, hi], rounded to the resolution."""
        if setpoint_a < lo - 1e-9:
            return 0.0
        step = self.resolution_a
        value = min(hi, setpoint_a)
        return round(int(round(value / step, 6)) * step, 3)
