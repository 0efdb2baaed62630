"""The events an operator reads: overload cuts, safe mode, devices offline and back.

Stored like the sessions: one TinyDB file per month (atomic writes), each bounded, and only the
most recent months kept, so the log survives restarts and never grows without bound. The most
recent events are also kept in memory, where the web reads them.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections import deque
from collections.abc import AsyncIterator, Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from manager.store import CorruptDataError, TableStorage

log = logging.getLogger("ampshare.events")

#: events kept in memory for the web (the API serves at most this many)
RECENT = 1000
#: events kept per month file; the oldest of the month go first
PER_MONTH = 2000
#: month files kept; older ones are deleted
MONTHS = 13
#: the files keep TinyDB's layout, like every other data file
TABLE = "_default"


class EventLog:
    """Every event goes to the log (where field diagnosis starts), to memory and to disk.

    The current month is held in memory too, so storing an event is one atomic file write,
    not a read, parse and write of the month as a database would do it.
    """

    def __init__(self, data_dir: Path | None = None, size: int = RECENT) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        self.dir = Path(data_dir) / "events" if data_dir is not None else None
        self._lock = threading.Lock()
        self._month = ""
        self._month_events: list[dict[str, Any]] = []
        self._write_failing = False
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._load()
        #: called with every new event (MQTT, metrics); must not block
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def _months(self) -> list[str]:
        assert self.dir is not None
        return sorted(p.stem.removeprefix("events-") for p in self.dir.glob("events-*.json"))

    def _path(self, month: str) -> Path:
        assert self.dir is not None
        return self.dir / f"events-{month}.json"

    def _read(self, month: str) -> list[dict[str, Any]]:
        """A month's events in order; CorruptDataError names a damaged file."""
        data = TableStorage(self._path(month)).read() or {}
        table = data.get(TABLE, {})
        return [dict(table[key]) for key in sorted(table, key=int)]

    def _load(self) -> None:
        """The newest events back into memory; a damaged file stops start-up."""
        loaded: list[dict[str, Any]] = []
        for month in reversed(self._months()):
            loaded[:0] = self._read(month)
            if len(loaded) >= (self._events.maxlen or 0):
                break
        self._events.extend(loaded)

    def __call__(
        self,
        kind: str,
        message: str,
        *,
        device: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        now = datetime.now(UTC)
        event: dict[str, Any] = {
            "ts": now.isoformat(timespec="seconds"),
            "kind": kind,
            "message": message,
            "device": device,
        }
        if params:  # the facts behind the message, for filters and exports
            event["params"] = dict(params)
        self._events.append(event)
        log.info("%s: %s", kind, message)
        if self.dir is not None:
            self._store(f"{now.year:04d}-{now.month:02d}", event)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the one who reported
                log.exception("event listener failed")

    def _store(self, month: str, event: dict[str, Any]) -> None:
        """Writes the month with `event`; a failing disk is logged once, not every event."""
        with self._lock:
            try:
                if month != self._month:
                    self._rotate(month)
                events = [*self._month_events, event][-PER_MONTH:]
                table = {str(n): e for n, e in enumerate(events, start=1)}
                TableStorage(self._path(month)).write({TABLE: table})
                self._month_events = events
            except (OSError, CorruptDataError) as exc:
                if not self._write_failing:
                    log.error("events are not being saved: %s", exc)
                self._write_failing = True
                return
            if self._write_failing:
                log.info("events are saved again")
            self._write_failing = False

    def _rotate(self, month: str) -> None:
        """Starts (or continues) `month` and deletes months beyond the last MONTHS."""
        self._month_events = self._read(month)
        self._month = month
        keep = sorted({*self._months(), month})[-MONTHS:]
        for old in set(self._months()) - set(keep):
            self._path(old).unlink(missing_ok=True)

    async def follow(self) -> AsyncIterator[dict[str, Any]]:
        """Every new event as it happens (the events page's live stream); a slow reader
        misses events rather than holding memory."""
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue(maxsize=100)

        def push(event: dict[str, Any]) -> None:
            if not queue.full():
                queue.put_nowait(event)

        self.listeners.append(push)
        try:
            while True:
                yield await queue.get()
        finally:
            self.listeners.remove(push)

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        items = list(self._events)[-limit:]
        items.reverse()
        return items

    def close(self) -> None:
        """Nothing is buffered: every event is on disk when the call returns."""
