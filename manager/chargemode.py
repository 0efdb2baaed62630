"""The charging modes a wallbox can be in (issue 16)."""

from enum import StrEnum


class ChargeMode(StrEnum):
    """What the owner wants from a wallbox; the allocator turns it into constraint rows."""

    OFF = "off"
    NOW = "now"
    MINPV = "minpv"
    PV = "pv"
    PLAN = "plan"
