"""ABL eMH1: Modbus ASCII (38400 8E1). The box sleeps between requests and only answers the
second one, so every request is sent twice and the second answer is used.

Register 0x04 holds the state byte (0xA1 = A1 ... 0xC2 = C2, 0xE0.. disabled, 0xF1.. faults),
0x14 the current as PWM duty (I / 0.06; 1000 = charging disabled), 0x2E (5 registers) the
phase currents in 0.1 A (L3, L2, L1 in registers 2..4). The eMH1 has no power or energy
register: power is estimated from the currents at 230 V and session energy integrated.
Safety net: the eMH1 watches its bus master by itself (state F4, "upstream communication
timeout") and stops charging when ampshare stops talking; nothing to configure.
"""

from __future__ import annotations

from devices.driver import DeviceContext, Driver
from devices.modbus.address import SerialSettings
from devices.modbus.wallbox import ModbusWallbox, WallboxOptions
from manager.model import ChargeStatus, DeviceSpec, EvseReading, Reason

REG_STATE, REG_DUTY, REG_CURRENTS = 0x04, 0x14, 0x2E
DUTY_OFF = 1000
NOMINAL_V = 230.0
FAULTS = {
    0xE0: "outlet disabled",
    0xE1: "production test",
    0xE2: "EVCC setup mode",
    0xE3: "bus idle",
    0xF1: "welded contact",
    0xF2: "internal error",
    0xF3: "DC residual current",
    0xF4: "upstream communication timeout",
    0xF5: "socket lock failed",
    0xF6: "CS out of range",
    0xF7: "state D requested by the car",
    0xF8: "CP out of range",
    0xF9: "overcurrent",
    0xFA: "temperature out of limits",
    0xFB: "unintended opened contact",
}


def duty(amps: float) -> int:
    return DUTY_OFF if amps <= 0 else int(amps / 0.06)


class Abl(ModbusWallbox):
    default_serial = SerialSettings(38400, "E", 1, 8)
    gap_s = 0.05
    repeat = True
    resolution_a = 0.1

    async def _read(self) -> EvseReading:
        unit = self._u()
        state = (await unit.read_holding(REG_STATE, 1))[0] & 0xFF
        regs = await unit.read_holding(REG_CURRENTS, 5)
        letter = state >> 4
        if letter == 0xA:
            status = ChargeStatus.NO_CAR
        elif letter == 0xB:
            status = ChargeStatus.CONNECTED
        elif letter in (0xC, 0xD):
            status = ChargeStatus.CHARGING
        else:
            status = ChargeStatus.ERROR

        def amps(raw: int) -> float:
            return 0.0 if raw in (DUTY_OFF, 1) else raw / 10.0

        current = (amps(regs[4]), amps(regs[3]), amps(regs[2]))
        power = round(sum(current) * NOMINAL_V, 1)
        return EvseReading(
            status=status,
            current_a=current,
            power_w=power,
            session_wh=self.session.update(status, None, power),
            detail=FAULTS.get(state, f"box state {state:#04x}") if letter >= 0xE else None,
        )

    async def _apply(self, setpoint_a: float, phases: int) -> None:
        amps = self._clamp(setpoint_a, 6.0, 32.0)
        await self._u().write_registers(REG_DUTY, [duty(amps)])

    async def deactivate(self) -> Reason:
        amps = self.wopts.release_current_a
        await self._u().write_registers(REG_DUTY, [duty(amps)])
        self._setup_at = None
        return Reason("current_set", {"amps": amps})


def _build(spec: DeviceSpec, opts: WallboxOptions, ctx: DeviceContext) -> Abl:
    return Abl(spec, opts, ctx)


DRIVERS = (Driver("abl-emh1", "evse", "ABL eMH1", WallboxOptions, _build),)
