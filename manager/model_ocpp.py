"""The contracts of the OCPP side beyond the wallbox itself: the manager's hooks for the OCPP
server, the gateways to billing backends and the station management, as the control loop, the
facade and devices/ocpp see them.

Part of the domain model (`manager.model` re-exports every name, and that is where they are
imported from); kept in its own file so each stays small. Pure: no I/O, and of the project only
`manager.model`'s types, for the type checker.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from manager.model import EventSink, EvseReading, SessionRecorder


# --------------------------------------------------------------------------------------------
# Gateway to an external billing backend (implemented in devices/ocpp/gateway*, wired by app)
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class BoxObservation:
    """One wallbox as the control loop saw it this cycle: what a gateway reports upstream."""

    online: bool
    enabled: bool
    reading: EvseReading | None
    offered_a: float
    phases: int = 3
    #: a card decides who charges (a box with a reader that requires authorization): the
    #: transaction waits for it instead of starting under the box's own identity
    awaits_tag: bool = False


@dataclass(frozen=True, slots=True)
class BackendCap:
    """A cap the billing backend puts on one box (A); `stopped` = it may not charge at all
    (Inoperative, remote stop or a refused tag), else a charging profile's limit."""

    limit_a: float
    stopped: bool = False


class BillingGateways(Protocol):
    """The gateways of all wallboxes, as the control loop drives them."""

    async def configure(self, devices: list[Mapping[str, object]]) -> None:
        """Take the wallbox configurations; start, restart or stop gateways as they changed."""
        ...

    def observe(self, evse_id: str, seen: BoxObservation) -> None: ...

    def cap(self, evse_id: str) -> BackendCap | None: ...

    def status(self, evse_id: str) -> Mapping[str, object] | None:
        """`{"connected", "since", "error", "queued", ...}` for the snapshot; None: no gateway."""
        ...

    async def close(self) -> None: ...


# --------------------------------------------------------------------------------------------
# Station management: admin actions on a charge point (implemented by devices/ocpp/station)
# --------------------------------------------------------------------------------------------


class StationOffline(Exception):
    """The charge point is not connected (or went away before it answered)."""


class StationTimeout(Exception):
    """The charge point did not answer in time."""


class StationInputError(ValueError):
    """Parameters of a station action are wrong: every mistake as `{"field", "message"}`."""

    def __init__(self, errors: list[dict[str, str]]) -> None:
        super().__init__("; ".join(f"{e['field']}: {e['message']}" for e in errors))
        self.errors = errors


class StationActions(Protocol):
    """Admin actions on connected charge points, configured as devices or not.

    `run` answers `{"status": <the box's status>, "payload": <the box's answer>}`; it raises
    KeyError for an unknown action, StationInputError, StationOffline or StationTimeout.
    """

    actions: tuple[str, ...]

    async def run(self, charge_box_id: str, action: str, params: Any) -> dict[str, Any]: ...

    def identity(self, charge_box_id: str) -> dict[str, Any] | None: ...


# --------------------------------------------------------------------------------------------
# The manager side of the OCPP server (implemented by manager/app.py's OcppBridge)
# --------------------------------------------------------------------------------------------


class OcppHooks(Protocol):
    """The manager side of the OCPP server: users, per-device passwords, sessions, events.

    `authorize` answers whether the users table knows and allows this id tag (RFID); the
    server combines it with its `unknown_tags` policy. `device_password` is the per-device
    password of the device whose address is this ChargeBox ID (None: none set).
    """

    events: EventSink
    sessions: SessionRecorder

    def authorize(self, id_tag: str) -> bool: ...

    async def check_tag(
        self, charge_box_id: str, connector: int | None, id_tag: str | None, protocol: str | None
    ) -> str | None:
        """The OCPP status for this tag at the wallbox configured for this box and connector
        (any of its connectors when None); None: no mode decides, use the `unknown_tags`
        policy with `authorize`."""
        ...

    def device_password(self, charge_box_id: str) -> str | None: ...

    def local_list(self, charge_box_id: str) -> dict[str, dict[str, Any]] | None:
        """The cards this box should know offline: `{tag: {"status", "expiry"}}` (None: the
        box needs no list, e.g. it charges freely or is not configured)."""
        ...

    def is_released(self, charge_box_id: str) -> bool:
        """True if the admin deactivated this box: it gets no default-deny profile on connect.

        Comes from the configuration, so it holds across restarts of ampshare.
        """
        ...
