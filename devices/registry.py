"""The table of drivers by name, and building a device from its validated config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices import shelly, sim
from devices.driver import DeviceContext, Driver
from devices.modbus import drivers as modbus_drivers
from devices.ocpp import evse as ocpp_evse
from manager.model import DeviceSpec, Evse, Meter

#: every driver module exposes DRIVERS; add a module here to make its drivers selectable
_MODULES = (sim, modbus_drivers, shelly, ocpp_evse)


def drivers() -> dict[str, Driver]:
    table: dict[str, Driver] = {}
    for module in _MODULES:
        for driver in module.DRIVERS:
            if driver.name in table:
                raise RuntimeError(f"driver name {driver.name!r} registered twice")
            table[driver.name] = driver
    return table


def validate_options(driver: Driver, options: Mapping[str, Any]) -> dict[str, Any]:
    """Driver fields with defaults filled in; raises pydantic.ValidationError naming the field."""
    return driver.options.model_validate(dict(options)).model_dump()


def spec_of(config: Mapping[str, Any]) -> DeviceSpec:
    """A stored device config as a driver sees it: everything but the identity goes to options."""
    identity = {"id", "name", "kind", "driver", "address"}
    return DeviceSpec(
        id=str(config["id"]),
        name=str(config["name"]),
        kind=str(config["kind"]),
        driver=str(config["driver"]),
        address=str(config.get("address", "")),
        options={k: v for k, v in config.items() if k not in identity},
    )


def build(spec: DeviceSpec, ctx: DeviceContext, table: Mapping[str, Driver]) -> Meter | Evse:
    driver = table[spec.driver]
    opts = driver.options.model_validate(dict(spec.options))
    return driver.factory(spec, opts, ctx)
