"""ABB B23/B24 meters: FC3, big-endian words; all-ones (and 0x7FFF...) mark "no value"."""

from __future__ import annotations

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import i32, scaled, u32, u64
from devices.modbus.unit import ModbusDevice, ModbusOptions, RegisterCache, phase_signed
from manager.model import DeviceSpec, MeterReading

VOLT, AMP, P_TOTAL, P_PHASE = 0x5B00, 0x5B0C, 0x5B14, 0x5B16
IMPORT, EXPORT = 0x5000, 0x5004
I32_NONE = 0x7FFFFFFF


class AbbMeter(ModbusDevice):
    gap_s = 0.05

    async def read(self) -> MeterReading:
        spans = [(VOLT, 6), (AMP, 6), (P_TOTAL, 8), (IMPORT, 8)]
        regs = await RegisterCache().fill(self._u(), "holding", spans, 64)

        def uval(addr: int, factor: float) -> float | None:
            return scaled(u32(regs.get(addr, 2)), factor)

        def ival(addr: int) -> float | None:
            return scaled(i32(regs.get(addr, 2), marker=I32_NONE), 0.01)

        volts = tuple(uval(VOLT + 2 * i, 0.1) for i in range(3))
        amps = [uval(AMP + 2 * i, 0.01) for i in range(3)]
        watts = tuple(ival(P_PHASE + 2 * i) for i in range(3))
        energy_in = u64(regs.get(IMPORT, 4))
        energy_out = u64(regs.get(EXPORT, 4))
        return MeterReading(
            current_a=phase_signed(amps, watts),
            voltage_v=volts,  # type: ignore[arg-type]
            power_w=watts,  # type: ignore[arg-type]
            total_power_w=ival(P_TOTAL),
            energy_import_wh=scaled(energy_in, 10.0),  # 0.01 kWh
            energy_export_wh=scaled(energy_out, 10.0),
        )


def _build(spec: DeviceSpec, opts: ModbusOptions, ctx: DeviceContext) -> AbbMeter:
    return AbbMeter(spec, opts, ctx)


DRIVERS = (Driver("abb-b23", "meter", "ABB B23 / B24", ModbusOptions, _build),)
