"""What a driver is: a name, the fields it needs and a factory. Shared by every driver module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict

from manager.model import DeviceSpec, Evse, Meter

if TYPE_CHECKING:
    from devices.modbus.bus import BusPool
    from devices.ocpp.server import OcppServer
    from devices.sim import SimWorld


class DriverOptions(BaseModel):
    """Base of every driver's own fields.

    A driver is handed the device's whole config (common fields such as `phase_rotation` too),
    so extra keys are ignored here; the manager rejects keys that no model knows.
    """

    model_config = ConfigDict(extra="ignore")


@dataclass
class DeviceContext:
    """Shared resources drivers need, built once by the composition root.

    A driver whose resource is None raises DeviceError. The types are imported for the type
    checker only: those modules import this one, and drivers need no more than the names.
    """

    sim: SimWorld | None = None
    ocpp: OcppServer | None = None
    buses: BusPool | None = None


Factory = Callable[[DeviceSpec, Any, DeviceContext], Meter | Evse]


@dataclass(frozen=True)
class Driver:
    name: str
    kind: Literal["meter", "evse"]
    title: str
    options: type[DriverOptions]
    factory: Factory
    #: whether "test connection" makes sense (a real device reachable by address)
    testable: bool = True
    #: checks the address when a device is saved; raises ValueError saying what is wrong
    check_address: Callable[[str], object] | None = None
