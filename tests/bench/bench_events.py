"""How long storing one event takes with a full month on disk (one atomic write, fsync included).

Events are written on the event loop, like sessions: this is how long the loop is held per event.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from manager.events import PER_MONTH, EventLog


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        log = EventLog(Path(tmp))
        for n in range(PER_MONTH):
            log("offline", f"box {n}: no answer from 192.0.2.{n % 250}:502", device=f"box{n}")
        times = []
        for n in range(200):
            t0 = time.perf_counter()
            log("online", f"box {n} answers again", device=f"box{n}")
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(
            f"event with {PER_MONTH} in the month: p50 {statistics.median(times):.1f} ms, "
            f"p99 {times[int(len(times) * 0.99) - 1]:.1f} ms"
        )


if __name__ == "__main__":
    main()
