"""Shapes of station management's answers (web/openapi_stations.py), as pydantic models so
`/api/openapi.json` generates their schemas like every other one."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from web.shapes import _Shape


class StationAnswer(_Shape):
    """The box's answer to an admin action."""

    status: str = Field(description="Accepted, Rejected, a CALLERROR code, ...")
    payload: dict[str, Any] = Field(description="the box's answer as it sent it")


class StoredFile(_Shape):
    """A firmware file uploaded for boxes, or a log file a box uploaded."""

    id: str
    size: int = Field(description="bytes")
    stored: float = Field(description="when it was stored (epoch s)")


class Transfer(_Shape):
    status: str = Field(description="the box's last status notification")
    steps: list[Any] = Field(description="every status it reported, in order")


class Station(_Shape):
    """Identity, security profile and transfers of a charge point seen since start."""

    id: str = Field(description="ChargeBox ID")
    vendor: str | None = None
    model: str | None = None
    serial: str | None = None
    firmware: str | None = None
    protocol: str | None = None
    connected: bool
    connected_since: str | None = None
    address: str | None = Field(None, description="the box's address while connected")
    security_profile: Literal[0, 1, 2, 3] | None = Field(
        None, description="0 none, 1 password, 2 TLS + password, 3 TLS + client certificate"
    )
    known: bool
    server_address: str | None = None
    firmware_transfer: Transfer | None = None
    logs_transfer: Transfer | None = None
    devices: list[dict[str, Any]] = Field(description="the wallboxes configured for it")
    log_files: list[StoredFile]


class AuditEntry(_Shape):
    """One admin action on a charge point: who, what was sent, what the box answered."""

    ts: str
    who: str
    box: str
    action: str
    request: Any = None
    status: str
    answer: Any = None


STATION_SHAPES = (StationAnswer, StoredFile, Transfer, Station, AuditEntry)
