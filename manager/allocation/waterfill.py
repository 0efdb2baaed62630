"""Max-min fair progressive filling (water-filling) over constraint rows, continuous in amperes.

A common water level t rises from 0; every rising box's current is t. A box starts rising when
t reaches its start current and stops at its cap, or when a row it loads becomes full: then
every box of every kind in that row stops at t. So boxes that one full row stops share it
equally, and a box stopped elsewhere (its cap, another row) leaves its share to the others.

Between events each row's load grows linearly in t, so only starts, caps and full rows are
events; a heap finds the next full row. Rows that could not fill even with every box at its cap
are left out. Cost: (boxes + kinds x rows per kind) x log.
Negative coefficients (the quiet side of an unbalance gap) count too: while the quiet side
rises, the gap fills more slowly, and the busy side rises with it. A full gap stops its busy
side only; when its quiet side rises on, unbalance.py lets the busy side follow afterwards.
"""

from __future__ import annotations

import heapq
import math
from itertools import groupby

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

    def change(self, t: float, deltas: dict[int, float]) -> None:
        """From level t on, each row's load grows faster by its delta (boxes start or stop)."""
        used, rate, since, version, room = self.used, self.rate, self.since, self.version, self.room
        for r, d in deltas.items():
            u = used[r] = used[r] + rate[r] * (t - since[r])
            since[r] = t
            x = rate[r] = rate[r] + d
            v = version[r] = version[r] + 1
            if x > 1e-9:  # counts times weights: anything smaller is rounding
                heapq.heappush(self.heap, (t + max(0.0, room[r] - u) / x, r, v))

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
    return {k: tuple(t for t in kinds[k].terms if t[0] in tight) for k in members}


def water_fill(
    kinds: list[Kind], members: Members, room: list[float], weights: dict[int, float] | None = None
) -> Result:
    """Fill `members` within `room` per row; per box its current and the row that stopped it
    (None: its cap). A kind with a weight w rises w times as fast as the level (unbalance.py
    uses that to raise a gap's quiet side ahead of its busy side)."""
    weight = weights or {}
    terms = tight_terms(kinds, members, room)
    out: Result = {}
    events: dict[tuple[float, int, int], list[int]] = {}
    loaders: dict[int, list[int]] = {}  # row -> the kinds a full row stops
    pending: dict[int, dict[int, float]] = {}  # kind -> its boxes not rising yet: start
    for k, ms in members.items():
        if not terms[k]:  # nothing can stop them but their caps
            out.update((box, (c, None)) for _, c, box in ms)
            continue
        for r, w in terms[k]:
            if w > 0:
                loaders.setdefault(r, []).append(k)
        pending[k] = {}
        w = weight.get(k, 1.0)
        for s, c, box in ms:
            if s >= c:
                out[box] = (c, None)
            else:
                pending[k][box] = s
                events.setdefault((s / w, _START, k), []).append(box)
                events.setdefault((c / w, _CAP, k), []).append(box)
    sweep = _Sweep(terms, loaders, _Rows(room), pending, out)
    sweep.weight = weight
    for (t, what), group in groupby(sorted(events.items()), key=lambda e: e[0][:2]):
        if not sweep.live:  # every box decided: the caps still ahead lie above the level
            break
        sweep.until(t, what == _START)
        deltas: dict[int, float] = {}
        for (_, _, k), boxes in group:
            if k not in sweep.stopped:
                (sweep.start if what == _START else sweep.cap)(t, k, boxes, deltas)
        sweep.rows.change(t, deltas)
    return out


def _add(deltas: dict[int, float], terms: tuple, count: float) -> None:
    for r, w in terms:
        deltas[r] = deltas.get(r, 0.0) + w * count


class _Sweep:
    """The kinds as the level rises: rising boxes, boxes yet to start, kinds a row stopped."""

    def __init__(
        self,
        terms: dict[int, tuple],
        loaders: dict[int, list[int]],
        rows: _Rows,
        pending: dict[int, dict[int, float]],
        out: Result,
    ) -> None:
        self.terms, self.loaders, self.rows, self.pending, self.out = (
            terms,
            loaders,
            rows,
            pending,
            out,
        )
        self.rising: dict[int, set[int]] = {k: set() for k in pending}
        self.stopped: dict[int, int] = {}  # kind -> the row that stopped it
        self.live = set(pending)  # kinds with boxes still to decide
        self.weight: dict[int, float] = {}  # kind -> how fast it rises with the level

    def until(self, t: float, starting: bool) -> None:
        """Stop the kinds of every row that is full before level t (at t, before starts)."""
        t_full, r = self.rows.next_full()
        while t_full < t or (t_full == t and starting):
            self._stop(t_full, r)
            t_full, r = self.rows.next_full()

    def start(self, t: float, k: int, boxes: list[int], deltas: dict[int, float]) -> None:
        pending = self.pending[k]
        for box in boxes:
            del pending[box]
        self.rising[k].update(boxes)
        _add(deltas, self.terms[k], len(boxes) * self.weight.get(k, 1.0))

    def cap(self, t: float, k: int, boxes: list[int], deltas: dict[int, float]) -> None:
        rising = self.rising[k]
        rising.difference_update(boxes)
        w = self.weight.get(k, 1.0)
        _add(deltas, self.terms[k], -len(boxes) * w)
        self.out.update((box, (t * w, None)) for box in boxes)
        if not rising and not self.pending[k]:
            self.live.discard(k)

    def _stop(self, t: float, r: int) -> None:
        """Row r is full at level t: every kind in it stops, its rising boxes at t, its boxes
        yet to start where they start."""
        out = self.out
        deltas: dict[int, float] = {}
        for k in self.loaders[r]:
            if k in self.stopped:
                continue
            self.stopped[k] = r
            self.live.discard(k)
            w = self.weight.get(k, 1.0)
            out.update((box, (t * w, r)) for box in self.rising[k])
            out.update((box, (s, r)) for box, s in self.pending[k].items())
            _add(deltas, self.terms[k], -len(self.rising[k]) * w)
            self.rising[k] = set()
        self.rows.change(t, deltas)
        self.rows.version[r] += 1  # full: no more events from it
