"""SunSpec meters and inverters: finds the "SunS" base, walks the model chain, decodes.

Meter models 201-204 (integer + scale factor) and 211-214 (float32); inverter models
101-103 and 111-113. Meters follow SunSpec's sign (power > 0 = import). An inverter is read as
a PV meter: what it produces is reported as negative power and current (the site's point of
view, as for a PV meter) and its lifetime yield as exported energy.
The discovered layout is kept until a read fails, then discovered again (firmware updates
can move models).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from devices.driver import DeviceContext, Driver
from devices.modbus.codec import f32, i16, u16, u32
from devices.modbus.unit import ModbusDevice, ModbusOptions, phase_signed
from manager.model import NONE3, DeviceError, DeviceSpec, MeterReading

BASES = (40000, 0, 50000)
SUNS = [0x5375, 0x6E53]
END = 0xFFFF
METER_INT, METER_FLOAT = range(201, 205), range(211, 215)
INVERTER_INT, INVERTER_FLOAT = range(101, 104), range(111, 114)
MAX_MODELS = 50


class SunSpecOptions(ModbusOptions):
    model: Literal["auto", "meter", "inverter"] = Field(
        "auto",
        description="Which SunSpec block to read: 'auto' takes the first meter model, "
        "else the inverter",
    )


@dataclass(frozen=True)
class Layout:
    model: int
    address: int  # of the model's ID register


def _sf(value: int | None, sf: int | None) -> float | None:
    if value is None or sf is None or not -10 <= sf <= 10:
        return None
    return round(value * 10.0**sf, 6)


class SunSpecMeter(ModbusDevice):
    def __init__(self, spec: DeviceSpec, opts: SunSpecOptions, ctx: DeviceContext) -> None:
        super().__init__(spec, opts, ctx)
        self.want = opts.model
        self.layout: Layout | None = None

    async def discover(self) -> Layout:
        unit = self._u()
        base = None
        for candidate in BASES:
            try:
                if await unit.read_holding(candidate, 2) == SUNS:
                    base = candidate
                    break
            except DeviceError as exc:
                if "exception" not in str(exc):
                    raise  # no answer at all: no point trying the other bases
        if base is None:
            raise DeviceError(f"{self.name}: no SunSpec 'SunS' marker at 40000, 0 or 50000")
        address = base + 2
        found: dict[str, Layout] = {}
        seen: list[int] = []
        for _ in range(MAX_MODELS):
            model, length = await unit.read_holding(address, 2)
            if model == END:
                break
            seen.append(model)
            if model in METER_INT or model in METER_FLOAT:
                found.setdefault("meter", Layout(model, address))
            elif model in INVERTER_INT or model in INVERTER_FLOAT:
                found.setdefault("inverter", Layout(model, address))
            address += 2 + length
        kinds = ("meter", "inverter") if self.want == "auto" else (self.want,)
        for kind in kinds:
            if kind in found:
                return found[kind]
        raise DeviceError(
            f"{self.name}: no SunSpec {' or '.join(kinds)} model found "
            f"(models present: {', '.join(map(str, seen)) or 'none'})"
        )

    async def read(self) -> MeterReading:
        if self.layout is None:
            self.layout = await self.discover()
        try:
            return await self._read(self.layout)
        except DeviceError:
            self.layout = None
            raise

    async def _read(self, layout: Layout) -> MeterReading:
        m, a = layout.model, layout.address
        unit = self._u()
        if m in METER_INT:
            r = await unit.read_holding(a, 56)
            a_sf, v_sf, w_sf, e_sf = (i16([r[o]]) for o in (6, 15, 22, 54))
            amps = [_sf(i16([r[3 + i]]), a_sf) for i in range(3)]
            volts = tuple(_sf(i16([r[8 + i]]), v_sf) for i in range(3))
            watts = tuple(_sf(i16([r[19 + i]]), w_sf) for i in range(3))
            return MeterReading(
                current_a=phase_signed(amps, watts),
                voltage_v=volts,  # type: ignore[arg-type]
                power_w=watts,  # type: ignore[arg-type]
                total_power_w=_sf(i16([r[18]]), w_sf),
                energy_import_wh=_sf(u32(r[46:48], marker=None), e_sf),
                energy_export_wh=_sf(u32(r[38:40], marker=None), e_sf),
            )
        if m in METER_FLOAT:
            r = await unit.read_holding(a, 70)
            amps = [f32(r[4 + 2 * i : 6 + 2 * i]) for i in range(3)]
            volts = tuple(f32(r[12 + 2 * i : 14 + 2 * i]) for i in range(3))
            watts = tuple(f32(r[30 + 2 * i : 32 + 2 * i]) for i in range(3))
            return MeterReading(
                current_a=phase_signed(amps, watts),
                voltage_v=volts,  # type: ignore[arg-type]
                power_w=watts,  # type: ignore[arg-type]
                total_power_w=f32(r[28:30]),
                energy_import_wh=f32(r[68:70]),
                energy_export_wh=f32(r[60:62]),
            )
        if m in INVERTER_INT:
            r = await unit.read_holding(a, 27)
            a_sf, v_sf, w_sf = i16([r[6]]), i16([r[13]]), i16([r[15]])
            amps = [_sf(u16([r[3 + i]]), a_sf) for i in range(3)]
            volts = tuple(_sf(u16([r[10 + i]]), v_sf) for i in range(3))
            power = _sf(i16([r[14]]), w_sf)
            energy = _sf(u32(r[24:26], marker=None), i16([r[26]]))
        else:
            r = await unit.read_holding(a, 34)
            amps = [f32(r[4 + 2 * i : 6 + 2 * i]) for i in range(3)]
            volts = tuple(f32(r[16 + 2 * i : 18 + 2 * i]) for i in range(3))
            power = f32(r[22:24])
            energy = f32(r[32:34])
        produced = None if power is None else -abs(power)
        return MeterReading(
            current_a=tuple(None if c is None else -abs(c) for c in amps),  # type: ignore[arg-type]
            voltage_v=volts,  # type: ignore[arg-type]
            power_w=NONE3,
            total_power_w=produced,
            energy_import_wh=None,
            energy_export_wh=energy,
        )


def _build(spec: DeviceSpec, opts: SunSpecOptions, ctx: DeviceContext) -> SunSpecMeter:
    return SunSpecMeter(spec, opts, ctx)


DRIVERS = (
    Driver("sunspec", "meter", "SunSpec meter or inverter (auto-detect)", SunSpecOptions, _build),
)
