"""Every Modbus driver, gathered for the registry (one line there for the whole family)."""

from __future__ import annotations

from devices.modbus import eastron, heidelberg

DRIVERS = (*eastron.DRIVERS, *heidelberg.DRIVERS)
