"""Phoenix Contact EV-CC-...-ETH controllers and wallbe boxes built on them (unit 255).

Status is an IEC letter in input register 100; coil 400 enables charging; holding register 528
is the current limit, in A on Phoenix firmware and in 0.1 A on wallbe's extended firmware
(detected: it reads 60 or more there). 32-bit values come low word first.
Safety net: these controllers have no Modbus watchdog ampshare can set; if ampshare dies the
box keeps its last current (see docs/devices.md).
"""

from __future__ import annotations

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import i32, u32, u64
from devices.modbus.wallbox import ModbusWallbox, WallboxOptions
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason

IR_STATUS, IR_VOLT, IR_AMP, IR_POWER = 100, 108, 114, 120
COIL_ENABLE, HR_CURRENT, HR_ENERGY, HR_ENERGY_WALLBE = 400, 528, 904, 2980
LETTERS = {
    "A": ChargeStatus.NO_CAR,
    "B": ChargeStatus.CONNECTED,
    "C": ChargeStatus.CHARGING,
    "D": ChargeStatus.CHARGING,
    "E": ChargeStatus.ERROR,
    "F": ChargeStatus.ERROR,
}


class PhoenixOptions(WallboxOptions):
    unit_id: int = Field(255, ge=0, le=255, description="Modbus unit id (255 on these boxes)")


class Phoenix(ModbusWallbox):
    resolution_a = 1.0

    def __init__(
        self, spec: DeviceSpec, opts: PhoenixOptions, ctx: DeviceContext, wallbe: bool
    ) -> None:
        super().__init__(spec, opts, ctx)
        self.wallbe = wallbe
        self.tenths = False  # wallbe extended firmware: current register in 0.1 A

    async def _setup(self) -> str:
        if self.wallbe:
            raw = (await self._u().read_holding(HR_CURRENT, 1))[0]
            self.tenths = raw >= 60
            self.resolution_a = 0.1 if self.tenths else 1.0
        unit_text = "0.1 A" if self.tenths else "1 A"
        return f"current in {unit_text} steps; no Modbus watchdog on this box"

    async def _read(self) -> EvseReading:
        unit = self._u()
        regs = await unit.read_input(IR_STATUS, 22)  # 100..121: status, V, I, P
        letter = chr(regs[0] & 0xFF) if 0x41 <= (regs[0] & 0xFF) <= 0x46 else "?"
        status = LETTERS.get(letter, ChargeStatus.ERROR)

        def phase(base: int, i: int) -> float:
            off = base - IR_STATUS + 2 * i
            return float(i32(regs[off : off + 2], "little", marker=None) or 0)

        volts = (phase(IR_VOLT, 0), phase(IR_VOLT, 1), phase(IR_VOLT, 2))
        amps = (phase(IR_AMP, 0), phase(IR_AMP, 1), phase(IR_AMP, 2))
        power = phase(IR_POWER, 0)
        if self.wallbe:
            energy = u64(await unit.read_holding(HR_ENERGY_WALLBE, 4), "little", marker=None)
        else:
            energy = u32(await unit.read_holding(HR_ENERGY, 2), "little", marker=None)
        energy_wh = float(energy) if energy is not None else None
        return EvseReading(
            status=status,
            current_a=amps,
            voltage_v=volts,
            power_w=power,
            session_wh=self.session.update(status, energy_wh, power),
            energy_wh=energy_wh,
            detail=None if letter in "ABCD" else f"box state {letter}",
        )

    def _register(self, amps: float) -> int:
        return round(amps * 10) if self.tenths else int(amps)

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        amps = self._clamp(setpoint_a, 6.0, 80.0)
        unit = self._u()
        if amps <= 0:
            await unit.write_coil(COIL_ENABLE, False)
            return
        await unit.write_register(HR_CURRENT, self._register(amps))
        await unit.write_coil(COIL_ENABLE, True)

    async def deactivate(self) -> Reason:
        unit = self._u()
        amps = self.wopts.release_current_a
        await unit.write_register(HR_CURRENT, self._register(amps))
        await unit.write_coil(COIL_ENABLE, True)
        self._setup_at = None
        return Reason("charging_enabled", {"amps": amps})


def _factory(wallbe: bool):
    def build(spec: DeviceSpec, opts: PhoenixOptions, ctx: DeviceContext) -> Phoenix:
        return Phoenix(spec, opts, ctx, wallbe)

    return build


DRIVERS = (
    Driver("phoenix", "evse", "Phoenix Contact EV-CC (ETH)", PhoenixOptions, _factory(False)),
    Driver("wallbe", "evse", "wallbe (Phoenix controller)", PhoenixOptions, _factory(True)),
)
