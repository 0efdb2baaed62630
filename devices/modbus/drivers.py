"""Every Modbus driver, gathered for the registry (one line there for the whole family)."""

from __future__ import annotations

from devices.modbus import abb, abl, alfen, cfos, eastron, gavazzi, heidelberg, phoenix, sunspec

DRIVERS = (
    *eastron.DRIVERS,
    *abb.DRIVERS,
    *gavazzi.DRIVERS,
    *sunspec.DRIVERS,
    *cfos.DRIVERS,
    *heidelberg.DRIVERS,
    *phoenix.DRIVERS,
    *abl.DRIVERS,
    *alfen.DRIVERS,
)
