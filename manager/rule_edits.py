"""Prices and the external charging limit through the facade (`PUT /api/prices`,
`/api/limits/charging`). Part of `manager.service.Service`.

Both are checked completely before anything changes; the limit is stored atomically (it holds
across a restart) and both take effect in a control cycle run at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Mapping
from typing import Any

from manager.charging_limit import parse_limit
from manager.config import ROOT_CIRCUIT, InvalidInput
from manager.configstore import ConfigStore
from manager.control import ControlLoop
from manager.prices import parse_prices
from manager.timestamps import parse_time

log = logging.getLogger("ampshare.service")


def check_plan(
    change: Mapping[str, Any], old: Mapping[str, Any] | None = None, now: float | None = None
) -> None:
    """A plan time given in this change must lie ahead; raises InvalidInput. A stored plan
    time (sent back unchanged, as a form does) may have passed: the plan is over, and other
    edits of the box stay possible."""
    value = change.get("plan_time")
    if not isinstance(value, str) or not value.strip():
        return
    if old is not None and value == old.get("plan_time"):
        return
    try:
        when = parse_time(value)
    except ValueError:
        return  # the model names it
    if when <= (time.time() if now is None else now):
        raise InvalidInput.one("plan_time", "lies in the past", "in_the_past")


class RuleEdits:
    store: ConfigStore
    control: ControlLoop
    _lock: asyncio.Lock

    def prices(self) -> list[dict[str, Any]]:
        return [s.data() for s in self.control.rules.prices]

    async def set_prices(self, data: object) -> list[dict[str, Any]]:
        slots = parse_prices(data)
        async with self._lock:
            self.control.rules.set_prices(slots)
        log.info("prices: %d slots", len(slots))
        await self.control.cycle()
        return self.prices()

    def charging_limit(self) -> dict[str, Any] | None:
        """The external limit while it holds (None: none)."""
        limit = self.control.rules.active_limit(self.control.wall())
        return limit.data() if limit is not None else None

    async def set_charging_limit(self, data: object) -> dict[str, Any]:
        circuits = {c.id for c in self.store.circuits()} | {ROOT_CIRCUIT}
        limit = parse_limit(data, self.control.wall(), circuits)
        async with self._lock:
            self.control.rules.set_limit(limit)
        self.control.events(
            "charging_limit",
            f"charging limited to {limit.max_power_w:.0f} W until {limit.data()['until']}",
        )
        await self.control.cycle()
        return limit.data()

    async def lift_charging_limit(self) -> None:
        async with self._lock:
            had = self.control.rules.limit is not None
            self.control.rules.set_limit(None)
        if had:
            self.control.events("charging_limit", "charging limit lifted")
        await self.control.cycle()
