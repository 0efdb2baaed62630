"""Learning from what the cars do: phases used, overdraw, taking less than offered, sessions.

Each rule here changes only the wallbox's own runtime record; the model building reads it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import replace
from typing import Any, Protocol

from manager.model import (
    PHASES,
    ChargeStatus,
    EventSink,
    EvseReading,
    ReadsTags,
    RecordsSessions,
    SessionRecorder,
)
from manager.runtime import FOLLOW_S, OVERDRAW_TOLERANCE_A, EvseRuntime, now_iso

log = logging.getLogger("ampshare.control")

#: how long an observed overdraw is remembered (s); cFos uses 5 min
OVERDRAW_MEMORY_S = 300.0
#: a car drawing this much less than offered for RECLAIM_AFTER_S takes less (A)
RECLAIM_MARGIN_A = 2.0
RECLAIM_AFTER_S = 30.0
#: after that long with a reduced cap, offer more again to see whether the car takes it (s)
PROBE_AFTER_S = 120.0
#: a measured phase above this share of the highest phase counts as used by the car
PHASE_SHARE = 0.4
PHASE_MIN_A = 1.5

PLUGGED = (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)


class SessionLog(SessionRecorder, Protocol):
    """The session store as the loop uses it: record, and find sessions left open."""

    def open_sessions(self) -> list[dict[str, Any]]: ...

    def get(self, transaction_id: int) -> dict[str, Any] | None: ...

    def annotate(self, transaction_id: int, fields: dict[str, Any]) -> None: ...


class TagReader(Protocol):
    """Where the tags of boxes with a reader go (manager.tagdesk.TagDesk): teach-in, refused
    tags, and who a session belongs to."""

    def seen(self, evse_id: str, tag: str | None) -> None: ...

    def session_facts(self, evse_id: str, tag: str | None) -> dict[str, str | None]: ...

    def started(self, evse_id: str, plugged: bool) -> str | None: ...


class Observer:
    def __init__(self, events: EventSink, sessions: SessionLog | None) -> None:
        self.events = events
        self.sessions = sessions
        #: set by the composition root when users are configured
        self.tags: TagReader | None = None

    def observe(self, now: float, evses: list[EvseRuntime]) -> None:
        for st in evses:
            r = st.reading
            if not st.online or r is None:
                continue
            st.last_measured = r.current_a
            plugged = r.status in PLUGGED
            if self.tags is not None and not _records_sessions(st):
                r = st.reading = self._dashboard_tag(st.id, r, plugged)
            if self.tags is not None and _reads_tags(st):
                self.tags.seen(st.id, r.user)  # OCPP boxes ask by themselves
            self.track_session(st, plugged, r)
            if not plugged:
                st.car_phases, st.cap_a, st.less_since = None, None, None
                st.charging_since, st.waiting_since, st.paused_at = None, None, None
                continue
            top = max(r.current_a)
            if r.status is ChargeStatus.CHARGING and top >= PHASE_MIN_A:
                st.car_phases = _phases_used(r, top)
            self._overdraw(now, st, top)
            reclaim(now, st, top)

    def _dashboard_tag(self, evse_id: str, r: EvseReading, plugged: bool) -> EvseReading:
        """A start from the dashboard stands for a card until the car leaves (a card the
        reader shows wins)."""
        assert self.tags is not None
        tag = self.tags.started(evse_id, plugged)
        return replace(r, user=tag) if tag and not r.user else r

    def _overdraw(self, now: float, st: EvseRuntime, top: float) -> None:
        """Remember a car that draws more than offered, once settled, for OVERDRAW_MEMORY_S."""
        over = top - st.commanded_a
        settled = now - st.decreased_at >= FOLLOW_S
        if settled and st.commanded_a > 0 and over > OVERDRAW_TOLERANCE_A:
            if now > st.overdraw_until:  # once per episode, not at every wobble
                self.events(
                    "overdraw",
                    f"{st.name} draws {top:.1f} A, offered {st.commanded_a:.1f} A",
                    device=st.id,
                    params={"name": st.name, "amps": round(top, 1), "offered": st.commanded_a},
                )
            st.overdraw_a = max(over, st.overdraw_a if now < st.overdraw_until else 0.0)
            st.overdraw_until = now + OVERDRAW_MEMORY_S
        elif now >= st.overdraw_until:
            st.overdraw_a = 0.0

    def track_session(self, st: EvseRuntime, plugged: bool, r: EvseReading) -> None:
        """Sessions of boxes whose driver does not record them itself (all but OCPP)."""
        if self.sessions is None or _records_sessions(st):
            return
        if plugged and st.session_id is None:
            self._start_session(st, r)
        elif plugged and r.user and r.user != st.session_tag:
            # the card came after the plug (a reader box), or a start from the dashboard
            assert st.session_id is not None
            self.sessions.annotate(st.session_id, self._who(st.id, r.user) | {"id_tag": r.user})
            st.session_tag = r.user
        elif not plugged and st.session_id is not None:
            self._stop_session(st, r)
        if plugged and st.session_id is not None:
            st.session_wh = max(st.session_wh, r.session_wh)  # boxes reset it when unplugged

    def _stop_session(self, st: EvseRuntime, r: EvseReading) -> None:
        assert self.sessions is not None and st.session_id is not None
        rec = self.sessions.stop(st.session_id, now_iso(), r.energy_wh, "EVDisconnected")
        if rec is not None and rec.get("energy_wh") is None and st.session_wh > 0:
            # no energy register (or it jumped back): what the box counted itself
            self.sessions.annotate(st.session_id, {"energy_wh": round(st.session_wh, 1)})
        st.session_id, st.session_tag, st.session_wh = None, None, 0.0

    def _start_session(self, st: EvseRuntime, r: EvseReading) -> None:
        assert self.sessions is not None
        open_ = [s for s in self.sessions.open_sessions() if s.get("evse") == st.id]
        if open_:  # the manager restarted while the car stayed plugged in
            st.session_id = int(open_[-1]["id"])
            st.session_tag = open_[-1].get("id_tag")
            return
        st.session_id = self.sessions.start(
            st.id, 1, r.user, now_iso(), r.energy_wh, box=st.name, **self._who(st.id, r.user)
        )
        st.session_tag = r.user

    def _who(self, evse_id: str, tag: str | None) -> dict[str, str | None]:
        """Who the session belongs to and how that was decided (the tag itself without users)."""
        facts = self.tags.session_facts(evse_id, tag) if self.tags is not None else {}
        return {"user": tag} | facts


def _reads_tags(st: EvseRuntime) -> bool:
    return isinstance(st.device, ReadsTags) and st.device.reads_tags


def _records_sessions(st: EvseRuntime) -> bool:
    return isinstance(st.device, RecordsSessions) and st.device.records_sessions


def _phases_used(r: EvseReading, top: float) -> frozenset[int]:
    floor = max(PHASE_MIN_A, PHASE_SHARE * top)
    return frozenset(p for p in range(PHASES) if r.current_a[p] >= floor)


def reclaim(now: float, st: EvseRuntime, top: float) -> None:
    """Cap the offer at what a car takes when it takes clearly less for a while; probe later."""
    min_a = st.spec.min_current_a
    if st.cap_a is not None and now >= st.cap_until:
        st.cap_a, st.less_since = None, None  # probe: offer everything again
        return
    if st.commanded_a >= min_a and top < st.commanded_a - RECLAIM_MARGIN_A:
        if st.less_since is None:
            st.less_since = now
        elif now - st.less_since >= RECLAIM_AFTER_S and st.cap_a is None:
            st.cap_a = max(min_a, math.ceil(top + 1.0))
            st.cap_until = now + PROBE_AFTER_S
            log.info("%s takes only %.1f A: offer capped at %.0f A", st.id, top, st.cap_a)
    else:
        st.less_since = None
