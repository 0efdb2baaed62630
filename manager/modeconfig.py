"""The charging-mode fields of a wallbox and the solar settings of the site (issue 16).

Kept apart from config.py (mixed into `EvseConfig` and `SiteSettings`) so the rules of the
solar modes stay in one small place; docs/charging-modes.md explains them.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationInfo, field_validator

from manager.chargemode import ChargeMode

PhaseSwitching = Literal["auto", "1p", "3p"]


def migrate_device(device: dict[str, Any]) -> dict[str, Any]:
    """A device stored before the charging modes: the driver option `phase_switching`
    (true/false: the box has a 1p/3p relay) is now `phase_relay`, as `phase_switching` names
    the automatic (`auto`/`1p`/`3p`) of every box."""
    old = device.get("phase_switching")
    if isinstance(old, bool):
        device = {**device, "phase_relay": old, "phase_switching": "auto"}
    return device


class ModeFields(BaseModel):
    """Mixed into EvseConfig: what the owner wants from the box, and how it may use phases."""

    charge_mode: ChargeMode = Field(
        ChargeMode.NOW,
        description="off: no charging; now: as fast as the fuses allow; minpv: min current "
        "plus solar surplus; pv: solar surplus only; plan: by a deadline",
    )
    phase_switching: PhaseSwitching = Field(
        "auto",
        description="For boxes that can switch: auto (1 phase when the surplus is small), "
        "always 1p or always 3p",
    )


class SolarFields(BaseModel):
    """Mixed into SiteSettings: how the surplus is measured and when solar charging starts."""

    surplus_reserve_w: float = Field(
        100.0, ge=0, le=100000, description="Surplus kept back for the house (W)"
    )
    pv_enable_delay_s: float = Field(
        60.0, ge=0, le=3600, description="Surplus must cover the min current this long (s)"
    )
    pv_disable_delay_s: float = Field(
        180.0, ge=0, le=3600, description="Surplus short this long pauses solar charging (s)"
    )
    surplus_average_s: float = Field(
        30.0, ge=0, le=600, description="Rolling average of the surplus against clouds (s)"
    )
    phase_switch_min_interval_s: float = Field(
        600.0, ge=60, le=86400, description="At most one 1p/3p switch per box this often (s)"
    )
    battery_priority_soc: float = Field(
        50.0, ge=0, le=100, description="Home battery charged first below this charge (%)"
    )
    battery_discharge_soc: float = Field(
        100.0, ge=0, le=100, description="Home battery may give to the car above this charge (%)"
    )

    @field_validator("battery_discharge_soc")
    @classmethod
    def _socs(cls, value: float, info: ValidationInfo) -> float:
        if value < info.data.get("battery_priority_soc", 0.0):
            raise ValueError("must not be below battery_priority_soc")
        return value
