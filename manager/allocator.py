"""The phase-aware budget allocator: how many amperes each wallbox may draw right now.

`allocate(site, evses)` is pure and deterministic: no I/O, no clock, no hidden state, and the
result does not depend on the order of the inputs. The control loop calls it every second, so it
is built for speed: wallboxes that load the same fuses on the same site phases are handled as
one group, and the fair share is found by one event-driven sweep over the "water level" instead
of raising currents step by step. docs/allocator.md explains the semantics for operators.

How one allocation is made:

1. Validate and normalise. A wallbox may charge between `lo` (its min rounded UP to its
   resolution grid) and `hi` (min(max, demand) rounded DOWN). Demand 0, `lo > hi` and circuits
   whose base load alone already breaks a limit (with everything below them) give 0.
2. Slots: every wallbox that can charge asks for its min, in the order priority (high first),
   wait_rank (low = waited longest), id; it gets it if that fits every fuse, power and
   unbalance limit on its way to the grid, otherwise it waits for a slot (first fit).
3. Fill, one priority level at a time (high first): max-min fair progressive filling from the
   mins upwards, continuous, then rounded down to each box's grid and topped up one step at a
   time, lowest current first (ties: wait_rank, id), while any limit has room. The top-up's
   first steps are handed out straight after rounding (_hand_out), and a level's boxes take
   whole rounds at once where every limit has room for them (_advance_rounds): the same
   setpoints as single steps, without the queue.
4. Unbalance limits are not monotone (a car on the light phase makes room on the heavy one).
   The sweep sees one constraint per ordered phase pair (p, q) of such a circuit:
   load_p - load_q <= limit, where boxes on p but not q count +1 and boxes on q but not p
   count -1; cars on all phases rising together leave it flat. A level is first filled
   without the gaps; if that keeps them all, that is the fill. Otherwise each gap the fill
   passed caps its heavy side where its light side ended, again while such caps move
   (_gap_passes). Rounding that widens a gap is repaired, by raising the light side first,
   and the top-up retries gap-blocked steps as the light side rises. A min refused by a gap
   waits, keyed by circuit and phases, until the light phases rose enough for it
   (_wake_slots); mins still waiting are tried with everything filled before the first fill
   (_late_slots_at_min), and rounds (_rounds) grant mins that only fit later and refill in
   priority order. Safety, bounds and maximality hold exactly; for these coupled loads
   priority and fairness are close, not exact (docs/allocator.md).

Constraint indices: phase p of circuit c is 3c+p, the power limit of c is 3C+c, and the
unbalance gap of the ordered phase pair number j at circuit c is 4C+6c+j, with C circuits.
"""

from __future__ import annotations

import gc
import heapq
import logging
import math
from bisect import bisect_right
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, replace
from itertools import accumulate, chain, compress, groupby, islice, pairwise, repeat, tee
from operator import add, attrgetter, eq, itemgetter, mul, sub

from manager.model import (
    PHASES,
    ROTATIONS,
    Allocation,
    Circuit,
    EvseLoad,
    Reason,
    Site,
    phase_name,
)

log = logging.getLogger(__name__)

#: tolerance of every comparison in amperes: float sums must not turn "exactly full" into "over"
EPS = 1e-9
#: grid rounding tolerance relative to one step (6 / 0.1 is 59.99999999999999 in floats)
GRID_EPS = 1e-9
#: capped sweeps per priority level that let heavy phases follow their light ones (_gap_passes)
GAP_PASSES = 4
#: unbalance rounds end after a few for real limits (>= 10 A); this only bounds pathological
#: inputs (limits far below one car's min); the result is safe either way
MAX_ROUNDS = 64

_INF = math.inf
_NO_H: tuple[tuple[int, int], ...] = ()  # a group's weighted constraints: none
#: constraints (or circuits) along a way to the grid: tuples, as kinds and paths share them and
#: nothing changes them
_Path = tuple[int, ...]
_NONE_LOW = 1 << 62  # _settle found no box that may rise off its limit's level
_FULL = (1 << PHASES) - 1
_ID = attrgetter("id")
_LEVEL = itemgetter(0)
_WIRING = attrgetter("phases", "rotation", "car_phases")
_CURRENTS = attrgetter("min_current_a", "max_current_a", "resolution_a", "demand_a")
_CIRCUIT = attrgetter("circuit")
_PRIORITY = attrgetter("priority")
_WAIT_RANK = attrgetter("wait_rank")
_PAIRS = [(p, q) for p in range(PHASES) for q in range(PHASES) if p != q]
_PHASES_OF = [tuple(p for p in range(PHASES) if mask >> p & 1) for mask in range(_FULL + 1)]

#: mins refused by an unbalance gap, waiting: circuit -> (site phases, min) -> heap of
#: (slot position, box)
_Parked = dict[int, dict[tuple[int, float], list[tuple[int, int]]]]

#: the sweep's events at one level: (level, [(group, change of its rising boxes), ...])
_Events = tuple[float, Iterable[tuple[int, int]]]

#: see _Allocator._below_at_min
_Below = tuple[list[float], dict[int, list[float]], set[int], bool]

# wallbox states
_WAITING, _GRANTED, _OUT = 0, 1, 2


def allocate(site: Site, evses: Sequence[EvseLoad]) -> Allocation:
    """Setpoints (0 = paused) and the reason for each, for every wallbox in `evses`.

    Raises ValueError naming the circuit or wallbox when the input is inconsistent.

    The cyclic garbage collector is paused meanwhile and then left as it was: an allocation
    makes no reference cycles (its tests check that), so everything it builds is freed by
    reference counting, and on large sites the collector would only walk its thousands of
    short-lived lists again and again for nothing (a tenth of the time at 10 000 boxes).
    """
    collecting = gc.isenabled()
    gc.disable()
    try:
        return _Allocator(site, evses).run()
    finally:
        if collecting:
            gc.enable()


# --------------------------------------------------------------------------------------------
# the circuit tree and its constraints
# --------------------------------------------------------------------------------------------


@dataclass(slots=True)
class _Kind:
    """Wallboxes that load exactly the same constraints: same circuit, same site phases."""

    circuit: int
    mask: int
    phases: tuple[int, ...]
    weight: int  # site phases loaded per ampere: weight in power limits
    phase_cons: tuple[int, ...]  # phase constraints along the path to the grid, nearest first
    power_cons: tuple[int, ...]  # power limits along the path (weight: `weight`)
    unb_circuits: Sequence[int]  # unbalance-limited circuits on the path (1- and 2-phase only)
    weighted: Sequence[tuple[int, int]]  # the sweep's other constraints: power, unbalance gaps


