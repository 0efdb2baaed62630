"""Max-min fair progressive filling (water-filling) over constraint rows, continuous in amperes.

A water level t rises from 0. Kinds form groups; every rising box of a group has the group's
level, which rises w times as fast as t (w = 1 unless a `Drag` says otherwise). A box starts
rising when its group's level reaches its start current and stops at its cap, or when a row it
loads becomes full: then every box of every kind in that row stops. So boxes that one full row
stops share it equally, and a box stopped elsewhere (its cap, another row) leaves its share to
the others.

Between events each row's load grows linearly in t, so only starts, caps, full rows and weight
changes are events; heaps find the next ones. Rows that could not fill even with every box at
its cap are left out. Cost: (boxes + kinds x rows per kind) x log.
Negative coefficients (the quiet side of an unbalance gap) count too: while the quiet side
rises, the gap fills more slowly, and the busy side rises with it. A full gap stops its busy
side only; unbalance.py lets the busy side follow afterwards, and its `Drag` reweighs the
groups at every event so that the quiet sides keep pace with the busy ones.
"""

from __future__ import annotations

import heapq
import math
from typing import Protocol

from manager.allocation.problem import Kind
from manager.allocation.rows import EPS

INF = math.inf
#: per kind: (start, cap, box) of the boxes to fill, amperes
Members = dict[int, list[tuple[float, float, int]]]
Result = dict[int, tuple[float, int | None]]
#: (level, _CAP or _START, kind, number of boxes): a group's events, sorted
Event = tuple[float, int, int, int]
_CAP, _START = 0, 1  # at one level caps come first, then full rows, then starts


class Drag(Protocol):
    """How fast each group rises: `group` maps kinds to groups 1, 2, ... (kinds not in it are
    group 0, weight 1); `weights` gives each group's weight from its live boxes (rising or yet
    to start) per group."""

    group: dict[int, int]

    def weights(self, live: list[int]) -> list[float]: ...

    def link(self, r: int) -> bool:
        """Row r is full: True if the drag takes it on (its sides rise together from now)."""
        ...


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
    kinds: list[Kind], members: Members, room: list[float], drag: Drag | None = None
) -> Result:
    """Fill `members` within `room` per row; per box its current and the row that stopped it
    (None: its cap). The boxes of a dragged kind all rise from their starts at once, each
    from its own start (a quiet side above its busy side must rise for the busy side to)."""
    terms = tight_terms(kinds, members, room)
    out: Result = {}
    group = drag.group if drag else {}
    events: list[list[Event]] = [[] for _ in range(1 + len(set(group.values())))]
    loaders: dict[int, list[int]] = {}  # row -> the kinds a full row stops
    boxes: dict[int, list[tuple[float, float, int]]] = {}  # kind -> (cap, start, box) to fill
    for k, ms in members.items():
        for s, c, box in ms:
            if s >= c or not terms[k]:  # nothing can stop them but their caps
                out[box] = (c, None)
        if not terms[k]:
            continue
        for r, w in terms[k]:
            if w > 0:
                loaders.setdefault(r, []).append(k)
        g = group.get(k, 0)
        boxes[k] = _kind_events(k, ms, g > 0, events[g])
    for ev in events:
        ev.sort()
    start = min((s for ms in members.values() for s, _, _ in ms), default=0.0)
    _Sweep(terms, loaders, _Rows(room), boxes, out, _Groups(events, start), drag).run()
    return out


def _kind_events(
    k: int, ms: list[tuple[float, float, int]], dragged: bool, events: list[Event]
) -> list[tuple[float, float, int]]:
    """Kind k's boxes that rise, in the order they reach their caps; their starts and caps as
    events with the number of boxes at each (a dragged kind's in rises from its starts)."""
    rise = [(c, s, box) for s, c, box in ms if s < c]
    rise.sort(key=(lambda x: x[0] - x[1]) if dragged else None)
    count: dict[tuple[float, int], int] = {}
    for c, s, _ in rise:
        at = (0.0, _START) if dragged else (s, _START)
        count[at] = count.get(at, 0) + 1
        at = (c - s, _CAP) if dragged else (c, _CAP)
        count[at] = count.get(at, 0) + 1
    events += ((v, what, k, n) for (v, what), n in count.items())
    return rise


