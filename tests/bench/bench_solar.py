"""Solar charging, side by side: ampshare against a reference policy that does what evcc does.

For each simulated day (tests/solar_sim.py: sunny, cloudy, winter; 24 h of PV curve, household
load and cars) and two sites (one `pv` box; a `pv` and a `minpv` box), both policies drive the
same simulated world from the same seed:
- ampshare: its control loop, one cycle every 5 s (its default is 1 s; 5 s keeps the run short);
- reference: evcc's way with its defaults: a 30 s cycle, the loadpoints in turn, enable after
  the surplus covered the minimum for 1 min, disable after 3 min below it (thresholds 0 W), a
  5 min guard between enabling and disabling, 1p/3p switching on the same delays.
Printed per day and site: the share of the cars' energy that came from the sun, the energy,
pauses and phase switches. Goal: more solar energy in the cars than the reference, with at most
half its pauses and switches.

Run: python tests/bench/bench_solar.py  (part of `make bench`).
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from solar_sim import DAYS, Car, Day, DayFigures, run_ampshare, run_reference

SITES: dict[str, list[Car]] = {
    "1 box pv": [Car("a", "pv")],
    "pv + minpv": [Car("a", "pv", arrive=7.5, leave=18.0), Car("b", "minpv", arrive=8.0)],
}


def line(who: str, f: DayFigures) -> str:
    return (
        f"    {who:9} solar {100 * f.solar_share:5.1f} %  energy {f.energy_wh / 1000:5.1f} kWh"
        f"  from grid {f.grid_wh / 1000:5.2f} kWh  pauses {f.pauses:3d}  switches {f.switches:3d}"
        f"  overloads {f.violations}"
    )


async def main() -> int:
    t0 = time.perf_counter()
    verdicts = []
    for site, cars in SITES.items():
        for name, curve in DAYS.items():
            ours = await run_ampshare(Day(curve, cars), 5.0)
            ref = await run_reference(Day(curve, cars))
            print(f"{name} day, {site}:")
            print(line("ampshare", ours))
            print(line("reference", ref))
            more_sun = ours.energy_wh - ours.grid_wh >= ref.energy_wh - ref.grid_wh
            calm = ours.pauses <= ref.pauses / 2 and ours.switches <= ref.switches / 2
            verdicts.append((f"{name}, {site}", more_sun, calm))
    print()
    for what, more_sun, calm in verdicts:
        print(
            f"{what:22} more solar energy in the cars: {'yes' if more_sun else 'NO'};"
            f" at most half the pauses and switches: {'yes' if calm else 'NO'}"
        )
    print(f"\n(run took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
