"""The charging rules in the live state: the active external limit and a box's plan."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )


class ChargingLimitState(_Model):
    """An external limit (grid operator, EMS) on the wallboxes' power, while it holds."""

    max_power_w: float = Field(description="what all wallboxes (or the circuit's) may draw (W)")
    until: float = Field(description="when it ends unless renewed (epoch s)")
    circuit: str | None = Field(None, description="the circuit it covers; null: all wallboxes")
    text: str = Field("", description="the banner in words, in the request's language")


class PlanState(_Model):
    """A box's charge plan: when it charges from the grid and from the sun (epoch s)."""

    start: float | None = Field(None, description="planned start")
    end: float | None = Field(None, description="planned end")
    deadline: float = Field(description="deliver by then")
    missing_wh: float = Field(description="energy still to deliver (Wh)")
    slots: list[list[float]] = Field(
        default_factory=list, description="grid charging [start, end] pairs"
    )
    solar: list[list[float]] = Field(
        default_factory=list, description="solar charging [start, end] pairs"
    )
    forecast: bool = Field(False, description="a solar forecast was used; false: none")
    text: str = Field("", description="planned start and end in words, in the request's language")
