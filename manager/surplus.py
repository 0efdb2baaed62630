"""The solar surplus: what the boxes in a solar mode may take, measured at the grid meter.

    surplus = export at the grid meter + what the solar boxes draw now - reserve (W)

plus the home battery's share (meter role `battery`, power > 0 while it charges): below
`battery_priority_soc` the battery is charged first, so what it charges stays its own and what
it gives is not surplus; from there up to `battery_discharge_soc` what it charges may go to the
car instead; above `battery_discharge_soc` it may also give to the car (its discharge counts
as surplus). A battery without a charge reading counts as below the priority charge.

A short rolling average keeps a passing cloud from pausing a car; an overload is not smoothed,
as the fuses are rows of their own in the allocator.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field

from manager.config import SiteSettings
from manager.model import MeterReading, MeterRole
from manager.runtime import MeterRuntime, phase_currents


def total_power(reading: MeterReading | None, volt: float) -> float | None:
    """A meter's total power (import > 0), from its total, its phases or its currents."""
    if reading is None:
        return None
    if reading.total_power_w is not None:
        return reading.total_power_w
    if all(w is not None for w in reading.power_w):
        return float(sum(w for w in reading.power_w if w is not None))
    currents = phase_currents(reading)
    return None if currents is None else sum(currents) * volt


def battery_share(meters: Iterable[MeterRuntime], cfg: SiteSettings) -> float:
    """What the home batteries add to the surplus (W); negative while one gives below its
    discharge charge (that power is not surplus, though the grid meter cannot tell)."""
    share = 0.0
    for m in meters:
        if m.spec.role is not MeterRole.BATTERY or not m.online or not m.spec.enabled:
            continue
        power = total_power(m.reading, cfg.nominal_voltage_v)
        if power is None:
            continue
        soc = m.reading.soc_pct if m.reading is not None else None
        share += battery_rule(power, soc, cfg)
    return share


def battery_rule(power_w: float, soc: float | None, cfg: SiteSettings) -> float:
    """One battery's share: `power_w` > 0 charging, < 0 giving."""
    if soc is not None and soc > cfg.battery_discharge_soc:
        return max(power_w, 0.0)  # may give to the car; what it charges is available too
    if soc is not None and soc >= cfg.battery_priority_soc:
        return power_w  # charging is available; giving is not surplus
    return min(power_w, 0.0)  # charged first: only its giving is taken off


@dataclass
class SurplusMeter:
    """The rolling average of the surplus over `window_s` seconds, weighted by time: each
    sample stands for the time since the one before it (sums kept as samples come and go)."""

    samples: deque[tuple[float, float, float]] = field(default_factory=deque)
    raw_w: float | None = None
    average_w: float | None = None
    _total: float = 0.0
    _weight: float = 0.0

    def update(self, now: float, raw_w: float | None, window_s: float) -> float | None:
        """Add this cycle's surplus (None: not measurable, which empties the average)."""
        self.raw_w = raw_w
        if raw_w is None:
            self.samples.clear()
            self._total = self._weight = 0.0
            self.average_w = None
            return None
        dt = max(now - self.samples[-1][0], 0.0) if self.samples else 0.0
        self.samples.append((now, raw_w, dt))
        self._total += raw_w * dt
        self._weight += dt
        while len(self.samples) > 1 and self.samples[0][0] <= now - window_s:
            _, w, d = self.samples.popleft()
            self._total -= w * d
            self._weight -= d
        if self._weight > 1e-9:
            self.average_w = self._total / self._weight
        else:
            self.average_w = raw_w
        return self.average_w
