"""The table of drivers by name, and building a device from its validated config."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from devices import sim
from devices.driver import DeviceContext, Driver
from manager.model import DeviceSpec, Evse, Meter

#: every driver module exposes DRIVERS; add a module here to make its drivers selectable
_MODULES = (sim,)


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


def build(spec: DeviceSpec, ctx: DeviceContext, table: Mapping[str, Driver]) -> Meter | Evse:
    driver = table[spec.driver]
    opts = driver.options.model_validate(dict(spec.options))
    return driver.factory(spec, opts, ctx)
