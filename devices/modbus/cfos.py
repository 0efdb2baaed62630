"""cFos Power Brain wallbox: Modbus TCP port 4701, unit 1, holding registers.

Safety net: the Power Brain has no Modbus watchdog that ampshare could set, so if ampshare dies
the box keeps the last current it was given; set its fallback in the box's own load
management if that matters (see docs/devices.md). Phase switching (register 8087) is used
when `phase_relay` is on; the box must have its 1p/3p relay wired.
"""

from __future__ import annotations

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import i32, u32, u64
from devices.modbus.wallbox import ModbusWallbox, WallboxOptions
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason, ReasonParam

REG_METER, REG_STATE, REG_LIMIT, REG_ENABLE, REG_PHASES = 8058, 8092, 8093, 8094, 8087
STATES = {
    0: ChargeStatus.NO_CAR,
    1: ChargeStatus.CONNECTED,
    2: ChargeStatus.CHARGING,
    3: ChargeStatus.CHARGING,  # D: charging with ventilation
    4: ChargeStatus.ERROR,  # E: no power
    5: ChargeStatus.ERROR,  # F: error
}


class CfosOptions(WallboxOptions):
    phase_relay: bool = Field(
        False, description="Switch between 1 and 3 phases (needs the 1p/3p relay)"
    )


class Cfos(ModbusWallbox):
    default_port = 4701
    resolution_a = 0.1

    def __init__(self, spec: DeviceSpec, opts: CfosOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.switching = opts.phase_relay

    async def _setup(self) -> str:
        if self.switching:
            relay = (await self._u().read_holding(REG_PHASES, 1))[0]
            self.active_phases = 1 if relay == 1 else 3
        return "no Modbus watchdog on this box: it keeps the last current if ampshare stops"

    async def _read(self) -> EvseReading:
        unit = self._u()
        meter = await unit.read_holding(REG_METER, 12)
        state = (await unit.read_holding(REG_STATE, 1))[0]
        status = STATES.get(state, ChargeStatus.ERROR)
        energy = u64(meter[0:4], marker=None)
        power = i32(meter[4:6], marker=None) or 0
        amps = [(u32(meter[6 + 2 * i : 8 + 2 * i], marker=None) or 0) / 10.0 for i in range(3)]
        energy_wh = float(energy) if energy is not None else None
        return EvseReading(
            status=status,
            current_a=(amps[0], amps[1], amps[2]),
            power_w=float(power),
            session_wh=self.session.update(status, energy_wh, float(power)),
            energy_wh=energy_wh,
            detail=None if state in STATES and state < 4 else f"box state {state}",
        )

    async def _pause(self) -> None:
        await self._u().write_register(REG_ENABLE, 0)

    async def _write_phases(self, phases: int) -> None:
        await self._u().write_register(REG_PHASES, 1 if phases == 1 else 0)

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        if self.switching and await self._switch_if_needed(setpoint_a, phases):
            return
        amps = self._clamp(setpoint_a, 6.0, 32.0)
        unit = self._u()
        if amps <= 0:
            await self._pause()
            return
        await unit.write_register(REG_LIMIT, round(amps * 10))
        await unit.write_register(REG_ENABLE, 1)

    async def deactivate(self) -> Reason:
        unit = self._u()
        amps = self.wopts.release_current_a
        await unit.write_register(REG_LIMIT, round(amps * 10))
        await unit.write_register(REG_ENABLE, 1)
        params: dict[str, ReasonParam] = {"amps": amps}
        if self.switching:
            await unit.write_register(REG_PHASES, 0)
            self.active_phases = 3
            params["phases"] = 3
        self._setup_at = None
        return Reason("charging_enabled", params)


def _build(spec: DeviceSpec, opts: CfosOptions, ctx: DeviceContext) -> Cfos:
    return Cfos(spec, opts, ctx)


DRIVERS = (Driver("cfos", "evse", "cFos Power Brain", CfosOptions, _build),)
