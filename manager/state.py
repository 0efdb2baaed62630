"""The live state: one typed snapshot for the control loop, the SSE stream and the API.

The control loop builds a `State` once per cycle; the web edge serves it as JSON (adding each
reason's `text` in the reader's language) and `/api/openapi.json` takes its schema from these
models, so the three cannot drift apart. Every field has a default: the default object is the
blank a dashboard tile starts from. Measured numbers that are not finite (NaN, infinity from a
device) are sent as null; every number sent is finite.
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from manager.model import Reason
from manager.state_rules import ChargingLimitState, PlanState


def _finite_or_none(value: object) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


#: a measured or configured number; null when unknown (or not finite)
Num = Annotated[float | None, BeforeValidator(_finite_or_none)]
#: one value per phase L1, L2, L3
Phases = tuple[Num, Num, Num]
NO_PHASES: Phases = (None, None, None)
ZERO_PHASES: Phases = (0.0, 0.0, 0.0)

EvseStatus = Literal["no_car", "connected", "charging", "paused", "error", "offline", "disabled"]
MeterRoleName = Literal["grid", "pv", "battery", "consumer", "evse"]
ChargeModeName = Literal["off", "now", "minpv", "pv", "plan"]


class _Model(BaseModel):
    # the schema of what is sent: every field is always there (defaults included)
    model_config = ConfigDict(
        extra="forbid",
        allow_inf_nan=False,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )


def _cause_optional(schema: dict[str, Any]) -> None:
    """`cause` and `since` are left out when there is none."""
    schema["required"] = [k for k in schema.get("required", []) if k not in ("cause", "since")]


class ReasonState(_Model):
    """Why, as data: a code plus parameters, the reason behind it in `cause`.

    `text` is the sentence in the reader's language, filled in by the web edge (empty inside
    the manager); the codes and their parameters are documented at `manager.model.Reason`.
    """

    model_config = ConfigDict(json_schema_extra=_cause_optional)

    code: str
    params: dict[str, str | int | float] = Field(default_factory=dict)
    cause: ReasonState | None = Field(
        None, exclude_if=lambda v: v is None, description="the reason behind this one"
    )
    text: str = Field("", description="the reason in words, in the request's language")
    since: float | None = Field(
        None, exclude_if=lambda v: v is None, description="when it happened (epoch s), for notes"
    )

    @classmethod
    def of(cls, reason: Reason | None) -> ReasonState | None:
        if reason is None:
            return None
        return cls(code=reason.code, params=dict(reason.params), cause=cls.of(reason.cause))


class SiteState(_Model):
    limit_a: Phases = Field(NO_PHASES, description="main fuse per phase (A)")
    grid_a: Phases = Field(NO_PHASES, description="grid current per phase, import > 0 (A)")
    grid_w: Num = Field(None, description="grid power, import > 0 (W)")
    pv_w: Num = None
    charge_w: Num = Field(None, description="power of all wallboxes together (W)")
    reserve_a: Num = None
    safe_mode: bool = False
    safe_reason: ReasonState | None = Field(None, description="why safe mode is on")
    safe_current_a: Num = Field(None, description="what all wallboxes share in safe mode (A)")
    charging_limit: ChargingLimitState | None = Field(
        None, description="the external limit on the wallboxes' power while it holds"
    )
    surplus_w: Num = Field(
        None,
        description="solar surplus for the boxes in a solar mode: export + what they draw - "
        "reserve, averaged (W); null without a grid reading",
    )
    solar_charge_w: Num = Field(
        None, description="what the boxes in a solar mode (pv, minpv, plan) draw now (W)"
    )


class GatewayState(_Model):
    """A wallbox's gateway to a billing backend (devices/ocpp/gateway*)."""

    connected: bool = Field(False, description="booted at the backend")
    since: Num = Field(None, description="connected since (epoch s)")
    error: str | None = Field(
        None,
        description="last failure as a code: http_401, http_<status>, certificate_untrusted, "
        "tls_failed, unreachable, unknown_host, protocol, closed, other",
    )
    detail: str | None = Field(None, description="the failure in detail")
    queued: int = Field(0, description="transaction messages waiting")
    limit_a: Num = Field(None, description="the backend's cap (A)")
    insecure: bool = Field(False, description="certificate not checked")
    protocol: Literal["ocpp1.6", "ocpp2.0.1"] = "ocpp1.6"


