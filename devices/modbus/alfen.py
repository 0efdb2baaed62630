"""Alfen NG9xx (Eve) socket over Modbus TCP: socket unit 1 (or 2), float32 big-endian.

Safety net: a current written to register 1210 is valid for a limited time (1208 counts it
down, 60 s by default); if it is not rewritten the box falls back to its safe current (1212).
ampshare rewrites it at least every 25 s, even when the setpoint does not change, and sets the
safe current where the firmware allows writing it (else it reports the one configured in the
box). The box allows only two Modbus masters and closes idle connections after 60 s; the bus
pool shares one connection and reconnects on demand.
"""

from __future__ import annotations

import asyncio

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.bus import ModbusReplyError
from devices.modbus.codec import enc_f32, f32, f64, text, u32
from devices.modbus.wallbox import FailsafeOptions, ModbusWallbox
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason, ReasonParam

METER_FIRST, METER_COUNT = 306, 72  # 306..377: voltages .. energy
REG_STATE, REG_APPLIED, REG_VALID, REG_SETPOINT, REG_SAFE, REG_PHASES = (
    1201, 1206, 1208, 1210, 1212, 1215,
)  # fmt: skip
SCN_FIRST, SCN_COUNT = 1201, 15  # 1201..1215
REWRITE_S = 25.0


class AlfenOptions(FailsafeOptions):
    unit_id: int = Field(1, ge=1, le=2, description="Socket: 1, or 2 for the second socket")
    phase_relay: bool = Field(False, description="Switch between 1 and 3 phases (register 1215)")


def _status(state: str) -> ChargeStatus:
    first = state[:1].upper()
    if first == "A":
        return ChargeStatus.NO_CAR
    if first == "B":
        return ChargeStatus.CONNECTED
    if first in ("C", "D"):
        return ChargeStatus.CHARGING
    return ChargeStatus.ERROR


class Alfen(ModbusWallbox):
    resolution_a = 0.1

    def __init__(self, spec: DeviceSpec, opts: AlfenOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.aopts = opts
        self.switching = opts.phase_relay
        self.setpoint_a: float | None = None
        self._written_at = 0.0
        self.safe_current_a: float | None = None

    async def _setup(self) -> str:
        unit = self._u()
        wanted = self.aopts.failsafe_current_a
        try:
            await unit.write_registers(REG_SAFE, enc_f32(wanted))
            note = f"safe current {wanted:g} A"
        except ModbusReplyError:
            note = "safe current is set in the box's own configuration"
        scn = await unit.read_holding(SCN_FIRST, SCN_COUNT)
        self.safe_current_a = f32(scn[REG_SAFE - SCN_FIRST : REG_SAFE - SCN_FIRST + 2])
        self.active_phases = 1 if scn[REG_PHASES - SCN_FIRST] == 1 else 3
        if self.safe_current_a is not None:
            note = f"{note} (box reports {self.safe_current_a:g} A)"
        return f"setpoint rewritten every {REWRITE_S:g} s; {note}"

    async def _read(self) -> EvseReading:
        unit = self._u()
        m = await unit.read_holding(METER_FIRST, METER_COUNT)
        scn = await unit.read_holding(SCN_FIRST, SCN_COUNT)

        def fm(addr: int) -> float | None:
            return f32(m[addr - METER_FIRST : addr - METER_FIRST + 2])

        state = text(scn[0:5])
        status = _status(state)
        volts = (fm(306), fm(308), fm(310))
        amps = tuple(fm(a) or 0.0 for a in (320, 322, 324))
        power = fm(344) or 0.0
        energy = f64(m[374 - METER_FIRST : 378 - METER_FIRST])
        valid = u32(scn[REG_VALID - SCN_FIRST : REG_VALID - SCN_FIRST + 2], marker=None)
        await self._refresh(valid)
        return EvseReading(
            status=status,
            current_a=amps,  # type: ignore[arg-type]
            voltage_v=volts,
            power_w=power,
            session_wh=self.session.update(status, energy, power),
            energy_wh=energy,
            detail=None if status != ChargeStatus.ERROR else f"mode 3 state {state or '?'}",
        )

    async def _refresh(self, valid_s: int | None) -> None:
        """Rewrite the setpoint before its validity runs out (even if nothing changed)."""
        if self.setpoint_a is None or self.unit is None:
            return
        age = asyncio.get_running_loop().time() - self._written_at
        if age >= REWRITE_S or (valid_s is not None and valid_s < REWRITE_S):
            await self._write_setpoint(self.setpoint_a)

    async def _write_setpoint(self, amps: float) -> None:
        await self._u().write_registers(REG_SETPOINT, enc_f32(amps))  # both words in one FC16
        self.setpoint_a = amps
        self._written_at = asyncio.get_running_loop().time()

    async def _pause(self) -> None:
        await self._write_setpoint(0.0)

    async def _write_phases(self, phases: int) -> None:
        await self._u().write_register(REG_PHASES, 1 if phases == 1 else 3)

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        if self.switching and await self._switch_if_needed(setpoint_a, phases):
            return
        await self._write_setpoint(self._clamp(setpoint_a, 6.0, 32.0))

    async def deactivate(self) -> Reason:
        amps = self.aopts.release_current_a
        await self._write_setpoint(amps)
        self.setpoint_a = None  # stop refreshing: the box returns to its safe current
        self._setup_at = None
        params: dict[str, ReasonParam] = {"amps": amps}
        if self.safe_current_a is not None:
            params["safe_a"] = self.safe_current_a
        return Reason("refresh_stopped", params)


def _build(spec: DeviceSpec, opts: AlfenOptions, ctx: DeviceContext) -> Alfen:
    return Alfen(spec, opts, ctx)


DRIVERS = (Driver("alfen", "evse", "Alfen NG9xx (Eve)", AlfenOptions, _build),)
