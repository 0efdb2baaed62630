"""Lenient MeterValues parsing for 1.6 and 2.0.1.

Real boxes send W or kW, Wh or kWh, phases as "L1" or "L1-N", numbers as strings or numbers,
measurands the schema does not know. We take what we understand and skip the rest, but a
message whose structure is broken is refused as a whole (nothing stored from it).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

ENERGY = "Energy.Active.Import.Register"
POWER = "Power.Active.Import"
CURRENT = "Current.Import"
VOLTAGE = "Voltage"

_PHASE = {"L1": 0, "L2": 1, "L3": 2, "L1-N": 0, "L2-N": 1, "L3-N": 2}
_SCALE = {"W": 1.0, "kW": 1000.0, "Wh": 1.0, "kWh": 1000.0, "A": 1.0, "V": 1.0}
_SKIP_LOCATIONS = {"EV", "Body", "Cable"}
#: text fields of a sampled value; anything else there is a broken message, not a reading
_TEXT_FIELDS = ("location", "phase", "measurand", "unit", "format", "context")
#: readings beyond these are a box's garbage, not physics (and would overflow downstream)
_PLAUSIBLE = {"energy": 1e12, "power": 1e8, "current": 1e5, "voltage": 1e5}
_KINDS = {ENERGY: "energy", POWER: "power", CURRENT: "current", VOLTAGE: "voltage"}


class MeterFormatError(ValueError):
    """The MeterValues structure is broken (not a list of objects with sampled values)."""


@dataclass
class MeterSample:
    """What one MeterValues message told us; None = not reported."""

    energy_wh: float | None = None
    power_w: float | None = None
    current_a: list[float | None] = field(default_factory=lambda: [None, None, None])
    current_total_a: float | None = None
    voltage_v: list[float | None] = field(default_factory=lambda: [None, None, None])
    #: signed sampled values exactly as the box sent them (1.6 format SignedData, 2.0.1
    #: signedMeterValue)
    signed: list[dict[str, Any]] = field(default_factory=list)
    timestamp: str | None = None

    @property
    def empty(self) -> bool:
        return (
            self.energy_wh is None
            and self.power_w is None
            and self.current_total_a is None
            and all(v is None for v in self.current_a)
            and all(v is None for v in self.voltage_v)
        )


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        num = float(value)
    elif isinstance(value, str):
        try:
            num = float(value.strip().replace(",", "."))
        except ValueError:
            return None
    else:
        return None
    return num if math.isfinite(num) else None


def _plausible(kind: str, value: float) -> float | None:
    return value if math.isfinite(value) and abs(value) <= _PLAUSIBLE[kind] else None


def _check_fields(sv: Any) -> None:
    if not isinstance(sv, dict) or "value" not in sv:
        raise MeterFormatError("each sampledValue needs a value")
    for name in _TEXT_FIELDS:
        if sv.get(name) is not None and not isinstance(sv[name], str):
            raise MeterFormatError(f"sampledValue {name} must be a string")
    uom = sv.get("unitOfMeasure")
    if uom is not None and not isinstance(uom, dict):
        raise MeterFormatError("sampledValue unitOfMeasure must be an object")


def _unit(sv: dict[str, Any]) -> tuple[str | None, float]:
    """Unit name and the factor 2.0.1's unitOfMeasure.multiplier adds (10^m)."""
    uom = sv.get("unitOfMeasure")
    if isinstance(uom, dict):
        mult = uom.get("multiplier", 0)
        factor = 10.0**mult if isinstance(mult, int) and -3 <= mult <= 6 else 1.0
        return (uom.get("unit") if isinstance(uom.get("unit"), str) else None), factor
    unit = sv.get("unit")
    return (unit if isinstance(unit, str) else None), 1.0


def parse_meter_values(meter_value: Any) -> MeterSample:
    """Fold the list of MeterValue objects into one sample (later entries win)."""
    if not isinstance(meter_value, list):
        raise MeterFormatError("meterValue must be a list")
    sample = MeterSample()
    phase_power: list[float | None] = [None, None, None]
    for mv in meter_value:
        if not isinstance(mv, dict) or not isinstance(mv.get("sampledValue"), list):
            raise MeterFormatError("each meterValue needs a sampledValue list")
        if isinstance(mv.get("timestamp"), str):
            sample.timestamp = mv["timestamp"]
        for sv in mv["sampledValue"]:
            _check_fields(sv)
            if _signed(sample, sv) or sv.get("location") in _SKIP_LOCATIONS:
                continue
            _fold(sample, phase_power, sv)
    if sample.power_w is None and any(p is not None for p in phase_power):
        sample.power_w = sum(p or 0.0 for p in phase_power)
    return sample


def _signed(sample: MeterSample, sv: dict[str, Any]) -> bool:
    """Keep signed data as sent; True if the value is only a signature (1.6 SignedData)."""
    if sv.get("format") == "SignedData" or "signedMeterValue" in sv:
        sample.signed.append(sv)
    return sv.get("format") == "SignedData"


def _reading(sv: dict[str, Any], measurand: str) -> float | None:
    """The value in W, Wh, A or V; None if it is no number or not plausible."""
    kind = _KINDS.get(measurand)
    value = _number(sv["value"])
    if kind is None or value is None:
        return None
    unit, factor = _unit(sv)
    scale = _SCALE.get(unit, 1.0) if unit else 1.0
    return _plausible(kind, value * scale * factor)


def _fold(sample: MeterSample, phase_power: list[float | None], sv: dict[str, Any]) -> None:
    """Take one sampled value into the sample; implausible numbers are skipped."""
    measurand = sv.get("measurand") or ENERGY
    value = _reading(sv, measurand)
    if value is None:
        return
    phase_name = sv.get("phase")
    phase = _PHASE.get(phase_name or "", None)
    if phase_name is None:
        if measurand == ENERGY and value >= 0:
            sample.energy_wh = value
        elif measurand == POWER:
            sample.power_w = value
        elif measurand == CURRENT:
            sample.current_total_a = value
    elif phase is not None:
        if measurand == POWER:
            phase_power[phase] = value
        elif measurand == CURRENT:
            sample.current_a[phase] = value
        elif measurand == VOLTAGE:
            sample.voltage_v[phase] = value
