"""Max-min fair progressive filling (water-filling) over constraint rows, continuous in amperes.

A common water level t rises from 0; every rising box's current is t. A box starts rising when
t reaches its start current and stops at its cap, or when a row it loads becomes full: then
every box of every kind in that row stops at t. So boxes that one full row stops share it
equally, and a box stopped elsewhere (its cap, another row) leaves its share to the others.

Between events each row's load grows linearly in t, so only starts, caps and full rows are
events; a heap finds the next full row. Cost: (boxes + kinds x rows per kind) x log.
Negative coefficients (the quiet side of an unbalance gap) are left out here: the quiet side
stays where it started, which is safe; unbalance.py lets the busy side follow it afterwards.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Iterable

from manager.allocation.problem import Kind

INF = math.inf


class _Rows:
    """Each row's load as a linear function of t: load = used + rate * (t - since)."""

    def __init__(self, room: list[float]) -> None:
        self.room = room
        self.used: dict[int, float] = {}
        self.rate: dict[int, float] = {}
        self.since: dict[int, float] = {}
        self.version: dict[int, int] = {}
        self.heap: list[tuple[float, int, int]] = []

    def change(self, t: float, terms: Iterable[tuple[int, float]], count: int) -> None:
        """`count` more boxes of a kind with these terms rise from level t on."""
        for r, w in terms:
            rate = self.rate.get(r, 0.0)
            used = self.used.get(r, 0.0) + rate * (t - self.since.get(r, t))
            self.used[r], self.since[r] = used, t
            rate = self.rate[r] = rate + w * count
            v = self.version[r] = self.version.get(r, 0) + 1
            if rate > 1e-12:
                full = t + max(0.0, self.room[r] - used) / rate
                heapq.heappush(self.heap, (full, r, v))

    def next_full(self) -> tuple[float, int]:
        heap = self.heap
        while heap and heap[0][2] != self.version[heap[0][1]]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][1]) if heap else (INF, -1)


def water_fill(
    kinds: list[Kind],
    members: dict[int, list[tuple[float, float, int]]],
    room: list[float],
) -> dict[int, tuple[float, int | None]]:
    """Fill `members` (kind -> [(start, cap, box)], amperes) within `room` per row.

    Returns per box its current and the row that stopped it (None: its cap)."""
    rows = _Rows(room)
    loaders: dict[int, list[int]] = {}  # row -> the member kinds a full row stops
    for k in members:
        for r, _ in kinds[k].up:
            loaders.setdefault(r, []).append(k)
    starts = sorted((s, box, k, c) for k, ms in members.items() for s, c, box in ms)
    caps = sorted((c, box, k) for k, ms in members.items() for _, c, box in ms)
    rising: dict[int, set[int]] = {k: set() for k in members}
    stopped: dict[int, int] = {}  # kind -> the row that stopped it
    out: dict[int, tuple[float, int | None]] = {}
    si = ci = 0
    left = len(starts)
    while left:
        t_start = starts[si][0] if si < len(starts) else INF
        t_cap = caps[ci][0] if ci < len(caps) else INF
        t_full, r = rows.next_full()
        if t_cap <= t_full and t_cap <= t_start:
            _, box, k = caps[ci]
            ci += 1
            if box in rising[k]:
                rising[k].discard(box)
                rows.change(t_cap, kinds[k].up, -1)
                out[box] = (t_cap, None)
                left -= 1
        elif t_full <= t_start:
            for k in loaders[r]:
                if k in stopped:
                    continue
                stopped[k] = r
                for box in rising[k]:
                    out[box] = (t_full, r)
                left -= len(rising[k])
                rows.change(t_full, kinds[k].up, -len(rising[k]))
                rising[k] = set()
            rows.version[r] += 1  # full: no more events
        else:
            s, box, k, c = starts[si]
            si += 1
            if s >= c:
                out[box] = (c, None)
                left -= 1
            elif k in stopped:
                out[box] = (s, stopped[k])
                left -= 1
            else:
                rising[k].add(box)
                rows.change(s, kinds[k].up, 1)
    return out