def _num(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


def _bad(x: object) -> bool:
    """True unless x is a number that is not NaN (inf passes; callers check the range)."""
    return not _num(x) or x != x  # x != x: NaN


class _Net:
    """The circuits as flat lists indexed by constraint: rooms, loads, unbalance state."""

    def __init__(self, site: Site) -> None:
        volt = site.nominal_voltage_v
        if _bad(volt) or not 0.0 < volt < _INF:
            raise ValueError(f"site: nominal_voltage_v must be a positive number, got {volt!r}")
        circuits = sorted(site.circuits, key=_ID)
        for a, b in pairwise(circuits):
            if a.id == b.id:
                raise ValueError(f"duplicate circuit id {a.id!r}")
        for c in circuits:
            try:  # the common case in one go; the details only when something is off
                b0, b1, b2 = c.base_load_a
                ok = (
                    0.0 <= c.max_current_a
                    and 0.0 <= c.reserve_a < _INF
                    and -_INF < b0 + b1 + b2 < _INF
                    and (c.max_power_w is None or c.max_power_w >= 0.0)
                    and (c.max_unbalance_a is None or c.max_unbalance_a >= 0.0)
                    and type(c.max_current_a) in (float, int)
                )
            except (TypeError, ValueError):
                ok = False
            if not ok:
                _check_circuit(c)
        self.index = {c.id: i for i, c in enumerate(circuits)}
        self.names = [c.name or c.id for c in circuits]
        self.cids = [c.id for c in circuits]
        n = self.count = len(circuits)
        roots = [c.id for c in circuits if c.parent is None]
        if n and not roots:
            raise ValueError("circuits: no root (one circuit must have no parent: the grid)")
        if len(roots) > 1:
            raise ValueError(f"circuits: more than one root (no parent): {', '.join(roots)}")
        parent = [-1] * n
        for i, c in enumerate(circuits):
            if c.parent is not None:
                if c.parent not in self.index:
                    raise ValueError(f"circuit {c.id!r}: unknown parent {c.parent!r}")
                parent[i] = self.index[c.parent]
        self.paths, order = self._paths(parent, circuits)

        self.u0 = 4 * n  # first unbalance-gap index
        room = [0.0] * (4 * n)
        limited = [False] * n  # per circuit: has a power limit
        self.unb: list[float | None] = [None] * n
        self.ubase: list[tuple[float, float, float]] = [(0.0, 0.0, 0.0)] * n
        own_dead: list[Reason | None] = [None] * n
        for i, c in enumerate(circuits):
            bl = c.base_load_a
            b0, b1, b2 = base = (float(bl[0]), float(bl[1]), float(bl[2]))
            free = c.max_current_a - c.reserve_a
            room[3 * i], room[3 * i + 1], room[3 * i + 2] = free - b0, free - b1, free - b2
            pw = c.max_power_w
            if pw is not None and pw < _INF:
                limited[i] = True
                room[3 * n + i] = pw / volt - PHASES * c.reserve_a - (b0 + b1 + b2)
            else:
                room[3 * n + i] = _INF
            if free - max(base) < -EPS:
                worst = base.index(max(base))
                own_dead[i] = self._about("base_overload", i, phase=phase_name(worst))
            elif room[3 * n + i] < -EPS:
                own_dead[i] = self._about("base_power", i)
            u = c.max_unbalance_a
            if u is not None and u < _INF:
                self.unb[i] = float(u)
                if c.unbalance_counts_base:
                    self.ubase[i] = base  # type: ignore[assignment]
                    if own_dead[i] is None and max(base) - min(base) > u + EPS:
                        own_dead[i] = self._about("base_unbalance", i)
        self.room = room
        self.load = [0.0] * (4 * n)
        self.asym = [0.0] * (3 * n)  # 1- and 2-phase wallbox current per circuit and phase
        # the constraints along each circuit's path, nearest first: its own, then its parent's
        # (parents come first in `order`, so theirs are ready)
        #: per phase: 3a + p for a on the path
        self.path_phase: list[tuple[_Path, _Path, _Path]] = [((), (), ())] * n
        self.path_all: list[_Path] = [()] * n  # the three of path_phase, one after the other
        self.path_power: list[_Path] = [()] * n  # 3n + a for power-limited a on the path
        self.path_unb: list[_Path] = [()] * n  # unbalance-limited circuits on the path
        self.parent = parent
        self.bottom_up = order[::-1]  # children before their parents
        self.power_limited = [c for c in range(n) if limited[c]]
        # a circuit is dead when it or a circuit above it is broken by its base load alone
        self.dead: list[Reason | None] = [None] * n
        path_phase, path_power, path_unb, dead, unb = (
            self.path_phase,
            self.path_power,
            self.path_unb,
            self.dead,
            self.unb,
        )
        top: _Path = ()
        for i in order:
            p = parent[i]
            if p < 0:
                up0 = up1 = up2 = up_power = up_unb = top
                up_dead = None
            else:
                up0, up1, up2 = path_phase[p]
                up_power, up_unb, up_dead = path_power[p], path_unb[p], dead[p]
            j = 3 * i
            a, b, c = path_phase[i] = ((j, *up0), (j + 1, *up1), (j + 2, *up2))
            self.path_all[i] = a + b + c
            path_power[i] = (3 * n + i, *up_power) if limited[i] else up_power  # shared
            path_unb[i] = (i, *up_unb) if unb[i] is not None else up_unb
            dead[i] = own_dead[i] if up_dead is None else up_dead  # the one nearest the grid

    @staticmethod
    def _paths(
        parent: list[int], circuits: list[Circuit]
    ) -> tuple[list[tuple[int, ...]], list[int]]:
        """Each circuit's way to the grid (itself first), and the circuits breadth first from
        the root, so that every parent comes before its children; raises on a cycle."""
        n = len(parent)
        children: list[list[int]] = [[] for _ in range(n)]
        order: list[int] = []  # the root, then grows while it is read: breadth first
        for i, p in enumerate(parent):
            (order if p < 0 else children[p]).append(i)
        paths: list[tuple[int, ...]] = [()] * n
        for i in order:
            p = parent[i]
            paths[i] = (i, *paths[p]) if p >= 0 else (i,)
            order += children[i]
        if len(order) < n:  # the others cannot reach the root: they hang on a cycle
            raise ValueError(f"circuits: cycle {_cycle(parent, circuits)}")
        return paths, order

    def _about(self, code: str, c: int, **more: str) -> Reason:
        """A reason about circuit number `c`."""
        return Reason(code, {"circuit": self.cids[c], "circuit_name": self.names[c], **more})

    def constraint_reason(self, k: int) -> Reason:
        n = self.count
        if k < 3 * n:
            return self._about("circuit_limit", k // 3, phase=phase_name(k % 3))
        if k < 4 * n:
            return self._about("power_limit", k - 3 * n)
        return self._about("unbalance_limit", (k - 4 * n) // 6)


def _check_circuit(c: Circuit) -> None:
    who = f"circuit {c.id!r}"
    if _bad(c.max_current_a) or c.max_current_a < 0:
        raise ValueError(f"{who}: max_current_a must be a number >= 0, got {c.max_current_a!r}")
    if c.max_power_w is not None and (_bad(c.max_power_w) or c.max_power_w < 0):
        raise ValueError(f"{who}: max_power_w must be a number >= 0, got {c.max_power_w!r}")
    if _bad(c.reserve_a) or not 0 <= c.reserve_a < _INF:
        raise ValueError(f"{who}: reserve_a must be a number >= 0, got {c.reserve_a!r}")
    base = c.base_load_a
    if (
        not isinstance(base, tuple | list)
        or len(base) != PHASES
        or any(_bad(b) or not -_INF < b < _INF for b in base)
    ):
        raise ValueError(f"{who}: base_load_a must be three finite numbers, got {base!r}")
    u = c.max_unbalance_a
    if u is not None and (_bad(u) or u < 0):
        raise ValueError(f"{who}: max_unbalance_a must be a number >= 0, got {u!r}")


def _cycle(parent: list[int], circuits: list[Circuit]) -> str:
    """The first cycle met walking up from each circuit in turn, as ids (for the message)."""
    done = [False] * len(parent)  # reaches the root
    for start in range(len(parent)):
        chain: list[int] = []
        c = start
        while c != -1 and not done[c]:
            if c in chain:
                return " -> ".join(repr(circuits[x].id) for x in [*chain[chain.index(c) :], c])
            chain.append(c)
            c = parent[c]
        for c in chain:
            done[c] = True
    return ""


# --------------------------------------------------------------------------------------------
# the wallboxes
# --------------------------------------------------------------------------------------------


def _check_evse(e: EvseLoad, net: _Net) -> None:
    """Detailed validation, run only when the fast checks in _Allocator found something."""
    who = f"wallbox {e.id!r}"
    if e.circuit not in net.index:
        raise ValueError(f"{who}: unknown circuit {e.circuit!r}")
    if e.phases not in (1, 3) or isinstance(e.phases, bool):
        raise ValueError(f"{who}: phases must be 1 or 3, got {e.phases!r}")
    if e.rotation not in ROTATIONS:
        raise ValueError(
            f"{who}: unknown phase rotation {e.rotation!r} (one of {', '.join(ROTATIONS)})"
        )
    cp = e.car_phases
    if cp is not None and (
        not isinstance(cp, frozenset | set | tuple | list)
        or any(not isinstance(p, int) or isinstance(p, bool) or not 0 <= p < PHASES for p in cp)
    ):
        raise ValueError(f"{who}: car_phases must be box phases 0, 1, 2 or None, got {cp!r}")
    for field in ("min_current_a", "max_current_a"):
        v = getattr(e, field)
        if _bad(v) or not 0 <= v < _INF:
            raise ValueError(f"{who}: {field} must be a finite number >= 0, got {v!r}")
    if e.min_current_a > e.max_current_a:
        raise ValueError(
            f"{who}: min_current_a {e.min_current_a:g} A is above max_current_a "
            f"{e.max_current_a:g} A"
        )
    if e.demand_a is not None and (_bad(e.demand_a) or e.demand_a < 0):
        raise ValueError(f"{who}: demand_a must be None or a number >= 0, got {e.demand_a!r}")
    r = e.resolution_a
    if _bad(r) or not 0 < r < _INF:
        raise ValueError(f"{who}: resolution_a must be a finite number > 0, got {r!r}")
    for field in ("priority", "wait_rank"):
        v = getattr(e, field)
        if not isinstance(v, int) or isinstance(v, bool):
            raise ValueError(f"{who}: {field} must be an integer, got {v!r}")


def _coarse_start(grids: set[float]) -> float:
    """How a limit with boxes on these grids starts its top-up (see _Allocator._settle):
    0 for one grid, the coarsest step c > 0 when every grid divides it (start at the last
    multiple of c), else -c (start one step c lower)."""
    if len(grids) < 2:
        return 0.0
    coarse = max(grids)
    if all(abs(coarse / g - round(coarse / g)) < GRID_EPS * coarse / g for g in grids):
        return coarse
    return -coarse


def _book(kd: _Kind, v: float, load: list[float]) -> None:
    """Add v amperes per phase of kind kd to its current and power limits in `load`."""
    for k in kd.phase_cons:
        load[k] += v
    if kd.power_cons:
        vw = v * kd.weight
        for k in kd.power_cons:
            load[k] += vw


def _one_grid(r: list[float], boxes: Iterable[int], step: float) -> bool:
    """Whether all these boxes take steps of `step`: at once when every box does, as usual
    (no set of floats: a float's hash is slow; mixed grids show after a few boxes)."""
    return r.count(step) == len(r) or all(map(eq, map(r.__getitem__, boxes), repeat(step)))


def _reachable(levels: list[float], rise: list[float], limit: float) -> bool:
    """Whether every phase could rise to within `limit` of the busiest one."""
    return max(levels) - limit <= min([levels[q] + rise[q] for q in range(PHASES)]) + EPS


def _stop_events(stops: list[float], sizes: list[int]) -> Iterator[_Events]:
    """Boxes reaching their caps as the sweep's events: per level, in rising order, the
    groups (in order) and minus their boxes stopping there. Lazily: the fill usually ends long
    before the last of them. `sizes`: the boxes per group, one group after the other."""
    by_stop = sorted(range(len(stops)), key=stops.__getitem__)  # stable: groups in order
    ends = list(accumulate(sizes))  # where each group's boxes end
    for t, run in groupby(by_stop, stops.__getitem__):
        yield t, [(g, -d) for g, d in Counter(map(bisect_right, repeat(ends), run)).items()]


class _Replay:
    """Events to read again and again (one sweep per pass), read from `source` only as far as
    a pass needs them, once."""

    def __init__(self, source: Iterable[_Events]) -> None:
        (self._start,) = tee(source, 1)  # never read: its copies read on from the start

    def __iter__(self) -> Iterator[_Events]:
        return self._start.__copy__()


class _Allocator:
    """One allocation's working state; lists are indexed by wallbox in id order."""

    def __init__(self, site: Site, evses: Sequence[EvseLoad]) -> None:
        """Read the boxes column by column: boxes share few wirings and few sets of currents,
        so each of those is looked at once, and the per-box work is C-level passes."""
        self.net = net = _Net(site)
        boxes = sorted(evses, key=_ID)
        ids = list(map(_ID, boxes))
        if m := len(boxes):
            for a, _ in compress(pairwise(ids), map(eq, ids, islice(ids, 1, None))):
                raise ValueError(f"duplicate wallbox id {a!r}")
        self.ids = ids
        index = net.index
        # per box: where the first box wired alike sits, and where the first with its currents
        wires = list(map(_WIRING, boxes))
        first_wired: dict[tuple[object, ...], int] = {}
        try:
            wired = list(map(first_wired.setdefault, wires, range(m)))
        except TypeError:  # car phases as a set or list: check them, then read them as a set
            for e in boxes:
                _check_evse(e, net)
            wires = [(p, rot, None if cp is None else frozenset(cp)) for p, rot, cp in wires]
            first_wired.clear()
            wired = list(map(first_wired.setdefault, wires, range(m)))
        currents = list(map(_CURRENTS, boxes))
        first_alike: dict[tuple[object, ...], int] = {}
        try:
            alike = list(map(first_alike.setdefault, currents, range(m)))
        except TypeError:  # a current that is not even a number
            for e in boxes:
                _check_evse(e, net)
            raise
        circuits = list(map(index.get, map(_CIRCUIT, boxes)))
        self.prio = prio = list(map(_PRIORITY, boxes))
        self.wait = wait = list(map(_WAIT_RANK, boxes))
        inf = _INF
        ok = None not in circuits and {*map(type, prio), *map(type, wait)} <= {int}
        for mn, mx, r, dm in first_alike:
            try:
                ok = ok and 0.0 <= mn <= mx < inf and 0.0 < r < inf and (dm is None or dm >= 0.0)
            except TypeError:
                ok = False
        if not ok:  # the first box in id order that is wrong, named with what is wrong
            for e in boxes:
                _check_evse(e, net)
        mask_at: dict[int, int] = {}
        for j in first_wired.values():
            try:
                _check_evse(boxes[j], net)  # phases, rotation and car phases in full
            except ValueError:  # an earlier box may be wrong in another way: name that one
                for e in boxes:
                    _check_evse(e, net)
            e = boxes[j]
            if e.car_phases is not None and type(e.car_phases) is not frozenset:
                e = replace(e, car_phases=frozenset(e.car_phases))
            mask_at[j] = sum(1 << p for p in e.site_phases())
        # per set of currents: steps at min and at the cap, the reason at the cap, and why a
        # box cannot charge at all (None: it can)
        lo_at: dict[int, int] = {}
        hi_at: dict[int, int] = {}
        cap_at: dict[int, Reason] = {}
        out_at: dict[int, Reason | None] = {}
        texts: dict[object, Reason] = {}
        ceil, floor = math.ceil, math.floor
        for (mn, mx, r, dm), j in first_alike.items():
            if dm is None or dm >= mx:
                cap, key = mx, ("max", mx)
            else:
                cap, key = dm, ("demand", dm)
            t = texts.get(key)
            if t is None:
                t = texts[key] = (
                    Reason("at_max", {"amps": mx})
                    if key[0] == "max"
                    else Reason("demand_cap", {"amps": dm})
                )
            cap_at[j] = t
            a = lo_at[j] = ceil(mn / r - GRID_EPS)
            b = hi_at[j] = floor(cap / r + GRID_EPS)
            if dm == 0:
                out_at[j] = Reason("no_demand")
            elif a > b:
                if dm is not None and dm < mn:
                    out_at[j] = Reason("below_min", {"demand": dm, "min": mn})
                else:
                    out_at[j] = Reason("min_above_max", {"min": mn, "step": r, "max": cap})
            else:
                out_at[j] = None
        # kinds: circuit and site phases, numbered as they first occur in id order
        keys = list(
            map(add, map(mul, circuits, repeat(_FULL + 1)), map(mask_at.__getitem__, wired))
        )
        kind_of = dict.fromkeys(keys, 0)
        self.kinds: list[_Kind] = []
        kinds = self.kinds
        for kid, key in enumerate(kind_of):
            kind_of[key] = kid
            kinds.append(self._make_kind(*divmod(key, _FULL + 1)))
        self.kind = kind = list(map(kind_of.__getitem__, keys))
        self.lo = list(map(lo_at.__getitem__, alike))  # in steps of the box's resolution
        self.hi = list(map(hi_at.__getitem__, alike))
        self.r = list(map(itemgetter(2), currents))
        #: the reason of a box at its cap: its max or its demand (a few texts, shared)
        self.cap_text = list(map(cap_at.__getitem__, alike))
        self.n = [0] * m  # current setpoint in steps
        self.state = state = [_WAITING] * m
        self.text: list[Reason | None] = [None] * m  # final reason, when already known
        self.why: list[int | None] = [None] * m  # constraint that stops the box (None: its cap)
        self.slot_fail: list[int | None] = [None] * m
        self.unb_refused: set[int] = set()  # refused a min by an unbalance limit at least once
        self.tried: set[tuple[int, bool, tuple[int, ...]]] = set()  # late slots (_rounds)
        self.failed: set[int] = set()  # circuits that could not balance late slots
        text = self.text
        if any(t is not None for t in out_at.values()):
            for i in compress(range(m), map(out_at.__getitem__, alike)):
                state[i], text[i] = _OUT, out_at[alike[i]]
        if any(d is not None for d in net.dead):  # boxes below a circuit its base load breaks
            dead = net.dead
            for i, kid in enumerate(kind):
                d = dead[kinds[kid].circuit]
                if d is not None and state[i] == _WAITING:
                    state[i], text[i] = _OUT, d

    def _make_kind(self, c: int, mask: int) -> _Kind:
        """A kind's constraints are its circuit's path tuples, shared; empty ones are one
        object."""
        net = self.net
        phases = _PHASES_OF[mask]
        power = net.path_power[c]
        weighted = [(k, len(phases)) for k in power]
        if mask == _FULL:  # 3-phase loads cannot change an unbalance
            return _Kind(c, mask, phases, 3, net.path_all[c], power, (), tuple(weighted))
        by_phase = net.path_phase[c]
        if len(phases) == 1:
            phase_cons = by_phase[phases[0]]  # shared, never changed
        else:
            phase_cons = by_phase[phases[0]] + by_phase[phases[1]]
        unb = net.path_unb[c]
        for a in unb:
            for j, (p, q) in enumerate(_PAIRS):
                w = (mask >> p & 1) - (mask >> q & 1)
                if w:
                    weighted.append((net.u0 + 6 * a + j, w))
        return _Kind(c, mask, phases, len(phases), phase_cons, power, unb, tuple(weighted))

    # -- constraint checks ---------------------------------------------------------------

    def _fits(self, kd: _Kind, v: float) -> int | None:
        """The first constraint that adding v amperes per phase of kind kd would break."""
        load, room = self.net.load, self.net.room
        for k in kd.phase_cons:
            if load[k] + v > room[k] + EPS:
                return k
        if kd.power_cons:
            vw = v * kd.weight
            for k in kd.power_cons:
                if load[k] + vw > room[k] + EPS:
                    return k
        for c in kd.unb_circuits:
            p = self._unbalance_breaks(c, kd.phases, v)
            if p is not None:
                return self.net.u0 + 6 * c + p  # any gap of circuit c: only c is named
        return None

    def _take(self, kd: _Kind, v: float) -> int | None:
        """Book v amperes per phase of kind kd if every limit has room (None), else leave
        everything as it is and name the first limit that has not."""
        load, room = self.net.load, self.net.room
        phase_cons = kd.phase_cons
        for k in phase_cons:
            if load[k] + v > room[k] + EPS:
                return k
        power_cons = kd.power_cons
        if power_cons:
            vw = v * kd.weight
            for k in power_cons:
                if load[k] + vw > room[k] + EPS:
                    return k
        if kd.unb_circuits:
            for c in kd.unb_circuits:
                p = self._unbalance_breaks(c, kd.phases, v)
                if p is not None:
                    return self.net.u0 + 6 * c + p
            asym = self.net.asym
            for c in kd.unb_circuits:
                for p in kd.phases:
                    asym[3 * c + p] += v
        for k in phase_cons:
            load[k] += v
        if power_cons:
            for k in power_cons:
                load[k] += vw
        return None

    def _fits_monotone(self, kd: _Kind, v: float) -> bool:
        load, room = self.net.load, self.net.room
        if any(load[k] + v > room[k] + EPS for k in kd.phase_cons):
            return False
        vw = v * kd.weight
        return not any(load[k] + vw > room[k] + EPS for k in kd.power_cons)

    def _levels(self, c: int) -> list[float]:
        net = self.net
        b, a = net.ubase[c], net.asym
        return [b[0] + a[3 * c], b[1] + a[3 * c + 1], b[2] + a[3 * c + 2]]

    def _unbalance_breaks(self, c: int, phases: tuple[int, ...], v: float) -> int | None:
        lv = self._levels(c)
        for p in phases:
            lv[p] += v
        if max(lv) - min(lv) > self.net.unb[c] + EPS:  # type: ignore[operator]
            return max(phases, key=lambda p: (lv[p], -p))
        return None

    def _add(self, kd: _Kind, v: float) -> None:
        _book(kd, v, self.net.load)
        if kd.unb_circuits:
            asym = self.net.asym
            for c in kd.unb_circuits:
                for p in kd.phases:
                    asym[3 * c + p] += v

    def _avail(self, k: int) -> float:
        """Room of a constraint as the sweep sees it (an unbalance cap is fixed per sweep)."""
        net = self.net
        if k < net.u0:
            return net.room[k] - net.load[k]
        c, j = divmod(k - net.u0, 6)
        p, q = _PAIRS[j]
        lv = self._levels(c)
        return net.unb[c] - (lv[p] - lv[q])  # type: ignore[operator]

    # -- the steps -----------------------------------------------------------------------

    def run(self) -> Allocation:
        prio, wait, state = self.prio, self.wait, self.state
        # slot order (-priority, wait_rank, index) from two stable sorts on plain integers
        if state.count(_WAITING) == len(state):  # every box may charge
            order = sorted(range(len(state)), key=wait.__getitem__)
        else:
            order = sorted([i for i, s in enumerate(state) if s == _WAITING], key=wait.__getitem__)
        if len(set(prio)) > 1:
            order.sort(key=prio.__getitem__, reverse=True)  # reversed, and still stable
        self._slots(order)
        refused = self.unb_refused  # only boxes below an unbalance limit
        stuck = [i for i in order if state[i] == _WAITING and i in refused] if refused else []
        # mins that only an unbalance limit refused: try them before the first fill already,
        # with everything filled (_rounds would otherwise fill everything a second time)
        if not (stuck and self._late_slots_at_min(stuck, order)):
            if state.count(_GRANTED) == len(order):  # every min granted, as usual
                self._fill(order)
            else:
                self._fill([i for i in order if state[i] == _GRANTED])
        kinds, kind, unb = self.kinds, self.kind, self.net.unb
        # boxes below an unbalance limit: only where a circuit has one
        if unb.count(None) < len(unb) and any(kinds[kind[i]].unb_circuits for i in order):
            self._rounds(order)
        return self._result()

    def _slots(self, order: list[int]) -> None:
        """Grant mins first-fit in slot order; skip the one-by-one checks where all fit."""
        kinds, kind, lo, r, state, n = self.kinds, self.kind, self.lo, self.r, self.state, self.n
        net = self.net
        want: dict[int, float] = {}
        for i in order:
            kid = kind[i]
            want[kid] = want.get(kid, 0.0) + lo[i] * r[i]
        total = [0.0] * (4 * net.count)
        for kid, v in want.items():
            _book(kinds[kid], v, total)
        room = net.room
        tight = {k for k, t in enumerate(total) if t > room[k] + EPS}
        if not tight and net.unb.count(None) == net.count:
            # every min fits, no unbalance limit: booking them kind by kind onto the loads,
            # still empty, would give the totals
            net.load[:] = total
            if len(order) == len(state):  # every box (the usual case): in one go
                state[:] = [_GRANTED] * len(state)
                n[:] = lo
                return
            for i in order:
                state[i] = _GRANTED
                n[i] = lo[i]
            return
        easy = []  # kinds whose every limit has room for all their mins, in any order
        gap_only: set[int] = set()  # ... but that load an unbalance gap: only gaps can refuse
        for kid in want:
            kd = kinds[kid]
            if not tight or (tight.isdisjoint(kd.phase_cons) and tight.isdisjoint(kd.power_cons)):
                if kd.unb_circuits:
                    gap_only.add(kid)
                else:
                    easy.append(kid)
                    self._add(kd, want[kid])
        easy_set = set(easy)
        # gap-only kinds book their current and power loads at the end (those limits have room
        # for every min anyway); refused mins wait, keyed by circuit, phases and size, until
        # their quiet phases have risen enough (_wake_slots)
        booked: dict[int, float] = {}
        parked: _Parked = {}
        for pos, i in enumerate(order):
            kid = kind[i]
            if kid in easy_set:
                state[i] = _GRANTED
                n[i] = lo[i]
                continue
            k = self._claim_slot(i, kid in gap_only, booked)
            if k is None:
                if parked:
                    self._wake_slots(parked, kinds[kid].unb_circuits, gap_only, booked)
            elif k >= net.u0:
                self._park_slot(parked, i, pos, k)
        for kid, v in booked.items():
            _book(kinds[kid], v, net.load)

    def _claim_slot(self, i: int, gap_only: bool, booked: dict[int, float]) -> int | None:
        """Grant box i its min if it fits (None), else name the first limit that refuses it.

        `gap_only`: only unbalance limits can refuse it; its current and power loads are
        booked in `booked` (per kind) for the caller to add."""
        kid = self.kind[i]
        kd = self.kinds[kid]
        v = self.lo[i] * self.r[i]
        if gap_only:
            k = None
            for c in kd.unb_circuits:
                if v > self._gap_room(c, kd.mask) + EPS:
                    lv = self._levels(c)
                    k = self.net.u0 + 6 * c + max(kd.phases, key=lambda p: (lv[p], -p))
                    break
            else:
                asym = self.net.asym
                for c in kd.unb_circuits:
                    for p in kd.phases:
                        asym[3 * c + p] += v
                booked[kid] = booked.get(kid, 0.0) + v
        else:
            k = self._take(kd, v)
        if k is None:
            self.state[i] = _GRANTED
            self.slot_fail[i] = None
            self.n[i] = self.lo[i]
        else:
            self.slot_fail[i] = k
            if k >= self.net.u0:
                self.unb_refused.add(i)
        return k

    def _gap_room(self, c: int, mask: int) -> float:
        """How far the site phases `mask` may rise together at circuit c before its unbalance
        limit breaks: the busiest of them must stay within the limit of the quietest other
        one (exact while the limit holds, as it does for the mins)."""
        net = self.net
        b, a, j = net.ubase[c], net.asym, 3 * c
        l0, l1, l2 = b[0] + a[j], b[1] + a[j + 1], b[2] + a[j + 2]
        u: float = net.unb[c]  # type: ignore[assignment]
        if mask == 1:
            return u + (l1 if l1 < l2 else l2) - l0
        if mask == 2:
            return u + (l0 if l0 < l2 else l2) - l1
        if mask == 4:
            return u + (l0 if l0 < l1 else l1) - l2
        if mask == 3:
            return u + l2 - (l0 if l0 > l1 else l1)
        if mask == 5:
            return u + l1 - (l0 if l0 > l2 else l2)
        return u + l0 - (l1 if l1 > l2 else l2)  # mask 6

    def _park_slot(self, parked: _Parked, i: int, pos: int, k: int) -> None:
        """Box i (at position `pos` in slot order) was refused by unbalance gap k."""
        c = (k - self.net.u0) // 6
        key = (self.kinds[self.kind[i]].mask, self.lo[i] * self.r[i])
        at = parked.get(c)
        if at is None:
            parked[c] = {key: [(pos, i)]}
        elif key in at:
            heapq.heappush(at[key], (pos, i))
        else:
            at[key] = [(pos, i)]

    def _wake_slots(
        self, parked: _Parked, circuits: list[int], gap_only: set[int], booked: dict[int, float]
    ) -> None:
        """Grant waiting mins that fit now, first in slot order first, until none does.

        A min v on site phases M at circuit c fits once the quietest phase outside M is at
        most (limit - v) below the busiest phase in M: mins parked by (c, M, v) are looked at
        only when that holds, and only at circuits whose phases moved (`circuits` to begin
        with). One that another limit refuses moves on (to the gap that refused it) or,
        refused by a current or power limit, waits for good."""
        dirty = [c for c in circuits if c in parked]
        if not dirty:
            return
        kinds, kind = self.kinds, self.kind
        u0, room = self.net.u0, self._gap_room
        aside: list[tuple[int, int, int]] = []  # (circuit, slot position, box)
        while dirty:
            best = None
            still = []
            for c in dirty:
                found = False
                for key, waiting in parked[c].items():
                    if key[1] <= room(c, key[0]) + EPS:
                        found = True
                        if best is None or waiting[0][0] < best[0][0]:
                            best = (waiting[0], c, key)
                if found:
                    still.append(c)
            if best is None:
                break
            dirty = still
            (pos, i), c, key = best
            at = parked[c]
            waiting = at[key]
            heapq.heappop(waiting)
            if not waiting:
                del at[key]
                if not at:
                    del parked[c]
                    dirty.remove(c)
            k = self._claim_slot(i, kind[i] in gap_only, booked)
            if k is None:
                for c2, pos2, i2 in aside:  # the state changed: they may fit now
                    self._park_slot(parked, i2, pos2, u0 + 6 * c2)
                aside.clear()
                for c2 in kinds[kind[i]].unb_circuits:
                    if c2 in parked and c2 not in dirty:
                        dirty.append(c2)
            elif k >= u0:
                if (k - u0) // 6 == c:  # refused where it looked fine: not again yet
                    aside.append((c, pos, i))
                else:
                    self._park_slot(parked, i, pos, k)
        for c2, pos2, i2 in aside:
            self._park_slot(parked, i2, pos2, u0 + 6 * c2)

    def _try_slot(self, i: int) -> bool:
        k = self._take(self.kinds[self.kind[i]], self.lo[i] * self.r[i])
        if k is not None:
            self.slot_fail[i] = k
            if k >= self.net.u0:
                self.unb_refused.add(i)
            return False
        self.state[i] = _GRANTED
        self.slot_fail[i] = None
        self.n[i] = self.lo[i]
        return True

    def _fill(self, granted: list[int]) -> None:
        """Sweep and top up each priority level in turn, highest first."""
        n, hi = self.n, self.hi
        rising = [i for i in granted if n[i] < hi[i]]
        # in slot order a priority's boxes come in one run: group runs, not boxes
        levels: dict[int, list[int]] = {}
        for p, boxes in groupby(rising, self.prio.__getitem__):
            members = levels.get(p)
            if members is None:
                levels[p] = list(boxes)
            else:
                members.extend(boxes)
        for p in sorted(levels, reverse=True):
            members = levels[p]
            if not self._sweep(members):  # True: nothing left for the top-up
                self._top_up(members)

    def _sweep(self, members: list[int]) -> bool:
        """Max-min fair progressive filling of one priority level, continuous in amperes.

        Every member's current is clamp(t, start, hi) for a common level t that rises from 0;
        when a constraint becomes full at level T, every group in it freezes at T. Between
        events each constraint's load is linear in t, so only group slope changes (boxes
        reaching their start or their cap) and saturations are events: O(events * path).
        True when rounding and the hand-out left nothing for the top-up.
        """
        n, r, hi, kind, kinds, why = self.n, self.r, self.hi, self.kind, self.kinds, self.why
        # the members by kind, in slot order within a kind (one list per kind: at most seven
        # per circuit), and per box what it could add at most
        by_kind: list[list[int]] = [[] for _ in kinds]
        for i in members:
            by_kind[kind[i]].append(i)
        kids = [kid for kid, ms in enumerate(by_kind) if ms]
        slices = [by_kind[kid] for kid in kids]
        ordered = list(chain.from_iterable(slices))
        starts = [n[i] * r[i] for i in ordered]
        stops = [hi[i] * r[i] for i in ordered]
        room = list(map(sub, stops, starts))
        incs: list[float] = []
        end = 0
        for ms in slices:  # a kind's boxes are one slice of `ordered`
            begin, end = end, end + len(ms)
            incs.append(sum(room[begin:end]))
        net = self.net
        glob, avail = self._tight(kids, incs)
        if not glob:  # no limit can fill up: every box to its cap
            for kid, ms in zip(kids, slices, strict=True):
                self._raise_group(kid, ms, [hi[i] for i in ms])
            for i in ordered:
                why[i] = None
            return True
        local = [-1] * (net.u0 + 6 * net.count)  # constraint -> index in the sweep's lists
        for x, k in enumerate(glob):
            local[k] = x
        # per circuit and phase: the sweep's constraints on the way to the grid, nearest first
        # (as in _Kind.phase_cons), each built from its parent's; parents come first
        parent = net.parent
        paths: list[tuple[_Path, _Path, _Path]] = [((), (), ())] * net.count
        for c in reversed(net.bottom_up):
            up0, up1, up2 = paths[parent[c]] if parent[c] >= 0 else paths[c]
            a, b, d = local[3 * c : 3 * c + 3]
            paths[c] = (
                (a, *up0) if a >= 0 else up0,
                (b, *up1) if b >= 0 else up1,
                (d, *up2) if d >= 0 else up2,
            )
        unit: list[_Path] = []  # per group: its sweep constraints of weight 1
        heavy: list[Sequence[tuple[int, int]]] = []  # ... and the weighted ones
        cls_members: list[list[int]] = []
        cls_kind: list[int] = []
        cons_classes: list[list[int]] = [[] for _ in avail]  # the groups a constraint freezes
        # unbalance gaps (the last constraints, if any): the groups that narrow them
        light: list[list[int]] = [[] for _ in avail] if glob[-1] >= net.u0 else []
        sizes: list[int] = []
        for kid, ms in zip(kids, slices, strict=True):
            kd = kinds[kid]
            ph, pc = kd.phases, paths[kd.circuit]
            if len(ph) == 3:
                u = pc[0] + pc[1] + pc[2]
            else:
                u = pc[ph[0]] if len(ph) == 1 else pc[ph[0]] + pc[ph[1]]  # may be shared: read only
            h = [(local[k], w) for k, w in kd.weighted if local[k] >= 0] if kd.weighted else _NO_H
            if not u and not h:  # nothing in the sweep depends on them: straight to the cap
                self._raise_group(kid, ms, [hi[i] for i in ms])
                for i in ms:
                    why[i] = None
                sizes.append(-len(ms))
                continue
            g = len(cls_members)
            cls_members.append(ms)
            cls_kind.append(kid)
            unit.append(u)
            heavy.append(h)
            for k in u:
                cons_classes[k].append(g)
            for k, w in h:
                (cons_classes if w > 0 else light)[k].append(g)
            sizes.append(len(ms))
        if not cls_members:
            return True  # every box at its cap
        if len(cls_members) < len(kids):  # drop the boxes that went straight to their caps
            keep = [x >= 0 for x in sizes for _ in range(abs(x))]
            starts = list(compress(starts, keep))
            stops = list(compress(stops, keep))
            sizes = [x for x in sizes if x >= 0]
        u0 = self.net.u0
        gaps = [k for k in range(len(avail)) if glob[k] >= u0]
        events: Iterable[_Events]
        if starts.count(starts[0]) == len(starts):  # the common case: all start at one current
            # (and stop above it); a single pass reads the starts straight from enumerate
            first = list(enumerate(sizes)) if gaps else enumerate(sizes)
            events = chain([(starts[0], first)], _stop_events(stops, sizes))
        else:
            gids = list(chain.from_iterable(map(repeat, range(len(sizes)), sizes)))
            changes = [(t, g, d) for (t, g), d in Counter(zip(starts, gids, strict=True)).items()]
            changes += [(t, g, -d) for (t, g), d in Counter(zip(stops, gids, strict=True)).items()]
            changes.sort()
            events = [(t, [(g, d) for _, g, d in run]) for t, run in groupby(changes, _LEVEL)]
        count = len(cls_members)
        if not gaps:
            tau = self._progressive_fill(events, count, unit, heavy, avail, cons_classes)
        else:
            tau = self._gap_passes(
                _Replay(events), cls_members, unit, heavy, avail, cons_classes, gaps, light
            )
        gapped = [g for g, kid in enumerate(cls_kind) if kinds[kid].unb_circuits]
        start = [[n[i] for i in cls_members[g]] for g in gapped]
        found, low = self._settle(cls_members, cls_kind, tau, glob, cons_classes, not gapped)
        if gapped:
            self._repair_unbalance([(cls_kind[g], cls_members[g]) for g in gapped], start)
            return False
        return self._hand_out(found, low, glob)

    def _tight(self, kids: list[int], incs: list[float]) -> tuple[list[int], list[float]]:
        """The constraints the sweep's boxes could fill up, and their room: the others stay
        out of the sweep. What the boxes could add is summed per circuit and then passed up
        the tree (a power limit sees its circuit's three phases), so each box counts once."""
        kinds = self.kinds
        net = self.net
        count = net.count
        totals = [0.0] * (4 * count)
        gaps: dict[int, float] = {}
        for kid, inc in zip(kids, incs, strict=True):
            kd = kinds[kid]
            c3 = 3 * kd.circuit
            for p in kd.phases:
                totals[c3 + p] += inc
            if kd.unb_circuits:
                for k, w in kd.weighted:
                    if w > 0 and k >= net.u0:
                        gaps[k] = gaps.get(k, 0.0) + w * inc
        for c in net.bottom_up:
            parent = net.parent[c]
            if parent >= 0:
                c3, p3 = 3 * c, 3 * parent
                totals[p3] += totals[c3]
                totals[p3 + 1] += totals[c3 + 1]
                totals[p3 + 2] += totals[c3 + 2]
        room, load = net.room, net.load
        for c in net.power_limited:
            totals[3 * count + c] = totals[3 * c] + totals[3 * c + 1] + totals[3 * c + 2]
        glob = [
            k
            for k, t, rm, ld in zip(range(4 * count), totals, room, load, strict=True)
            if t > 0.0 and t > rm - ld + EPS
        ]
        avail = [room[k] - load[k] for k in glob]
        if gaps:
            for k in sorted(gaps):
                a = self._avail(k)
                if gaps[k] > a + EPS:
                    glob.append(k)
                    avail.append(a)
        return glob, avail

    def _gap_passes(
        self,
        events: Iterable[_Events],
        cls_members: list[list[int]],
        unit: list[_Path],
        heavy: list[Sequence[tuple[int, int]]],
        avail: list[float],
        cons_classes: list[list[int]],
        gaps: list[int],
        light: list[list[int]],
    ) -> list[tuple[float, int]]:
        """The sweep of a level whose boxes load unbalance gaps (see _sweep).

        First without the gaps (the sweep follows their loads but never fills them): boxes on
        all phases rising together, or a fill that ends with the phases balanced (a full fuse
        on every phase), never touch them, and then that fill is the answer. Otherwise each
        gap (p, q) that a pass has passed becomes a fixed cap on its heavy side: what keeps p
        within the limit of where q ended in the pass before; couplings chain (the light phase
        of one gap is the heavy phase of another) and a capped heavy phase leaves room that
        others take, so repeat while a cap that matters moves by more than the finest step,
        GAP_PASSES times at most. What is left over after rounding is put right step by step
        (_repair_unbalance, _top_up).
        """
        count = len(cls_members)
        fill = self._progressive_fill
        gap_set = set(gaps)
        relaxed = list(avail)
        for k in gaps:
            relaxed[k] = _INF  # followed, never full
        added: list[float] = []
        tau = fill(events, count, unit, heavy, relaxed, cons_classes, added)
        if all(added[k] <= avail[k] + EPS for k in gaps):
            return tau  # the fill without gaps keeps every gap
        static = None
        caps: list[float] | None = None
        # a cap that moves by less than the finest step changes at most a step of a box,
        # which rounding and the top-up settle anyway
        tol = min([self.r[i] for ms in cls_members for i in ms])
        coupled = sorted({g for k in gaps for g in (*cons_classes[k], *light[k])})
        # only gaps that a pass has passed get a cap: a cap on a gap that holds anyway would
        # hold its heavy side back to where its light side was, which is where the light
        # side, capped in turn, starts from (phases rising together would creep up a limit
        # per pass)
        active: set[int] = set()
        for _ in range(GAP_PASSES):
            ends = self._increments(cls_members, tau, coupled)
            again = list(avail)
            binding = {k for level, k in tau if level < _INF and k in gap_set}
            settled = True
            for k in gaps:
                cap = avail[k] + sum([ends[g] for g in light[k]])
                passed = sum([ends[g] for g in cons_classes[k]]) > cap + EPS
                if passed:
                    active.add(k)
                if k not in active:
                    again[k] = _INF
                    continue
                again[k] = cap
                if (passed or k in binding) and not (
                    caps is not None and abs(cap - caps[k]) <= tol
                ):  # else the same pass again would change at most a step
                    settled = False
            if settled:
                break
            if static is None:
                static = [[(k, w) for k, w in h if w > 0] for h in heavy]
            caps = again
            tau = fill(events, count, unit, static, again, cons_classes)
        return tau

    def _increments(
        self, cls_members: list[list[int]], tau: list[tuple[float, int]], groups: list[int]
    ) -> list[float]:
        """Per group of `groups` (others: 0): the amperes its boxes gain in the sweep, before
        rounding."""
        n, r, hi = self.n, self.r, self.hi
        out = [0.0] * len(cls_members)
        for g in groups:
            level = tau[g][0]
            out[g] = sum(
                [min(hi[i] * r[i], max(n[i] * r[i], level)) - n[i] * r[i] for i in cls_members[g]]
            )
        return out

    def _repair_unbalance(
        self, groups: list[tuple[int, list[int]]], start: list[list[int]]
    ) -> None:
        """Rounding the light phase down may leave an unbalance gap over its limit: first
        raise boxes on the light phase one step at a time (the lowest first) where every limit
        has room, as the top-up would, then lower boxes on the heavy phase one step at a time
        (the highest first) until every gap holds. `groups`: (kind, boxes) of the sweep that
        load a gap; `start`: their steps before it.

        This always ends within the limit: were every heavy-side box back at its start, the
        gap would be no wider than at the start (the light side only rose), which held.
        """
        kinds, n, r, wait, why = self.kinds, self.n, self.r, self.wait, self.why
        net = self.net
        under: dict[int, list[int]] = {}  # circuit -> the groups below it
        for g, (kid, _) in enumerate(groups):
            for c in kinds[kid].unb_circuits:
                under.setdefault(c, []).append(g)
        circuits = sorted(under)
        broken = True
        while broken:
            broken = False
            for c in circuits:
                lv = self._levels(c)
                if max(lv) - min(lv) <= net.unb[c] + EPS:  # type: ignore[operator]
                    continue
                p = max(range(PHASES), key=lambda x: (lv[x], -x))
                q = min(range(PHASES), key=lambda x: (lv[x], x))
                lv = self._raise_light(c, p, q, groups, under[c])
                if lv[p] - lv[q] <= net.unb[c] + EPS:  # type: ignore[operator]
                    broken = True  # another gap of it may still be too wide
                    continue
                heavy = [
                    (i, kid)
                    for g in under[c]
                    for kid in (groups[g][0],)
                    if kinds[kid].mask >> p & 1 and not kinds[kid].mask >> q & 1
                    for i, s0 in zip(groups[g][1], start[g], strict=True)
                    if n[i] > s0
                ]
                heavy.sort(key=lambda e: (n[e[0]] * r[e[0]], wait[e[0]], e[0]))
                while heavy and lv[p] - lv[q] > net.unb[c] + EPS:  # type: ignore[operator]
                    i, kid = heavy.pop()  # the highest: one step down, then the next one
                    self._add(kinds[kid], -r[i])
                    n[i] -= 1
                    why[i] = net.u0 + 6 * c
                    broken = True
                    lv = self._levels(c)
                # too wide before this sweep already (see _rounds): not ours to repair

    def _raise_light(
        self, c: int, p: int, q: int, groups: list[tuple[int, list[int]]], below: list[int]
    ) -> list[float]:
        """Raise boxes of `groups` (those numbered `below`, under circuit c) on phase q but
        not p, the lowest first (ties: wait_rank, id), one step each where every limit has
        room, until the gap of p over q at c holds; return c's levels."""
        kinds, n, r, hi, wait = self.kinds, self.n, self.r, self.hi, self.wait
        limit: float = self.net.unb[c]  # type: ignore[assignment]
        heap = [
            (n[i] * r[i], wait[i], i, kid)
            for g in below
            for kid in (groups[g][0],)
            if kinds[kid].mask >> q & 1 and not kinds[kid].mask >> p & 1
            for i in groups[g][1]
            if n[i] < hi[i]
        ]
        heapq.heapify(heap)
        lv = self._levels(c)
        while heap and lv[p] - lv[q] > limit + EPS:
            _, w, i, kid = heapq.heappop(heap)
            kd = kinds[kid]
            # c's gap narrows (q is its quietest phase); every other limit must hold
            if self._fits_monotone(kd, r[i]) and all(
                self._unbalance_breaks(c2, kd.phases, r[i]) is None
                for c2 in kd.unb_circuits
                if c2 != c
            ):
                self._add(kd, r[i])
                n[i] += 1
                lv = self._levels(c)
                if n[i] < hi[i]:
                    heapq.heappush(heap, (n[i] * r[i], w, i, kid))
        return lv

    @staticmethod
    def _progressive_fill(
        events: Iterable[_Events],
        count: int,
        unit: list[_Path],
        heavy: list[Sequence[tuple[int, int]]],
        avail: list[float],
        cons_classes: list[list[int]],
        loads: list[float] | None = None,
    ) -> list[tuple[float, int]]:
        """The event loop of the sweep: per group, the level and the constraint it froze at
        (and into `loads`, if given, what the sweep added to each constraint). `events` are
        read level by level only until every group froze: nothing changes after that."""
        frozen = [False] * count
        slope = [0] * count
        tau: list[tuple[float, int]] = [(_INF, -1)] * count
        size = len(avail)
        base = [0.0] * size  # load(t) = base[k] + rate[k] * t
        rate = [0] * size
        done = [False] * size
        heap: list[tuple[float, int]] = []
        push, pop = heapq.heappush, heapq.heappop
        rising: set[int] = set()
        now = _INF  # the time of the events being applied; none yet
        weighted = any(heavy)
        left = count  # groups not frozen yet: none left, nothing changes any more
        for t, changes in events:
            # a new level: schedule what rose at the last one, then saturate
            if rising:
                for k in rising:
                    if not done[k] and rate[k] > 0:
                        push(heap, ((avail[k] - base[k]) / rate[k], k))
                rising.clear()
            if now == _INF:
                now = t
            while heap and heap[0][0] <= t:  # saturations up to t, before t's changes
                at, k = pop(heap)
                rk = rate[k]
                if done[k] or rk <= 0:
                    continue
                sat = (avail[k] - base[k]) / rk
                if sat > at:  # its rate dropped since: it fills up later
                    push(heap, (sat, k))
                    continue
                sat = now = max(sat, now)
                done[k] = True
                for g2 in cons_classes[k]:
                    if frozen[g2]:
                        continue
                    frozen[g2] = True
                    tau[g2] = (sat, k)
                    left -= 1
                    s = slope[g2]
                    if s:
                        ds = s * sat
                        for k2 in unit[g2]:
                            base[k2] += ds
                            rate[k2] -= s
                        for k2, w in heavy[g2]:
                            base[k2] += s * w * sat
                            rate[k2] -= s * w
                            if w < 0 and not done[k2] and rate[k2] > 0:  # light side
                                push(heap, ((avail[k2] - base[k2]) / rate[k2], k2))  # stops
            if not left:
                break
            now = t
            for g, d in changes:
                if frozen[g]:
                    continue
                slope[g] += d
                dt = d * t
                for k in unit[g]:
                    base[k] -= dt
                    rate[k] += d
                if d > 0:
                    rising.update(unit[g])
                if weighted:
                    for k, w in heavy[g]:
                        base[k] -= dt * w
                        rate[k] += d * w
                        if d * w > 0:
                            rising.add(k)
        # what rose at the last time never fills up: after it, every box is at its cap
        if loads is not None:
            loads.extend(base)
        return tau

    def _settle(
        self,
        cls_members: list[list[int]],
        cls_kind: list[int],
        tau: list[tuple[float, int]],
        glob: list[int],
        cons_classes: list[list[int]],
        collect: bool,
    ) -> tuple[dict[int, tuple[int, list[int], int]], int]:
        """Set every box to the sweep's level rounded down to its grid, and book the loads.

        With `collect` (one grid, limits that only fill up), also return for _hand_out, per
        limit that froze boxes: their level in steps, the boxes rounded down to it (in slot
        order per group) and the number of groups it froze (one: the boxes are in slot order);
        and the lowest other box that may rise.

        Where the limit that froze a group mixes grids, its boxes start lower, at the last
        point of the coarsest grid (where every box of that limit would meet in single
        steps): the top-up then lets a coarse box take its big step while it is the lowest,
        as step-by-step filling would, instead of fine boxes eating the room in small bites.
        """
        n, r, hi, why, kinds, add = self.n, self.r, self.hi, self.why, self.kinds, self._add
        floor = math.floor
        one = _one_grid(r, chain.from_iterable(cls_members), r[cls_members[0][0]])
        drop_of: dict[int, float] | None = None if one else {}  # one grid: no drops
        collect = collect and drop_of is None
        into: dict[int, list[int]] = {}  # limit -> the boxes it froze at its level
        at: dict[int, int] = {}  # limit -> that level in steps
        groups: dict[int, int] = {}  # limit -> groups it froze (one: already in slot order)
        low = _NONE_LOW if collect else 0  # 0: not looked for, so not known to be none
        for g, ms in enumerate(cls_members):
            level, k = tau[g]
            label = None
            if level == _INF:
                f = 1 << 62  # every box to its cap
            else:
                label = glob[k]
                if drop_of is not None:
                    drop = drop_of.get(k)
                    if drop is None:
                        drop = drop_of[k] = _coarse_start(
                            {r[i] for g2 in cons_classes[k] for i in cls_members[g2]}
                        )
                    if drop > 0.0:  # down to the coarse grid: all boxes meet there
                        level = floor(level / drop + GRID_EPS) * drop
                    elif drop < 0.0:  # grids that never meet: one coarse step lower
                        level += drop
                f = floor(level / r[ms[0]] + GRID_EPS)
            if drop_of is not None and len({r[i] for i in ms}) > 1:
                inc = 0.0
                for i in ms:
                    v, h = n[i], hi[i]
                    st = h if level == _INF else floor(level / r[i] + GRID_EPS)
                    st = h if h < st else v if v > st else st
                    if st != v:
                        inc += (st - v) * r[i]
                        n[i] = st
                    why[i] = label
            else:
                steps = 0
                if collect and label is not None:  # at the level, below their caps: _hand_out's
                    below = into.get(k)
                    if below is None:
                        below = into[k] = []
                        at[k] = f
                    groups[k] = groups.get(k, 0) + 1
                else:
                    below = []
                for i in ms:  # every member may rise: n[i] < hi[i] (_fill)
                    v = n[i]
                    if v < f < hi[i]:  # the common case: up to the level
                        steps += f - v
                        n[i] = f
                        below.append(i)
                    elif hi[i] <= f:  # its cap
                        steps += hi[i] - v
                        n[i] = hi[i]
                    elif v > f:  # started above the level: stays
                        if v < low:
                            low = v
                    else:  # started at the level
                        below.append(i)
                    why[i] = label
                inc = steps * r[ms[0]]
            if inc:
                add(kinds[cls_kind[g]], inc)
        found = {k: (at[k], boxes, groups[k]) for k, boxes in into.items() if boxes}
        return found, low

    def _hand_out(
        self,
        found: dict[int, tuple[int, list[int], int]],
        low: int,
        glob: list[int],
    ) -> bool:
        """The top-up's first rounds, straight after rounding and without its queue; True
        when that was all of it (every limit full, no other box that may rise).

        The boxes a limit froze sit at its level rounded down (`found`, from _settle); what
        rounding left of that limit goes to them, one step each in slot order (with the boxes
        of other limits at the same level), until the limit is full. _top_up would do the
        same first, as long as no other box that may rise sits at or below that level (`low`)
        and every limit there ends full (else its boxes would go on); this goes from the
        lowest level up, stops where that no longer holds and leaves the rest to _top_up.
        Only for one grid and limits that only fill up: a limit's leftover is what rounding
        took from its own boxes, so no other limit's boxes lose room by it.
        """
        n, r, kind, kinds, why, wait = self.n, self.r, self.kind, self.kinds, self.why, self.wait
        if not found:
            return low == _NONE_LOW
        by_level: dict[int, list[int]] = {}  # level -> the limits that froze boxes there
        for k, (f, _, _) in found.items():
            by_level.setdefault(f, []).append(glob[k])
        take, phase_limits = self._take, 3 * self.net.count
        local = {glob[k]: k for k in found}
        for f in sorted(by_level):
            limits = by_level[f]
            if f >= low or max(limits) >= phase_limits:  # power limits: steps of other weights
                return False
            if len(limits) == 1 and found[local[limits[0]]][2] == 1:
                boxes = found[local[limits[0]]][1]
            else:  # slot order within a priority: wait_rank, then id (= index)
                boxes = sorted(chain.from_iterable(found[local[gk]][1] for gk in limits))
                boxes.sort(key=wait.__getitem__)
            full: set[int] = set()
            for i in boxes:
                gk = why[i]  # the limit that froze it (_settle)
                if gk in full:  # full for one more step of any of its boxes
                    continue
                k2 = take(kinds[kind[i]], r[i])
                if k2 is None:
                    n[i] += 1
                else:
                    why[i] = k2
                    if k2 in local:
                        full.add(k2)
            if not full.issuperset(limits):  # room left: its boxes would go on before others
                return False
        # every limit that froze boxes is full and no other box may rise: nothing is left
        return low == _NONE_LOW

    def _raise_group(self, kid: int, ms: list[int], steps: list[int]) -> None:
        n, r = self.n, self.r
        inc = 0.0
        for i, s in zip(ms, steps, strict=True):
            if s != n[i]:
                inc += (s - n[i]) * r[i]
                n[i] = s
        if inc:
            self._add(self.kinds[kid], inc)

    def _top_up(self, members: list[int]) -> None:
        """Hand out what rounding down left: lowest current first (ties: wait_rank, id), one
        step at a time, as long as every limit has room for that step.

        `members` come in slot order, which is (wait_rank, id) within a priority. Boxes wait
        in buckets per current, each bucket a heap of slot positions, so the order costs
        integer comparisons only. All boxes at the lowest level take one step each in that
        order (some fit, the others stop for good: current and power limits only fill up).
        When all of them fit, they advance further whole rounds at once, up to the next
        level, their caps or the first full limit: the same result as single steps, in a
        fraction of the work.
        """
        n, r, hi, wait, kind, kinds, why = (
            self.n,
            self.r,
            self.hi,
            self.wait,
            self.kind,
            self.kinds,
            self.why,
        )
        u0 = self.net.u0
        fits, take = self._fits, self._take
        blocked: dict[int, tuple[float, int]] = {}  # kind -> smallest step a full limit refused
        finest: dict[int, float] = {}
        for i in members:
            if n[i] < hi[i] and r[i] < finest.get(kind[i], _INF):
                finest[kind[i]] = r[i]
        for kid, step in finest.items():  # most kinds sit behind a full limit: check once
            kd = kinds[kid]
            if not kd.unb_circuits:
                k = fits(kd, step)
                if k is not None:
                    blocked[kid] = (step, k)
        # a level is the current in amperes; with a single grid its step count says the same,
        # exactly and cheaper (mixed grids need amperes, rounded so that equal ones tie)
        r0 = r[members[0]]
        one = len(set(finest.values())) == 1 and _one_grid(r, members, r0)
        unit = r0 if one else 1.0
        pos = [0] * len(n)  # box -> slot position
        for x, i in enumerate(members):
            pos[i] = x
        buckets: dict[float, list[int]] = {}  # level -> heap of slot positions
        levels: list[float] = []  # heap of levels; may hold stale ones (no bucket)
        pop, push = heapq.heappop, heapq.heappush

        rounded: dict[float, float] = {}  # amperes -> rounded (few currents, round is slow)

        def add(i: int) -> None:
            if one:
                level = n[i]
            else:
                amps = n[i] * r[i]
                level = rounded.get(amps)
                if level is None:
                    level = rounded[amps] = round(amps, 9)
            bucket = buckets.get(level)
            if bucket is None:
                buckets[level] = [pos[i]]
                push(levels, level)
            else:
                push(bucket, pos[i])

        for i in members:  # in slot order, so each push lands at the end of its heap
            if n[i] < hi[i]:
                b = blocked.get(kind[i])
                if b is None:
                    add(i)
                else:
                    why[i] = b[1]
        # whole rounds (see _advance_rounds) pay off after mixed-grid rounding; on one grid the
        # sweep handed out the first steps already (_hand_out) and most limits are full
        batching = not one
        # stopped by an unbalance gap: per (circuit, heavy phase), (the lightest phase's level
        # that would let the box fit, its current, wait_rank, box); woken one at a time when
        # the lightest phase has risen so far (one step there makes room for about one step)
        parked: dict[tuple[int, int], list[tuple[float, float, int, int]]] = {}
        while levels:
            level = levels[0]
            bucket = buckets.get(level)
            if not bucket:
                pop(levels)
                buckets.pop(level, None)
                continue
            above = min(levels[1:3], default=_INF)  # the next level, or a lower stale one
            if batching and above > level:
                raised = self._advance_rounds(
                    [members[x] for x in bucket], level * unit, above * unit, blocked
                )
                batching = bool(raised)  # behind full limits: single steps until all fit
                if raised:
                    if len(raised) == len(bucket):  # all of them, as usual
                        bucket.clear()
                    else:
                        gone = {pos[i] for i in raised}
                        bucket[:] = [x for x in bucket if x not in gone]
                        heapq.heapify(bucket)
                    for i in raised:
                        if n[i] >= hi[i]:
                            why[i] = None
                        else:
                            add(i)
            group = []
            tried = len(bucket)
            while bucket and levels[0] == level:  # a woken box may open a lower level
                i = members[pop(bucket)]
                kid, ri = kind[i], r[i]
                b = blocked.get(kid)
                if b is not None and ri >= b[0]:
                    why[i] = b[1]
                    continue
                kd = kinds[kid]
                k = take(kd, ri)
                if k is None:
                    n[i] += 1
                    group.append(i)
                    if parked and kd.unb_circuits:
                        self._wake(parked, kd.unb_circuits, add)
                else:
                    why[i] = k
                    if k < u0:  # current and power limits only fill up: stopped for good
                        if b is None or ri < b[0]:
                            blocked[kid] = (ri, k)
                    else:
                        c, p = divmod(k - u0, 6)
                        need = self._levels(c)[p] + ri - self.net.unb[c]  # type: ignore[operator]
                        entry = (need - EPS, n[i] * ri, wait[i], i)
                        heapq.heappush(parked.setdefault((c, p), []), entry)
            if len(group) == tried > 1:  # all of them fitted: rounds may fit as well
                batching = True
            for i in group:
                if n[i] >= hi[i]:
                    why[i] = None
                    continue
                b = blocked.get(kind[i])
                if b is not None and r[i] >= b[0]:  # its kind found a full limit meanwhile
                    why[i] = b[1]
                else:
                    add(i)

    def _wake(
        self,
        parked: dict[tuple[int, int], list[tuple[float, float, int, int]]],
        circuits: list[int],
        add: Callable[[int], None],
    ) -> None:
        """Back into the top-up: per heavy phase, the first parked box whose circuit's
        lightest phase rose enough for it."""
        for c in circuits:
            low = -_INF
            for p in range(PHASES):
                waiting = parked.get((c, p))
                if waiting:
                    if low == -_INF:
                        low = min(self._levels(c))
                    if waiting[0][0] <= low:
                        add(heapq.heappop(waiting)[3])

    def _advance_rounds(
        self, boxes: list[int], level: float, above: float, blocked: dict[int, tuple[float, int]]
    ) -> list[int]:
        """Raise boxes that are all at `level` amperes, the lowest, by whole steps at once, as
        single steps would; return those raised.

        Until they reach the next level (`above`), each of them takes one step per round, in
        slot order, up to its cap. A limit with room for k rounds of all its boxes lets each
        of them take k steps whatever the order, so a box takes at once as many steps as all
        of its limits have room for; what is left is done in single steps. On mixed grids this
        is one round (after it, the boxes are on different levels). Boxes coupled to an
        unbalance limit take single steps only."""
        n, r, hi, kind, kinds = self.n, self.r, self.hi, self.kind, self.kinds
        step = r[boxes[0]]
        one = True
        amps: dict[int, float] = {}  # kind -> what one round of its rising boxes takes
        rising = []  # below their caps, and no full limit refused their step yet
        for i in boxes:
            ri = r[i]
            if ri != step:
                one = False
            kid = kind[i]
            b = blocked.get(kid)
            if n[i] < hi[i] and (b is None or ri < b[0]):
                amps[kid] = amps.get(kid, 0.0) + ri
                rising.append(i)
        if one:
            if above < _INF:
                rounds = math.ceil((above - level) / step - GRID_EPS)
            else:
                rounds = max(hi[i] - n[i] for i in boxes)
        else:
            rounds = 1
        room, load = self.net.room, self.net.load
        per_round = [0.0] * len(room)  # per limit: what one round of all its boxes takes
        for kid, v in amps.items():
            kd = kinds[kid]
            if kd.unb_circuits:  # not monotone: one step at a time
                return []
            _book(kd, v, per_round)
        fit: list[int | None] = [None] * len(room)  # per limit: the rounds it has room for
        allowed: dict[int, int] = {}
        for kid in amps:
            kd = kinds[kid]
            a = rounds
            for k in kd.phase_cons + kd.power_cons if kd.power_cons else kd.phase_cons:
                x = fit[k]
                if x is None:
                    x = fit[k] = math.floor((room[k] - load[k] + EPS) / per_round[k])
                if x < a:
                    a = x
            if a > 0:
                allowed[kid] = a
        if not allowed:
            return []
        raised = []
        taken: dict[int, float] = {}
        for i in rising:
            kid = kind[i]
            a = allowed.get(kid)
            if a is not None:
                h = hi[i] - n[i]
                t = a if h > a else h
                n[i] += t
                taken[kid] = taken.get(kid, 0.0) + t * r[i]
                raised.append(i)
        for kid, v in taken.items():
            _book(kinds[kid], v, load)
        return raised

    def _rounds(self, order: list[int]) -> None:
        """Let boxes held back by an unbalance limit follow when the light phases rose.

        - A box still waiting for its min because of an unbalance limit gets it as soon as
          it fits, or as soon as it fits with the lower priorities back at their mins (then
          they go back; kept only if every unbalance limit holds). After such a late slot
          all boxes go back to their mins and every priority fills again in order; where
          that leaves a gap too wide (a box's slot may lean on another one's fill), only the
          boxes that cannot change a gap (3-phase loads, boxes outside unbalance-limited
          circuits) go back.
        - Boxes held at a gap rise when the light phase rose. When a box of priority P rose,
          the lower priorities give their fills back and fill again after the higher ones
          (again only the gap-neutral boxes where all would leave a gap too wide), so that
          they do not keep what the late riser or its neighbours need.
        Late slots happen at most once per box, and a priority's boxes are only reset when a
        higher one rose, so the rounds end.
        """
        kinds, kind, state, n, hi, r = self.kinds, self.kind, self.state, self.n, self.hi, self.r
        lo, prio, why, u0 = self.lo, self.prio, self.why, self.net.u0
        sensitive = [i for i in order if kinds[kind[i]].unb_circuits]
        for _ in range(MAX_ROUNDS):
            late = False
            stuck = []  # waiting mins that neither fit now nor with lower priorities at min
            below: dict[int, _Below] = {}  # per priority: the state _late_slot would try
            for i in sensitive:
                if state[i] == _WAITING and i in self.unb_refused:
                    if self._try_slot(i):
                        late = True
                        below.clear()
                        continue
                    probe = below.get(prio[i])
                    if probe is None:
                        probe = below[prio[i]] = self._below_at_min(prio[i], order)
                    if self._late_fits(i, probe) and self._late_slot(i, order):
                        late = True
                        below.clear()
                    else:
                        stuck.append(i)
            if stuck and self._late_slots_at_min(stuck, order):
                continue  # all filled again already
            granted = [i for i in order if state[i] == _GRANTED]
            if late:
                saved = self._save()
                self._lower_to_min(granted)
                self._fill(granted)
                if not self._balanced():
                    self._restore(saved)
                    self._lower_to_min([i for i in granted if not kinds[kind[i]].unb_circuits])
                    self._fill(granted)
                continue
            parts = [  # held by a gap (a full current or power limit stays full)
                i
                for i in sensitive
                if state[i] == _GRANTED
                and n[i] < hi[i]
                and (why[i] is None or why[i] >= u0)  # type: ignore[operator]
                and self._fits_monotone(kinds[kind[i]], r[i])
            ]
            was = [n[i] for i in parts]
            if parts:
                self._fill(parts)
            risen = [i for i, before in zip(parts, was, strict=True) if n[i] > before]
            if not risen:
                return
            top = max(prio[i] for i in risen)
            below = [i for i in granted if prio[i] < top and n[i] > lo[i]]
            if below:
                saved = self._save()
                self._lower_to_min(below)
                self._fill(granted)
                if not self._balanced():
                    self._restore(saved)
                    neutral = [i for i in below if not kinds[kind[i]].unb_circuits]
                    if neutral:
                        self._lower_to_min(neutral)
                        self._fill(granted)
        log.warning("unbalance limits: no fixed point after %d rounds", MAX_ROUNDS)

    def _loads_at_min(self, order: list[int]) -> list[float]:
        load = list(self.net.load)
        kinds, kind, n, lo, r = self.kinds, self.kind, self.n, self.lo, self.r
        for j in order:
            if self.state[j] == _GRANTED and n[j] > lo[j]:
                kd = kinds[kind[j]]
                v = (n[j] - lo[j]) * r[j]
                _book(kd, -v, load)
        return load

    def _late_slot(self, i: int, order: list[int]) -> bool:
        """Grant box i its min with the lower priorities back at their mins (mins come before
        fills), if every unbalance limit then holds."""
        granted = [j for j in order if self.state[j] == _GRANTED]
        lower = [j for j in granted if self.prio[j] < self.prio[i] and self.n[j] > self.lo[j]]
        if not lower:
            return False
        saved = self._save()
        self._lower_to_min(lower)
        if self._fits_monotone(self.kinds[self.kind[i]], self.lo[i] * self.r[i]):
            self._grant(i)
            if self._balanced():
                return True
        self._restore(saved)
        return False

    def _below_at_min(self, prio: int, order: list[int]) -> _Below:
        """The state _late_slot tries for a box of priority `prio`, without making it: the
        current and power loads and the unbalance levels with every box of a lower priority
        back at its min, the circuits whose unbalance limit that breaks, and whether any box
        went back at all."""
        net = self.net
        kinds, kind, state, n, lo, r, prios = (
            self.kinds,
            self.kind,
            self.state,
            self.n,
            self.lo,
            self.r,
            self.prio,
        )
        load = list(net.load)
        levels = {c: self._levels(c) for c, u in enumerate(net.unb) if u is not None}
        lowered = False
        for j in order:
            if prios[j] < prio and state[j] == _GRANTED and n[j] > lo[j]:
                lowered = True
                kd = kinds[kind[j]]
                v = (n[j] - lo[j]) * r[j]
                _book(kd, -v, load)
                for c in kd.unb_circuits:
                    lv = levels[c]
                    for p in kd.phases:
                        lv[p] -= v
        broken = {c for c, lv in levels.items() if max(lv) - min(lv) > net.unb[c] + EPS}  # type: ignore[operator]
        return load, levels, broken, lowered

    def _late_fits(self, i: int, below: _Below) -> bool:
        """Whether _late_slot would grant box i, from _below_at_min of its priority."""
        load, levels, broken, lowered = below
        if not lowered or not self._fits_at(i, load):
            return False
        kd = self.kinds[self.kind[i]]
        if not broken.issubset(kd.unb_circuits):
            return False
        v = self.lo[i] * self.r[i]
        for c in kd.unb_circuits:
            lv = list(levels[c])
            for p in kd.phases:
                lv[p] += v
            if max(lv) - min(lv) > self.net.unb[c] + EPS:  # type: ignore[operator]
                return False
        return True

    def _late_slots_at_min(self, stuck: list[int], order: list[int]) -> bool:
        """Mins before fills, also the fills of equal and higher priorities: with every box
        back at its min, grant the waiting mins that fit (in slot order) and fill all again;
        kept only if every unbalance limit then holds (a min on one phase may need the others'
        fills to be balanced). Mins that could not balance even with every box on the quiet
        phases at its cap are left out first (_may_balance_all); when the fill leaves some
        circuits too wide, it is tried once more without the mins below them, and those
        circuits get no late slots any more (run() calls this before the first fill too)."""
        kinds, kind, lo, r = self.kinds, self.kind, self.lo, self.r
        granted = [j for j in order if self.state[j] == _GRANTED]
        # slots are never taken back, so their count says which: the same waiting mins with
        # the same slots (or the same mins to grant) give the same result as before
        asked = (len(granted), False, tuple(stuck))
        if asked in self.tried:
            return False
        self.tried.add(asked)
        at_min = self._loads_at_min(order)
        fit = []
        for i in stuck:
            if self._fits_at(i, at_min):
                fit.append(i)
                _book(kinds[kind[i]], lo[i] * r[i], at_min)
        fit = self._may_balance_all(fit, order) if fit else fit
        if not fit:
            return False
        saved = self._save()
        failed = self.failed
        for _ in range(2):  # once more without the mins below circuits that did not balance
            if failed:
                fit = [i for i in fit if failed.isdisjoint(kinds[kind[i]].unb_circuits)]
                if not fit:
                    return False
            attempt = (len(granted), True, tuple(fit))
            if attempt in self.tried:
                return False
            self.tried.add(attempt)
            self._lower_to_min(granted)
            for i in fit:
                self._grant(i)
            self._fill([j for j in order if self.state[j] == _GRANTED])
            broken = self._unbalanced()
            if not broken:
                return True
            self._restore(saved)
            failed |= broken  # late slots below those are not tried again
        return False

    def _fits_at(self, i: int, load: list[float]) -> bool:
        """Whether box i's min fits every current and power limit with `load`."""
        kd = self.kinds[self.kind[i]]
        room = self.net.room
        v = self.lo[i] * self.r[i]
        if any(load[k] + v > room[k] + EPS for k in kd.phase_cons):
            return False
        vw = v * kd.weight
        return not any(load[k] + vw > room[k] + EPS for k in kd.power_cons)

    def _unbalance_reach(
        self, order: list[int]
    ) -> tuple[dict[int, list[float]], dict[int, list[float]]]:
        """Per unbalance-limited circuit: its phase levels with every box at its min, and how
        far each phase could rise at most (every box on it at its cap)."""
        net = self.net
        kinds, kind, state, n, lo, hi, r = (
            self.kinds,
            self.kind,
            self.state,
            self.n,
            self.lo,
            self.hi,
            self.r,
        )
        levels = {c: self._levels(c) for c, u in enumerate(net.unb) if u is not None}
        rise = {c: [0.0, 0.0, 0.0] for c in levels}
        for j in order:
            if state[j] == _GRANTED:
                kd = kinds[kind[j]]
                if kd.unb_circuits:
                    down, up = (n[j] - lo[j]) * r[j], (hi[j] - lo[j]) * r[j]
                    for c in kd.unb_circuits:
                        lv, rs = levels[c], rise[c]
                        for p in kd.phases:
                            lv[p] -= down
                            rs[p] += up
        return levels, rise

    def _may_balance_all(self, boxes: list[int], order: list[int]) -> list[int]:
        """The waiting mins `boxes` (in slot order) less those that could not be balanced by
        the fills even together with the others: while some phase of a circuit could not
        rise to within its unbalance limit of the busiest one, the last of them on that
        busiest phase is left out (all of them below that circuit where none is on it: the
        slots granted so far are too wide there already, as late slots with fills can be)."""
        kinds, kind, lo, hi, r = self.kinds, self.kind, self.lo, self.hi, self.r
        unb = self.net.unb
        levels, rise = self._unbalance_reach(order)
        on: dict[tuple[int, int], list[int]] = {}  # (circuit, phase) -> boxes, in slot order
        for i in boxes:
            kd = kinds[kind[i]]
            v, up = lo[i] * r[i], (hi[i] - lo[i]) * r[i]
            for c in kd.unb_circuits:
                lv, rs = levels[c], rise[c]
                for p in kd.phases:
                    lv[p] += v
                    rs[p] += up
                    on.setdefault((c, p), []).append(i)
        out = set(boxes)
        hopeless: set[int] = set()  # too wide at min without any of them (late slots before)
        while out:
            for c, lv in levels.items():
                if c not in hopeless and not _reachable(lv, rise[c], unb[c]):  # type: ignore[arg-type]
                    break
            else:
                break  # every circuit may balance
            busiest = max(range(PHASES), key=lambda p: (lv[p], -p))
            last = on.get((c, busiest))
            while last and last[-1] not in out:
                last.pop()
            if last:
                drop = [last.pop()]
            else:  # none of them on it: all of them below c go
                hopeless.add(c)
                drop = [i for i in boxes if i in out and c in kinds[kind[i]].unb_circuits]
            for i in drop:
                out.discard(i)
                kd = kinds[kind[i]]
                v, up = lo[i] * r[i], (hi[i] - lo[i]) * r[i]
                for c2 in kd.unb_circuits:
                    for p in kd.phases:
                        levels[c2][p] -= v
                        rise[c2][p] -= up
        return [i for i in boxes if i in out]

    def _grant(self, i: int) -> None:
        self.state[i] = _GRANTED
        self.slot_fail[i] = None
        self.n[i] = self.lo[i]
        self._add(self.kinds[self.kind[i]], self.lo[i] * self.r[i])

    def _unbalanced(self) -> set[int]:
        """The circuits whose unbalance limit does not hold now."""
        net = self.net
        out = set()
        for c, u in enumerate(net.unb):
            if u is not None:
                lv = self._levels(c)
                if max(lv) - min(lv) > u + EPS:
                    out.add(c)
        return out

    def _balanced(self) -> bool:
        """Whether every unbalance limit holds now."""
        net = self.net
        for c, u in enumerate(net.unb):
            if u is not None:
                lv = self._levels(c)
                if max(lv) - min(lv) > u + EPS:
                    return False
        return True

    def _save(self) -> tuple[list, ...]:
        net = self.net
        return (
            list(self.n),
            list(self.state),
            list(self.slot_fail),
            list(self.why),
            list(net.load),
            list(net.asym),
        )

    def _restore(self, saved: tuple[list, ...]) -> None:
        net = self.net
        self.n[:], self.state[:], self.slot_fail[:], self.why[:], net.load[:], net.asym[:] = saved

    def _lower_to_min(self, boxes: list[int]) -> None:
        kinds, kind, n, lo, r = self.kinds, self.kind, self.n, self.lo, self.r
        for j in boxes:
            if n[j] > lo[j]:
                self._add(kinds[kind[j]], (lo[j] - n[j]) * r[j])
                n[j] = lo[j]

    # -- output --------------------------------------------------------------------------

    def _result(self) -> Allocation:
        """Setpoints and reasons. Boxes share few currents and few reasons, so each current is
        rounded and each reason worded once, and every box looks its own up."""
        n, lo, r, state = self.n, self.lo, self.r, self.state
        m = len(state)
        ids = self.ids
        if m and r.count(r[0]) == m:  # one grid, as usual: key the currents by their steps
            by_steps = {k: round(k * r[0], 9) for k in set(n)}
            values = list(map(by_steps.__getitem__, n))
        else:
            amps = list(map(mul, n, r))
            rounded = {a: round(a, 9) for a in set(amps)}
            values = list(map(rounded.__getitem__, amps))
        # a granted box's reason: the limit that stops it (int) or, at its cap, that text
        keys: list[object] = [
            k if k is not None and a < b else c
            for k, a, b, c in zip(self.why, n, self.hi, self.cap_text, strict=True)
        ]
        said = {key: self._reason(key) for key in set(keys)}
        reasons = list(map(said.__getitem__, keys))
        waiting = []
        if state.count(_GRANTED) < m:
            text = self.text
            for i, s in enumerate(state):
                if s != _GRANTED:
                    values[i] = 0.0
                    if s == _OUT:
                        reasons[i] = text[i]  # type: ignore[call-overload]
                    else:
                        waiting.append(i)
        at_min = [
            i
            for i in compress(range(m), map(eq, n, lo))
            if type(keys[i]) is int and state[i] == _GRANTED
        ]
        if waiting or at_min:
            self._priority_reasons(waiting, at_min, reasons)
        return Allocation(
            setpoints=dict(zip(ids, values, strict=True)),
            reasons=dict(zip(ids, reasons, strict=True)),
        )

    def _reason(self, key: object) -> Reason:
        """The reason of a granted box: `key` is the constraint that stops it, or the reason
        of its cap."""
        if type(key) is int:
            return self.net.constraint_reason(key)
        return key  # type: ignore[return-value]

    def _priority_reasons(
        self, waiting: list[int], at_min: list[int], reasons: list[Reason]
    ) -> None:
        """Reword the reasons of boxes waiting for a slot, and of granted boxes a limit holds
        at their min, where a higher priority took the room."""
        prio, why, slot_fail = self.prio, self.why, self.slot_fail
        slot_top, fill_top = self._priority_maps()
        pkey, limit = self._pkey, self.net.constraint_reason
        said: dict[tuple[int, int, bool], Reason] = {}  # (constraint, priority, granted) -> reason
        for i in waiting:
            k = slot_fail[i]
            assert k is not None
            key = (k, prio[i], False)
            t = said.get(key)
            if t is None:
                if slot_top.get(pkey(k), -_INF) > prio[i]:
                    t = Reason("priority", cause=limit(k))
                else:
                    t = Reason("waiting_slot", cause=limit(k))
                said[key] = t
            reasons[i] = t
        for i in at_min:
            k = why[i]  # type: ignore[assignment]
            key = (k, prio[i], True)
            t = said.get(key)
            if t is None:
                if fill_top.get(pkey(k), -_INF) > prio[i]:
                    t = Reason("priority", cause=limit(k))
                else:
                    t = reasons[i]
                said[key] = t
            reasons[i] = t

    def _pkey(self, k: int) -> int:
        """Unbalance labels of one circuit share one key: any phase of it may be the heavy one."""
        u0 = self.net.u0
        return k if k < u0 else u0 + 6 * ((k - u0) // 6)

    def _priority_maps(self) -> tuple[dict[int, int], dict[int, int]]:
        """Per constraint, the highest priority holding a slot in it, and the highest priority
        holding more than its min in it; empty when all boxes have one priority (then no box
        can see a higher one)."""
        state, prio, kind, n, lo = self.state, self.prio, self.kind, self.n, self.lo
        if len(set(prio)) < 2:
            return {}, {}
        # boxes of one kind load the same constraints: the top priority per kind first, from
        # the granted boxes by rising priority (a later box of a kind overwrites)
        granted = sorted(
            compress(range(len(state)), map(eq, state, repeat(_GRANTED))), key=prio.__getitem__
        )
        slot_kind = {kind[i]: prio[i] for i in granted}
        fill_kind = {kind[i]: prio[i] for i in granted if n[i] > lo[i]}
        return self._top_per_constraint(slot_kind), self._top_per_constraint(fill_kind)

    def _top_per_constraint(self, top_kind: dict[int, int]) -> dict[int, int]:
        """The highest priority per constraint, from the highest priority per kind: priority
        by priority, lowest first, each overwrites the constraints its kinds load."""
        u0, kinds = self.net.u0, self.kinds
        top: dict[int, int] = {}
        for p in sorted(set(top_kind.values())):
            loaded = [kinds[kid] for kid, q in top_kind.items() if q == p]
            top.update(dict.fromkeys(chain.from_iterable(kd.phase_cons for kd in loaded), p))
            top.update(dict.fromkeys(chain.from_iterable(kd.power_cons for kd in loaded), p))
            top.update(dict.fromkeys([u0 + 6 * c for kd in loaded for c in kd.unb_circuits], p))
        return top