class EvseState(_Model):
    id: str = ""
    name: str = ""
    driver: str | None = None
    enabled: bool = True
    online: bool = False
    status: EvseStatus = "offline"
    current_a: Phases = Field(ZERO_PHASES, description="measured, per box phase (A)")
    setpoint_a: Num = Field(None, description="the current offered to the car now (A)")
    target_a: Num = Field(None, description="where the setpoint is heading (A)")
    reason: ReasonState | None = Field(None, description="why it gets that")
    power_w: Num = None
    session_wh: Num = None
    user: str | None = None
    detail: ReasonState | None = Field(None, description="what the box or its driver reports")
    circuit: str | None = None
    phases: int = 3
    phases_used: list[int] | None = Field(
        None, description="site phases the car draws on (0 = L1), when known"
    )
    priority: int = 1
    max_current_a: Num = None
    deactivation: ReasonState | None = Field(
        None, description="result of the last deactivation (profiles cleared, ...)"
    )
    gateway: GatewayState | None = Field(
        None, description="the gateway to a billing backend; null: none configured"
    )
    rule: ReasonState | None = Field(
        None, description="the rule that sets the mode in force (schedule, price, plan...)"
    )
    plan: PlanState | None = Field(None, description="the charge plan, when one is set")
    charge_mode: ChargeModeName = Field(
        "now", description="the mode its owner chose; a rule that overrides it is in `rule`"
    )
    phases_active: int | None = Field(
        None, description="phases it charges on now (1 or 3; switches for auto 1p/3p)"
    )
    pv_start_in_s: Num = Field(None, description="solar start in this many seconds")
    pv_stop_in_s: Num = Field(None, description="solar pause in this many seconds")
    phase_switch_in_s: Num = Field(None, description="1p/3p switch in this many seconds")


class MeterState(_Model):
    id: str = ""
    name: str = ""
    driver: str | None = None
    role: MeterRoleName = "grid"
    enabled: bool = True
    online: bool = False
    current_a: Phases = NO_PHASES
    voltage_v: Phases = NO_PHASES
    power_w: Num = None
    energy_wh: Num = Field(
        None, description="energy imported (Wh); for a PV meter the energy it produced"
    )
    error: str | None = None


class ChargePoint(_Model):
    """An OCPP charge point seen since start (to add it as a wallbox if it is not configured).

    Built from the OCPP server's rows: a field it adds later is dropped here until it is
    declared, rather than stopping the control loop.
    """

    model_config = ConfigDict(
        extra="ignore",
        allow_inf_nan=False,
        frozen=True,
        json_schema_serialization_defaults_required=True,
    )

    id: str = Field("", description="ChargeBox ID")
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    protocol: str | None = None
    connected: bool = False
    last_seen: str | None = None
    known: bool = False
    configured: bool = False


class CircuitState(_Model):
    id: str
    name: str
    parent: str | None = None
    max_current_a: Num = None
    base_load_a: Phases = Field(
        ZERO_PHASES, description="current not under ampshare's control, per site phase (A)"
    )
    load_a: Phases = Field(
        ZERO_PHASES,
        description="current through this fuse per site phase: the base load plus the "
        "wallboxes anywhere below it (A)",
    )


class State(_Model):
    """Live snapshot, published about once per control cycle."""

    ts: str | None = Field(None, description="when it was taken (ISO 8601)")
    site: SiteState = Field(default_factory=SiteState)
    evses: list[EvseState] = Field(default_factory=list)
    meters: list[MeterState] = Field(default_factory=list)
    charge_points: list[ChargePoint] = Field(default_factory=list)
    circuits: list[CircuitState] = Field(default_factory=list)
