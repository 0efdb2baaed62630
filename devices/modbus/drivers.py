"""Every Modbus driver, gathered for the registry (one line there for the whole family)."""

from __future__ import annotations

from dataclasses import replace

from devices.modbus import (
    abb,
    abl,
    alfen,
    bender,
    cfos,
    eastron,
    gavazzi,
    heidelberg,
    keba,
    phoenix,
    sunspec,
)
from devices.modbus.address import parse_address

_ALL = (
    *eastron.DRIVERS,
    *abb.DRIVERS,
    *gavazzi.DRIVERS,
    *sunspec.DRIVERS,
    *cfos.DRIVERS,
    *heidelberg.DRIVERS,
    *phoenix.DRIVERS,
    *abl.DRIVERS,
    *alfen.DRIVERS,
    *bender.DRIVERS,
    *keba.DRIVERS,
)

#: every Modbus device's address is checked with the same parser its bus uses
DRIVERS = tuple(replace(d, check_address=parse_address) for d in _ALL)
