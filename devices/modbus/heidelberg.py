"""Heidelberg Energy Control (RS485, Modbus RTU 19200 8E1, usually via a gateway).

Safety net: the box's Modbus watchdog (register 257) sends it to the failsafe current (262)
when ampshare stops polling; standby (258) is switched off, because a box in standby stops
answering on the bus.
"""

from __future__ import annotations

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.address import SerialSettings
from devices.modbus.codec import u32
from devices.modbus.wallbox import FailsafeOptions, ModbusWallbox
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason

REG_FIRST, REG_COUNT = 4, 15  # input registers 4..18 in one read
REG_HW_MAX, REG_HW_MIN = 100, 101
REG_WATCHDOG, REG_STANDBY, REG_LOCK, REG_MAX_CURRENT, REG_FAILSAFE = 257, 258, 259, 261, 262
STANDBY_OFF = 4

STATES = {
    2: ChargeStatus.NO_CAR,  # A1
    3: ChargeStatus.NO_CAR,  # A2
    4: ChargeStatus.CONNECTED,  # B1
    5: ChargeStatus.CONNECTED,  # B2
    6: ChargeStatus.CHARGING,  # C1
    7: ChargeStatus.CHARGING,  # C2
    8: ChargeStatus.CHARGING,  # derating
    9: ChargeStatus.ERROR,  # E
    10: ChargeStatus.ERROR,  # F
    11: ChargeStatus.ERROR,  # error
}
STATE_NAMES = {2: "A1", 3: "A2", 4: "B1", 5: "B2", 6: "C1", 7: "C2", 8: "derating", 9: "E", 10: "F"}


class HeidelbergOptions(FailsafeOptions):
    unit_id: int = Field(1, ge=1, le=247, description="Modbus unit id (DIP switches of the box)")
    watchdog_s: float = Field(
        15.0,
        ge=1,
        le=65,
        description="Seconds without Modbus traffic after which the box falls back to the "
        "failsafe current",
    )


def _tenth(amps: float) -> int:
    """Current register value in 0.1 A: 0, or 60..160 (6..16 A)."""
    if amps < 6.0:
        return 0
    return round(min(amps, 16.0) * 10)


class Heidelberg(ModbusWallbox):
    default_port = 502
    default_serial = SerialSettings(19200, "E", 1, 8)
    gap_s = 0.1
    resolution_a = 0.1

    def __init__(self, spec: DeviceSpec, opts: HeidelbergOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.hopts = opts
        self.hw_min_a = 6.0
        self.hw_max_a = 16.0

    async def _setup(self) -> str:
        unit = self._u()
        hw = await unit.read_input(REG_HW_MAX, 2)
        if 6 <= hw[0] <= 16:
            self.hw_max_a = float(hw[0])
        if 6 <= hw[1] <= self.hw_max_a:
            self.hw_min_a = float(hw[1])
        await unit.write_register(REG_WATCHDOG, int(self.hopts.watchdog_s * 1000))
        await unit.write_register(REG_STANDBY, STANDBY_OFF)
        failsafe = _tenth(min(self.hopts.failsafe_current_a, self.hw_max_a))
        await unit.write_register(REG_FAILSAFE, failsafe)
        return f"watchdog {self.hopts.watchdog_s:g} s, failsafe {failsafe / 10:g} A, standby off"

    async def _read(self) -> EvseReading:
        regs = await self._u().read_input(REG_FIRST, REG_COUNT)

        def r(addr: int) -> int:
            return regs[addr - REG_FIRST]

        state = r(5)
        status = STATES.get(state, ChargeStatus.ERROR)
        current = (r(6) / 10.0, r(7) / 10.0, r(8) / 10.0)
        voltage = (float(r(10)), float(r(11)), float(r(12)))
        power = float(r(14))
        total = u32([r(17), r(18)], marker=None)
        energy = float(total) if total is not None else None
        detail = None
        if status == ChargeStatus.ERROR:
            detail = f"box state {STATE_NAMES.get(state, state)}"
        return EvseReading(
            status=status,
            current_a=current,
            voltage_v=voltage,
            power_w=power,
            session_wh=self.session.update(status, energy, power),
            energy_wh=energy,
            detail=detail,
        )

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        amps = self._clamp(setpoint_a, self.hw_min_a, self.hw_max_a)
        await self._u().write_register(REG_MAX_CURRENT, _tenth(amps))

    async def deactivate(self) -> Reason:
        unit = self._u()
        amps = min(self.wopts.release_current_a, self.hw_max_a)
        await unit.write_register(REG_WATCHDOG, 0)
        await unit.write_register(REG_MAX_CURRENT, _tenth(amps))
        self._setup_at = None
        return Reason("watchdog_off", {"amps": _tenth(amps) / 10})


def _build(spec: DeviceSpec, opts: HeidelbergOptions, ctx: DeviceContext) -> Heidelberg:
    return Heidelberg(spec, opts, ctx)


DRIVERS = (Driver("heidelberg", "evse", "Heidelberg Energy Control", HeidelbergOptions, _build),)
