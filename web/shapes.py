"""The API's own request and response shapes that no manager model describes, as pydantic models.

`/api/openapi.json` takes every schema from a model: the live state and the configuration from
the manager's models (through the facade), these for errors, sessions, events and the like.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class _Shape(BaseModel):
    """Open to extra keys, as the stores may hold more than the API promises."""

    model_config = ConfigDict(extra="allow")


class Error(_Shape):
    error: str


class FieldError(_Shape):
    field: str = Field(description="dotted path")
    message: str = Field(description="what is wrong, in plain words of the request's language")
    code: str | None = Field(
        None,
        description="what is wrong as a stable code (e.g. missing, less_than_equal, "
        "min_above_max_current, charge_box_id_required), for programs",
    )


class Invalid(_Shape):
    errors: list[FieldError]


class Ok(_Shape):
    ok: bool


class PemPair(_Shape):
    cert_pem: str
    key_pem: str


class PasswordChange(_Shape):
    old_password: str
    new_password: str = Field(min_length=4)


class TestResult(_Shape):
    ok: bool
    values: dict[str, Any] | None = Field(None, description="what the device answered")
    error: str | None = None


class Driver(_Shape):
    name: str
    kind: Literal["evse", "meter"]
    title: str
    testable: bool
    schema_: dict[str, Any] = Field(alias="schema", description="JSON schema of its fields")


class HistoryPoint(_Shape):
    ts: datetime
    grid_w: float | None = None
    pv_w: float | None = None
    charge_w: float | None = None


class Event(_Shape):
    ts: datetime
    kind: str
    message: str
    device: str | None = None


class Session(_Shape):
    id: int
    evse: str | None = None
    box: str | None = None
    connector: int | None = None
    id_tag: str | None = None
    user: str | None = None
    started_at: datetime
    stopped_at: datetime | None = None
    energy_wh: float | None = None
    stop_reason: str | None = None
    method: str | None = Field(None, description="local, backend, free, remote or fallback")
    result: str | None = Field(None, description="the status the tag got (Accepted, ...)")
    signed_data: list[Any] | None = Field(None, description="signed meter values as sent")
    running: bool = Field(False, description="not stopped yet: energy_wh is the energy so far")
    duration_s: int | None = Field(None, description="how long it ran (so far)")


class MonthTotal(_Shape):
    """Sessions and energy of one user (or tag) in one month."""

    month: str = Field(description="YYYY-MM")
    user: str | None = None
    sessions: int
    energy_kwh: float


class SessionTotal(_Shape):
    """Sessions and energy of one day, month, wallbox or user; running sessions count with the
    energy they have so far."""

    by: Literal["day", "month", "evse", "user"]
    key: str = Field(description="YYYY-MM-DD, YYYY-MM (local time), a device id or a user/tag")
    label: str = Field(description="the key, or the wallbox's name")
    sessions: int
    running: int = Field(description="of which still running")
    energy_kwh: float


SHAPES: tuple[type[BaseModel], ...] = (
    Error,
    Invalid,
    Ok,
    PemPair,
    PasswordChange,
    TestResult,
    Driver,
    HistoryPoint,
    Event,
    Session,
    MonthTotal,
    SessionTotal,
)
