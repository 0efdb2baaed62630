"""Carlo Gavazzi EM24: int32 with the LOW word first; two register maps.

"em24" is the RS485 map (energy import at 0x42, no export register used); "em24-e1" the
Ethernet model's map (Hz at 0x33, import 0x34, export 0x4E). Both read input registers by
default; `function` switches to holding registers for gateways that only pass FC3.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import i32, scaled
from devices.modbus.unit import ModbusDevice, ModbusOptions, RegisterCache, phase_signed
from manager.model import DeviceSpec, MeterReading

P_TOTAL = 0x28
MAPS = {"em24": {"import": 0x42, "export": None}, "em24-e1": {"import": 0x34, "export": 0x4E}}


class Em24Options(ModbusOptions):
    function: Literal["input", "holding"] = Field(
        "input", description="Register table to read (input = FC4, holding = FC3)"
    )


class Em24Meter(ModbusDevice):
    gap_s = 0.05

    def __init__(
        self, spec: DeviceSpec, opts: Em24Options, ctx: DeviceContext, variant: str
    ) -> None:
        super().__init__(spec, opts, ctx)
        self.table = opts.function
        self.map = MAPS[variant]

    async def read(self) -> MeterReading:
        imp, exp = self.map["import"], self.map["export"]
        spans = [(0x00, 0x18), (P_TOTAL, 2), (imp, 2)]  # V, (V L-L), I, P in one block
        if exp is not None:
            spans.append((exp, 2))
        regs = await RegisterCache().fill(self._u(), self.table or "input", spans, 64)

        def val(addr: int | None, factor: float) -> float | None:
            if addr is None:
                return None
            return scaled(i32(regs.get(addr, 2), "little", marker=None), factor)

        volts = tuple(val(0x00 + 2 * i, 0.1) for i in range(3))
        amps = [val(0x0C + 2 * i, 0.001) for i in range(3)]
        watts = tuple(val(0x12 + 2 * i, 0.1) for i in range(3))
        return MeterReading(
            current_a=phase_signed(amps, watts),
            voltage_v=volts,  # type: ignore[arg-type]
            power_w=watts,  # type: ignore[arg-type]
            total_power_w=val(P_TOTAL, 0.1),
            energy_import_wh=val(imp, 100.0),  # 0.1 kWh
            energy_export_wh=val(exp, 100.0),
        )


def _factory(variant: str):
    def build(spec: DeviceSpec, opts: Em24Options, ctx: DeviceContext) -> Em24Meter:
        return Em24Meter(spec, opts, ctx, variant)

    return build


DRIVERS = (
    Driver("em24", "meter", "Carlo Gavazzi EM24 (RS485)", Em24Options, _factory("em24")),
    Driver(
        "em24-e1", "meter", "Carlo Gavazzi EM24 Ethernet (E1)", Em24Options, _factory("em24-e1")
    ),
)
