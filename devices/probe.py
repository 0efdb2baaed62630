"""Test connection: build a device from its config, read it once, close it, say what it saw.

Called by the facade for the settings page. It never raises for anything a device or a user
can get wrong; the answer is a JSON-ready dict, {"ok": true, "values": {...}, "summary": "..."}
or {"ok": false, "error": "<the exact error>"}. Wallboxes are only read, never configured
(their safety net is written once the device is really added), so a test has no side effects.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
import logging
from typing import Any

from pydantic import ValidationError

from devices import registry
from devices.driver import DeviceContext
from devices.modbus.bus import BusPool
from manager.model import DeviceError, DeviceSpec

log = logging.getLogger(__name__)


async def probe(spec: DeviceSpec, ctx: DeviceContext, timeout_s: float) -> dict[str, Any]:
    driver = registry.drivers().get(spec.driver)
    if driver is None:
        return {"ok": False, "error": f"unknown driver {spec.driver!r}"}
    if not driver.testable:
        return {"ok": False, "error": f"{driver.title} has no connection to test"}
    try:
        opts = driver.options.model_validate(dict(spec.options))
    except ValidationError as exc:
        return {"ok": False, "error": _validation_text(exc)}
    own_pool = None
    if ctx.buses is None:  # called outside a running manager: a pool just for this test
        own_pool = BusPool()
        ctx = dataclasses.replace(ctx, buses=own_pool)
    device: Any = None
    try:
        device = driver.factory(spec, opts, ctx)
        read = getattr(device, "probe_read", None) or device.read
        reading = await asyncio.wait_for(read(), timeout_s)
    except TimeoutError:
        return {"ok": False, "error": f"no answer within {timeout_s:g} s"}
    except DeviceError as exc:
        return {"ok": False, "error": str(exc)}
    except Exception as exc:  # a driver bug must not break the settings page
        log.exception("testing %s failed", spec.name)
        return {"ok": False, "error": f"unexpected error: {exc}"}
    finally:
        if device is not None:
            try:
                await device.close()
            except Exception:
                log.exception("closing %s after the test failed", spec.name)
        if own_pool is not None:
            await own_pool.close()
    values = _plain(dataclasses.asdict(reading))
    return {"ok": True, "values": values, "summary": summary(values)}


def _validation_text(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        field = ".".join(str(p) for p in err.get("loc", ())) or "address"
        parts.append(f"{field}: {err.get('msg', 'invalid')}")
    return "; ".join(parts)


def _plain(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def summary(values: dict[str, Any]) -> str:
    """One line for the operator, e.g. "231 V / 5.2 A / 1.2 kW / 1234 kWh"."""
    parts: list[str] = []
    if values.get("status"):
        parts.append(str(values["status"]).replace("_", " "))
    volts = [v for v in values.get("voltage_v") or [] if v is not None]
    if volts:
        parts.append(" ".join(f"{v:.0f}" for v in volts) + " V")
    amps = [a for a in values.get("current_a") or [] if a is not None]
    if amps:
        parts.append(" ".join(f"{a:.1f}" for a in amps) + " A")
    power = values.get("total_power_w")
    if power is None and isinstance(values.get("power_w"), (int, float)):
        power = values["power_w"]
    if power is not None:
        parts.append(f"{power / 1000:.2f} kW")
    energy = values.get("energy_import_wh", values.get("energy_wh"))
    if energy is not None:
        parts.append(f"{energy / 1000:.1f} kWh")
    return " / ".join(parts) or "connected, no values"
