"""The configuration of the charging rules (issue 16): a wallbox's schedules, price limit and
plan, and the site's option for external limits. Mixed into config.py's models."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

from manager.schedules import ScheduleWindow, window_errors
from manager.timestamps import parse_time

#: §14a EnWG: what a controllable consumer keeps while the grid operator limits it (W)
FLOOR_14A_W = 4200.0


class RuleFields(BaseModel):
    """Mixed into EvseConfig: when and how a wallbox charges besides its own mode."""

    schedules: list[ScheduleWindow] = Field(
        default_factory=list,
        max_length=50,
        description='Time windows, read top down, e.g. [{"days": ["mon", "tue"], "from": '
        '"22:00", "to": "06:00", "mode": "now"}]; outside them the box\'s own mode applies',
    )
    price_limit: float | None = Field(
        None, ge=-1000, le=1000, description="Charge now while the price per kWh is at most this"
    )
    plan_energy_wh: float | None = Field(
        None, gt=0, le=1_000_000, description="Plan mode: energy to deliver (Wh)"
    )
    plan_time: str | None = Field(
        None, description="Plan mode: deliver by this time (ISO 8601; local time if no offset)"
    )

    @field_validator("schedules")
    @classmethod
    def _windows(cls, windows: list[ScheduleWindow]) -> list[ScheduleWindow]:
        errors = window_errors(windows)
        if errors:
            raise ValueError("; ".join(errors))
        return windows

    @field_validator("plan_time")
    @classmethod
    def _plan_time(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        parse_time(value)  # ValueError names the field
        return value.strip()


class LimitSettings(BaseModel):
    """Site settings for external limits (grid operator, EMS)."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    keep_14a_minimum: bool = Field(
        False,
        description="§14a EnWG: keep at least 4 200 W per charging wallbox while an external "
        "limit is active",
    )
