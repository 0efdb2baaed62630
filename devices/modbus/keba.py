"""KEBA KeContact P30 c-/x-series: Modbus TCP, port 502, unit 255, holding registers.

Every value is a 32-bit register pair and must be read on its own (the box refuses reads across
values). Product types with an RFID reader show the card of the session in register 1500 as
four bytes; ampshare reports it as 8 hex digits (manager.model.ReadsTags). The register map is
in docs/devices.md.

Safety net: the box's failsafe (current 5016, timeout 5018): without a write from ampshare
within the timeout the box falls back to the failsafe current on its own.
"""

from __future__ import annotations

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import u32
from devices.modbus.wallbox import FailsafeOptions, ModbusWallbox
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason

REG_STATE, REG_CABLE, REG_CURRENTS = 1000, 1004, 1008  # currents: 1008, 1010, 1012 (mA)
REG_PRODUCT, REG_POWER, REG_ENERGY = 1016, 1020, 1036  # power mW, energy 0.1 Wh
REG_RFID = 1500
REG_SET_CURRENT, REG_ENABLE = 5004, 5014  # mA; 0/1
REG_FAILSAFE_CURRENT, REG_FAILSAFE_TIMEOUT, REG_FAILSAFE_PERSIST = 5016, 5018, 5020
#: charging state 1000: 0 starting, 1 not ready, 2 ready, 3 charging, 4 error, 5 auth rejected
STATE_ERROR = 4
#: cable state 1004: 0 no cable, 1 at the box, 3 locked at the box, 5 at the car, 7 locked
CABLE_AT_CAR = (5, 7)


class KebaOptions(FailsafeOptions):
    unit_id: int = Field(255, ge=0, le=255, description="Modbus unit id (255 on these boxes)")
    failsafe_timeout_s: int = Field(
        30,
        ge=10,
        le=600,
        description="Seconds without a write from ampshare after which the box falls back to "
        "the failsafe current",
    )
    read_rfid: bool = Field(True, description="Read the RFID card of the session")


def card_of(regs: list[int]) -> str | None:
    """Register 1500 as the box's card id: 8 hex digits, None for 0 (no card)."""
    value = u32(regs, marker=None) or 0
    return f"{value:08x}" if value else None


class Keba(ModbusWallbox):
    default_port = 502
    resolution_a = 1.0

    def __init__(self, spec: DeviceSpec, opts: KebaOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.kopts = opts
        self.reads_tags = opts.read_rfid
        self.has_reader = True

    async def _value(self, address: int) -> int:
        return u32(await self._u().read_holding(address, 2), marker=None) or 0

    async def _setup(self) -> str:
        product = await self._value(REG_PRODUCT)
        self.has_reader = product % 10 > 0  # the last digit of the product type: RFID
        unit = self._u()
        amps = int(self.kopts.failsafe_current_a)
        await unit.write_register(REG_FAILSAFE_CURRENT, amps * 1000 if amps >= 6 else 0)
        await unit.write_register(REG_FAILSAFE_TIMEOUT, self.kopts.failsafe_timeout_s)
        await unit.write_register(REG_FAILSAFE_PERSIST, 0)
        return f"failsafe {amps} A after {self.kopts.failsafe_timeout_s} s"

    async def _read(self) -> EvseReading:
        state, cable = await self._value(REG_STATE), await self._value(REG_CABLE)
        amps = [await self._value(REG_CURRENTS + 2 * i) / 1000.0 for i in range(3)]
        power = await self._value(REG_POWER) / 1000.0
        energy = await self._value(REG_ENERGY) / 10.0
        if state == STATE_ERROR:
            status = ChargeStatus.ERROR
        elif cable not in CABLE_AT_CAR:
            status = ChargeStatus.NO_CAR
        else:
            status = ChargeStatus.CHARGING if state == 3 else ChargeStatus.CONNECTED
        user = None
        if self.reads_tags and self.has_reader and status is not ChargeStatus.NO_CAR:
            user = card_of(await self._u().read_holding(REG_RFID, 2))
        return EvseReading(
            status=status,
            current_a=(amps[0], amps[1], amps[2]),
            power_w=power,
            session_wh=self.session.update(status, energy, power),
            energy_wh=energy,
            user=user,
            detail="box reports an error" if status is ChargeStatus.ERROR else None,
        )

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        amps = self._clamp(setpoint_a, 6.0, 32.0)
        unit = self._u()
        if amps <= 0:
            await unit.write_register(REG_ENABLE, 0)
            return
        await unit.write_register(REG_SET_CURRENT, int(amps) * 1000)
        await unit.write_register(REG_ENABLE, 1)

    async def deactivate(self) -> Reason:
        unit = self._u()
        amps = int(self.wopts.release_current_a)
        await unit.write_register(REG_FAILSAFE_TIMEOUT, 0)
        await unit.write_register(REG_SET_CURRENT, amps * 1000)
        await unit.write_register(REG_ENABLE, 1)
        self._setup_at = None
        return Reason("watchdog_off", {"amps": amps})


def _build(spec: DeviceSpec, opts: KebaOptions, ctx: DeviceContext) -> Keba:
    return Keba(spec, opts, ctx)


DRIVERS = (Driver("keba", "evse", "KEBA KeContact P30 c/x (Modbus TCP)", KebaOptions, _build),)
