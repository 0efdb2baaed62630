"""What a driver is: a name, the fields it needs and a factory. Shared by every driver module."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from manager.model import DeviceSpec, Evse, Meter


class DriverOptions(BaseModel):
    """Base of every driver's own fields.

    A driver is handed the device's whole config (common fields such as `phase_rotation` too),
    so extra keys are ignored here; the manager rejects keys that no model knows.
    """

    model_config = ConfigDict(extra="ignore")


@dataclass
class DeviceContext:
    """Shared resources drivers need, built once by the composition root.

    `sim` is the simulated world (devices.sim.SimWorld), `ocpp` the OCPP server
    (devices.ocpp.server.OcppServer), `buses` the Modbus connection pool
    (devices.modbus.bus.BusPool). A driver whose resource is None raises DeviceError.
    """

    sim: Any = None
    ocpp: Any = None
    buses: Any = None


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