class _Groups:
    """Each group's level as a linear function of t, and where it is in its sorted events."""

    def __init__(self, events: list[list[Event]], start: float) -> None:
        n = len(events)
        self.events = events
        self.stopped: dict[int, int] = {}  # kind -> the row that stopped it
        self.pos = [0] * n
        self.level = [0.0] * n  # at `since`
        self.since = [0.0] + [start] * (n - 1)  # dragged groups rise from where the fill starts
        self.weight = [1.0] * n
        self.rising = [0] * n  # boxes rising
        self.live = [sum(e[3] for e in ev if e[1] == _START) for ev in events]  # not at cap
        self.rows: list[dict[int, float]] = [{} for _ in range(n)]  # row -> coefficient x boxes
        self.version = [0] * n
        self.heap: list[tuple[float, int, int, int]] = []
        for g in range(n):
            self.push(g)

    def at(self, g: int, t: float) -> float:
        return self.level[g] + self.weight[g] * (t - self.since[g])

    def push(self, g: int) -> None:
        """Queue group g's next event (at the t its level reaches it)."""
        self.version[g] += 1
        ev, pos = self.events[g], self.pos[g]
        while pos < len(ev) and ev[pos][2] in self.stopped:
            pos += 1
        self.pos[g] = pos
        if pos < len(ev):
            value, what = ev[pos][:2]
            t = self.since[g] + (value - self.level[g]) / self.weight[g]
            heapq.heappush(self.heap, (t, what, g, self.version[g]))

    def next(self) -> tuple[float, int, int]:
        heap, version = self.heap, self.version
        while heap and heap[0][3] != version[heap[0][2]]:
            heapq.heappop(heap)
        return heap[0][:3] if heap else (INF, _CAP, -1)

    def reweigh(self, t: float, weights: list[float], deltas: dict[int, float]) -> None:
        for g, w in enumerate(weights):
            if w != self.weight[g]:
                self.level[g], self.since[g] = self.at(g, t), t
                for r, x in self.rows[g].items():
                    deltas[r] = deltas.get(r, 0.0) + x * (w - self.weight[g])
                self.weight[g] = w
                self.push(g)


class _Sweep:
    """The kinds as the level rises: how many of each kind's boxes have started and reached
    their caps (boxes reach their caps in order), and the kinds a row stopped."""

    def __init__(
        self,
        terms: dict[int, tuple],
        loaders: dict[int, list[int]],
        rows: _Rows,
        boxes: dict[int, list[tuple[float, float, int]]],
        out: Result,
        groups: _Groups,
        drag: Drag | None,
    ) -> None:
        self.terms, self.loaders, self.rows, self.boxes, self.out = (
            terms,
            loaders,
            rows,
            boxes,
            out,
        )
        self.drag = drag
        self.group: dict[int, int] = drag.group if drag else {}
        self.groups = groups
        self.stopped = groups.stopped
        self.started = dict.fromkeys(boxes, 0)
        self.capped = dict.fromkeys(boxes, 0)

    def run(self) -> None:
        """Events in order of t: caps, then rows full by then, then starts."""
        groups, rows = self.groups, self.rows
        while True:
            t, what, g = groups.next()
            if g < 0:
                return
            t_full, r = rows.next_full()
            if t_full < t or (t_full == t and what == _START):
                self._stop(t_full, r)
                continue
            deltas: dict[int, float] = {}
            at = (t, what)
            while (t, what) == at:  # every group's events at this t, then the rows
                self._batch(what, g, deltas)
                groups.push(g)
                t, what, g = groups.next()
            self._reweigh(at[0], deltas)
            rows.change(at[0], deltas)

    def _batch(self, what: int, g: int, deltas: dict[int, float]) -> None:
        """Group g's events at its next value and of its next type: starts or caps."""
        groups = self.groups
        ev, pos = groups.events[g], groups.pos[g]
        value = ev[pos][0]
        sign = 1 if what == _START else -1
        w, rows = groups.weight[g], groups.rows[g]
        while pos < len(ev) and ev[pos][0] == value and ev[pos][1] == what:
            _, _, k, n = ev[pos]
            pos += 1
            if k in self.stopped:
                continue
            if what == _START:
                self.started[k] += n
            else:
                i = self.capped[k] = self.capped[k] + n
                self.out.update((box, (c, None)) for c, _, box in self.boxes[k][i - n : i])
                groups.live[g] -= n
            groups.rising[g] += sign * n
            for r, c in self.terms[k]:
                rows[r] = rows.get(r, 0.0) + sign * c * n
                deltas[r] = deltas.get(r, 0.0) + sign * c * n * w
        groups.pos[g] = pos

    def _reweigh(self, t: float, deltas: dict[int, float]) -> None:
        if self.drag is not None:
            self.groups.reweigh(t, self.drag.weights(self.groups.live), deltas)

    def _stop(self, t: float, r: int) -> None:
        """Row r is full at level t: every kind in it stops, its rising boxes at their level,
        its boxes yet to start where they start (unless the drag takes the row on)."""
        out, groups = self.out, self.groups
        deltas: dict[int, float] = {}
        if self.drag is not None and self.drag.link(r):  # its quiet side is dragged along
            self._reweigh(t, deltas)
            self.rows.change(t, deltas)
            self.rows.version[r] += 1
            return
        for k in self.loaders[r]:
            if k in self.stopped or k not in self.boxes:
                continue
            self.stopped[k] = r
            g = self.group.get(k, 0)
            level, rest = groups.at(g, t), self.boxes[k][self.capped[k] :]
            groups.live[g] -= len(rest)
            if g:  # every box rises from its start
                out.update((box, (s + level, r)) for _, s, box in rest)
            else:  # rising boxes are at the level, the others at their starts above it
                out.update((box, (max(s, level), r)) for _, s, box in rest)
            n = self.started[k] - self.capped[k]
            if n:
                groups.rising[g] -= n
                rows = groups.rows[g]
                for q, c in self.terms[k]:
                    rows[q] -= c * n
                    deltas[q] = deltas.get(q, 0.0) - c * n * groups.weight[g]
        self._reweigh(t, deltas)
        self.rows.change(t, deltas)
        self.rows.version[r] += 1  # full: no more events from it
