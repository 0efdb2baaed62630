"""Time one allocation for 10 ... 10 000 wallboxes over a 3-level tree.

Run: python tests/bench/bench_allocator.py (or `make bench`). The sizes take turns in rounds,
so the ratio compares like with like on a noisy machine. The control loop allocates every
second on a Raspberry Pi (about 5x slower than a desktop); no house has 1 000 boxes. The
targets: 100 boxes <= 2 ms and 1 000 boxes <= 20 ms in every scenario, and 10 000 boxes
within 15x the time of 1 000.

The site: a grid connection, one feeder per 10 boards, one board per 10 wallboxes. Boxes are a
realistic mix: 3-phase boxes with unknown, 3-phase or 1-phase cars, 1-phase boxes on every
rotation, some demand caps, a few high-priority boxes. Scenarios:
- shared:    every car gets its min, fuses at every level share the rest (the common case);
             OCPP boxes (0.1 A steps), as on sites of this size;
- scarce:    as shared, but the grid connection cannot give everyone 6 A: cars queue for slots;
- unbalance: as shared, plus a 20 A unbalanced-load limit at the grid connection;
- mixed:     as shared, but 30 % of the boxes take 1 A steps (Modbus): a coarse box takes its
             whole step while it is the lowest, which costs step-by-step work near the fair share.
"""

from __future__ import annotations

import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from manager.allocation import allocate
from manager.model import ROTATIONS, Circuit, EvseLoad, Site

ROTATION_NAMES = sorted(ROTATIONS)


def make_site(count: int, scenario: str, seed: int = 1) -> tuple[Site, list[EvseLoad]]:
    rnd = random.Random(seed)
    boards = max(1, -(-count // 10))
    feeders = max(1, -(-boards // 10))
    boxes: list[EvseLoad] = []
    board_of: list[int] = []
    for i in range(count):
        board = i % boards
        three = rnd.random() < 0.7
        car = None
        if three:
            car = rnd.choice([None, None, frozenset({0, 1, 2}), frozenset({0})])
        boxes.append(
            EvseLoad(
                id=f"wb{i:05d}",
                circuit=f"board{board}",
                phases=3 if three else 1,
                rotation=rnd.choice(ROTATION_NAMES),
                car_phases=car,
                min_current_a=6.0,
                max_current_a=rnd.choice([16.0, 16.0, 32.0]),
                demand_a=None if rnd.random() < 0.6 else float(rnd.randint(6, 32)),
                priority=2 if rnd.random() < 0.1 else 1,
                resolution_a=1.0 if rnd.random() < 0.3 and scenario == "mixed" else 0.1,
                wait_rank=rnd.randrange(count),
            )
        )
        board_of.append(board)
    # limits: a share of what the boxes below could draw at most on their busiest phase
    want = [[0.0, 0.0, 0.0] for _ in range(boards)]
    for box, board in zip(boxes, board_of, strict=True):
        for p in box.site_phases():
            want[board][p] += box.max_current_a
    share = 0.12 if scenario == "scarce" else 0.5
    circuits = []
    feeder_want = [[0.0, 0.0, 0.0] for _ in range(feeders)]
    for b in range(boards):
        for p in range(3):
            feeder_want[b % feeders][p] += want[b][p]
        base = tuple(round(rnd.uniform(0.0, 8.0), 1) for _ in range(3))
        circuits.append(
            Circuit(
                id=f"board{b}",
                name=f"Board {b}",
                parent=f"feeder{b % feeders}",
                max_current_a=round(max(max(want[b]) * 0.8, 32.0)),
                base_load_a=base,
            )
        )
    for f in range(feeders):
        circuits.append(
            Circuit(
                id=f"feeder{f}",
                name=f"Feeder {f}",
                parent="grid",
                max_current_a=round(max(feeder_want[f]) * 0.65 + 20),
            )
        )
    total = max(sum(w[p] for w in want) for p in range(3))
    circuits.append(
        Circuit(
            id="grid",
            name="Grid",
            parent=None,
            max_current_a=round(total * share + 30),
            reserve_a=2.0,
            base_load_a=(12.0, 7.0, 9.0),
            max_unbalance_a=20.0 if scenario == "unbalance" else None,
        )
    )
    return Site(circuits=tuple(circuits)), boxes


def medians_ms(cases: dict[int, tuple[Site, list[EvseLoad]]]) -> dict[int, float]:
    """Median time of one allocate() per size. The sizes take turns in rounds, so a slow
    spell of a shared machine hits all of them alike and the 10 000 / 1 000 ratio holds."""
    times: dict[int, list[float]] = {count: [] for count in cases}
    for _ in range(15):
        for count, (site, boxes) in cases.items():
            for _ in range(max(1, 2000 // count)):
                t0 = time.perf_counter()
                allocate(site, boxes)
                times[count].append(time.perf_counter() - t0)
    return {count: statistics.median(t) * 1e3 for count, t in times.items()}


def main() -> None:
    print("allocator benchmark: median of one allocate() call, 3-level tree")
    for scenario in ("shared", "scarce", "unbalance", "mixed"):
        print(f"-- scenario {scenario}")
        cases = {count: make_site(count, scenario) for count in (10, 100, 1000, 10000)}
        for site, boxes in cases.values():
            allocate(site, boxes)  # warm up
        figures = medians_ms(cases)
        for count, (site, boxes) in cases.items():
            charging = sum(1 for v in allocate(site, boxes).setpoints.values() if v > 0)
            print(
                f"allocate {count:6d} wallboxes: median {figures[count]:8.3f} ms"
                f"  ({len(site.circuits)} circuits, {charging} charging)"
            )
        print(f"ratio 10000/1000: {figures[10000] / figures[1000]:.1f}x")


if __name__ == "__main__":
    main()
