"""The recent events an operator reads: overload cuts, safe mode, devices offline and back."""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from manager.store import AtomicJSONStorage, CorruptDataError

log = logging.getLogger("ampshare.events")


class EventLog:
    """Bounded in memory; every event also goes to the log, where field diagnosis starts."""

    def __init__(self, size: int = 500, path: Path | None = None) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        # kept on disk (for restarts and backups) by `flush`, called now and then, not per
        # event: a storm of events must not become a storm of fsyncs
        self._storage = AtomicJSONStorage(path) if path else None
        self._dirty = False
        if self._storage is not None:
            try:
                saved = (self._storage.read() or {}).get("events", [])
            except CorruptDataError as exc:  # old events are not worth refusing to start for
                log.warning("events not loaded: %s", exc)
                saved = []
            self._events.extend(e for e in saved if isinstance(e, dict))
        #: called with every new event (MQTT, metrics); must not block
        self.listeners: list[Callable[[dict[str, Any]], None]] = []

    def __call__(self, kind: str, message: str, *, device: str | None = None) -> None:
        event = {
            "ts": datetime.now(UTC).isoformat(timespec="seconds"),
            "kind": kind,
            "message": message,
            "device": device,
        }
        self._events.append(event)
        self._dirty = True
        log.info("%s: %s", kind, message)
        for listener in self.listeners:
            try:
                listener(event)
            except Exception:  # a broken listener must not stop the one who reported
                log.exception("event listener failed")

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        items = list(self._events)[-limit:]
        items.reverse()
        return items

    def flush(self) -> None:
        """Writes the events to disk if any came since the last flush."""
        if self._storage is not None and self._dirty:
            self._dirty = False
            self._storage.write({"events": list(self._events)})  # type: ignore[dict-item]
