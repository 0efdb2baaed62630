"""Max-min fair progressive filling (water-filling) over constraint rows, continuous in amperes.

A common water level t rises from 0; every rising box's current is t. A box starts rising when
t reaches its start current and stops at its cap, or when a row it loads becomes full: then
every box of every kind in that row stops at t. So boxes that one full row stops share it
equally, and a box stopped elsewhere (its cap, another row) leaves its share to the others.

Between events each row's load grows linearly in t, so only starts, caps and full rows are
events; a heap finds the next full row. Rows that could not fill even with every box at its cap
are left out. Cost: (boxes + kinds x rows per kind) x log.
Negative coefficients (the quiet side of an unbalance gap) are left out here: the quiet side
stays where it started, which is safe; unbalance.py lets the busy side follow it afterwards.
"""

from __future__ import annotations

import heapq
import math

from manager.allocation.problem import Kind
from manager.allocation.rows import EPS

INF = math.inf
#: per kind: (start, cap, box) of the boxes to fill, amperes
Members = dict[int, list[tuple[float, float, int]]]
Result = dict[int, tuple[float, int | None]]
_START, _CAP = 1, 0  # at one level caps come first, then full rows, then starts


class _Rows:
    """Each row's load as a linear function of t: load = used + rate * (t - since)."""

    def __init__(self, room: list[float]) -> None:
        n = len(room)
        self.room = room
        self.used = [0.0] * n
        self.rate = [0.0] * n
        self.since = [0.0] * n
        self.version = [0] * n
        self.heap: list[tuple[float, int, int]] = []

    def change(self, t: float, terms: tuple[tuple[int, float], ...], count: int) -> None:
        """`count` more boxes of a kind with these terms rise from level t on."""
        used, rate, since, version = self.used, self.rate, self.since, self.version
        for r, w in terms:
            u = used[r] = used[r] + rate[r] * (t - since[r])
            since[r] = t
            x = rate[r] = rate[r] + w * count
            v = version[r] = version[r] + 1
            if x > 1e-12:
                heapq.heappush(self.heap, (t + max(0.0, self.room[r] - u) / x, r, v))

    def next_full(self) -> tuple[float, int]:
        heap, version = self.heap, self.version
        while heap and heap[0][2] != version[heap[0][1]]:
            heapq.heappop(heap)
        return (heap[0][0], heap[0][1]) if heap else (INF, -1)


def tight_terms(kinds: list[Kind], members: Members, room: list[float]) -> dict[int, tuple]:
    """Per kind, its terms in rows that could fill up if every member rose to its cap."""
    reach: dict[int, float] = {}
    for k, ms in members.items():
        rise = sum(c - s for s, c, _ in ms)
        for r, w in kinds[k].up:
            reach[r] = reach.get(r, 0.0) + w * rise
    tight = {r for r, x in reach.items() if x > room[r] + EPS}
    return {k: tuple(t for t in kinds[k].up if t[0] in tight) for k in members}


def water_fill(kinds: list[Kind], members: Members, room: list[float]) -> Result:
    """Fill `members` within `room` per row; per box its current and the row that stopped it
    (None: its cap)."""
    terms = tight_terms(kinds, members, room)
    out: Result = {}
    events: dict[tuple[float, int, int], list[int]] = {}
    loaders: dict[int, list[int]] = {}  # row -> the kinds a full row stops
    for k, ms in members.items():
        if not terms[k]:  # nothing can stop them but their caps
            out.update((box, (c, None)) for _, c, box in ms)
            continue
        for r, _ in terms[k]:
            loaders.setdefault(r, []).append(k)
        for s, c, box in ms:
            if s >= c:
                out[box] = (c, None)
            else:
                events.setdefault((s, _START, k), []).append(box)
                events.setdefault((c, _CAP, k), []).append(box)
    _sweep(sorted(events.items()), terms, loaders, _Rows(room), out)
    return out


def _sweep(
    events: list[tuple[tuple[float, int, int], list[int]]],
    terms: dict[int, tuple],
    loaders: dict[int, list[int]],
    rows: _Rows,
    out: Result,
) -> None:
    rising: dict[int, set[int]] = {k: set() for k in terms}
    stopped: dict[int, int] = {}  # kind -> the row that stopped it
    for (t, what, k), boxes in events:
        t_full, r = rows.next_full()
        while t_full < t or (t_full == t and what == _START):
            _stop_row(t_full, r, loaders, rising, stopped, rows, terms, out)
            t_full, r = rows.next_full()
        if k in stopped:
            if what == _START:
                out.update((box, (t, stopped[k])) for box in boxes)
        elif what == _START:
            rising[k].update(boxes)
            rows.change(t, terms[k], len(boxes))
        else:
            rising[k].difference_update(boxes)
            rows.change(t, terms[k], -len(boxes))
            out.update((box, (t, None)) for box in boxes)


def _stop_row(
    t: float,
    r: int,
    loaders: dict[int, list[int]],
    rising: dict[int, set[int]],
    stopped: dict[int, int],
    rows: _Rows,
    terms: dict[int, tuple],
    out: Result,
) -> None:
    """Row r is full at level t: every kind in it stops, its rising boxes at t."""
    for k in loaders[r]:
        if k not in stopped:
            stopped[k] = r
            out.update((box, (t, r)) for box in rising[k])
            rows.change(t, terms[k], -len(rising[k]))
            rising[k] = set()
    rows.version[r] += 1  # full: no more events from it
