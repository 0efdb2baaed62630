"""Eastron SDM630, SDM72D-M (V1 and V2) and SDM120 meters: FC4, float32 high word first.

Currents are magnitudes on these meters; each phase gets the sign of its power, so export is
negative. The SDM72 answers only short reads (about 10 registers), hence `max_regs_per_read`.
On a serial line every request costs the 0.1 s gap, so the meter is first read in ONE request
(0x00..0x4B); a meter that refuses that block (exception) is read in separate requests from
then on.
"""

from __future__ import annotations

import logging

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.bus import ModbusReplyError
from devices.modbus.codec import f32, scaled
from devices.modbus.unit import (
    ModbusDevice,
    ModbusOptions,
    RegisterCache,
    phase_signed,
    triple,
)
from manager.model import NONE3, DeviceSpec, MeterReading

log = logging.getLogger(__name__)

VOLT, AMP, WATT = (0x00, 0x02, 0x04), (0x06, 0x08, 0x0A), (0x0C, 0x0E, 0x10)
P_TOTAL, IMPORT_KWH, EXPORT_KWH = 0x34, 0x48, 0x4A
BLOCK = (0x00, 0x4C)  # everything above in one read


class EastronOptions(ModbusOptions):
    max_regs_per_read: int = Field(
        80, ge=2, le=120, description="Largest read the meter accepts (registers)"
    )


class Sdm72Options(EastronOptions):
    max_regs_per_read: int = Field(
        10, ge=2, le=120, description="Largest read the meter accepts (registers)"
    )


class EastronMeter(ModbusDevice):
    """`phases`: 3 for SDM630/SDM72 V2, 1 for SDM120, 0 for SDM72 V1 (totals only)."""

    gap_s = 0.1

    def __init__(
        self, spec: DeviceSpec, opts: EastronOptions, ctx: DeviceContext, phases: int
    ) -> None:
        super().__init__(spec, opts, ctx)
        self.phases = phases
        self.max_regs = opts.max_regs_per_read
        self.one_block = self.max_regs >= BLOCK[1]

    async def _fill(self, spans: list[tuple[int, int]]) -> RegisterCache:
        unit = self._u()
        if self.one_block:
            try:
                return await RegisterCache().fill(unit, "input", [BLOCK], BLOCK[1])
            except ModbusReplyError as exc:
                self.one_block = False
                log.info("%s: refuses a block read (%s); reading values one by one", self.name, exc)
        return await RegisterCache().fill(unit, "input", spans, self.max_regs)

    async def read(self) -> MeterReading:
        if self.phases == 3:
            spans = [(0x00, 18), (P_TOTAL, 2), (IMPORT_KWH, 4)]
        elif self.phases == 1:  # SDM120: no total register, L1 is the total
            spans = [(VOLT[0], 2), (AMP[0], 2), (WATT[0], 2), (IMPORT_KWH, 4)]
        else:
            spans = [(P_TOTAL, 2), (IMPORT_KWH, 4)]
        regs = await self._fill(spans)

        def val(addr: int) -> float | None:
            return f32(regs.get(addr, 2))

        n = self.phases
        volts = [val(VOLT[i]) if i < n else None for i in range(3)]
        amps = [val(AMP[i]) if i < n else None for i in range(3)]
        watts = [val(WATT[i]) if i < n else None for i in range(3)]
        total = watts[0] if n == 1 else val(P_TOTAL)
        return MeterReading(
            current_a=phase_signed(amps, watts) if n else NONE3,
            voltage_v=triple(volts),
            power_w=triple(watts),
            total_power_w=total,
            energy_import_wh=scaled(val(IMPORT_KWH), 1000.0),
            energy_export_wh=scaled(val(EXPORT_KWH), 1000.0),
        )


def _factory(phases: int):
    def build(spec: DeviceSpec, opts: EastronOptions, ctx: DeviceContext) -> EastronMeter:
        return EastronMeter(spec, opts, ctx, phases)

    return build


DRIVERS = (
    Driver("sdm630", "meter", "Eastron SDM630", EastronOptions, _factory(3)),
    Driver("sdm72v2", "meter", "Eastron SDM72D-M V2", Sdm72Options, _factory(3)),
    Driver("sdm72v1", "meter", "Eastron SDM72D-M V1 (totals only)", Sdm72Options, _factory(0)),
    Driver("sdm120", "meter", "Eastron SDM120 (single phase)", EastronOptions, _factory(1)),
)
