"""The events an operator reads: overload cuts, safe mode, devices offline and back.

Stored like the sessions: one TinyDB file per month (atomic writes), each bounded, and only the
most recent months kept, so the log survives restarts and never grows without bound. The most
recent events are also kept in memory, where the web reads them.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from manager.store import CorruptDataError, open_db

log = logging.getLogger("ampshare.events")

#: events kept in memory for the web (the API serves at most this many)
RECENT = 1000
#: events kept per month file; the oldest of the month go first
PER_MONTH = 2000
#: month files kept; older ones are deleted
MONTHS = 13


class EventLog:
    """Every event goes to the log (where field diagnosis starts), to memory and to disk."""

    def __init__(self, data_dir: Path | None = None, size: int = RECENT) -> None:
        self._events: deque[dict[str, Any]] = deque(maxlen=size)
        self.dir = Path(data_dir) / "events" if data_dir is not None else None
        self._lock = threading.Lock()
        self._db: TinyDB | None = None
        self._month = ""
        self._write_failing = False
        if self.dir is not None:
            self.dir.mkdir(parents=True, exist_ok=True)
            self._load()

    def _months(self) -> list[str]:
        assert self.dir is not None
        return sorted(p.stem.removeprefix("events-") for p in self.dir.glob("events-*.json"))

    def _load(self) -> None:
        """The newest events back into memory; a damaged file stops start-up (CorruptDataError)."""
        loaded: list[dict[str, Any]] = []
        for month in reversed(self._months()):
            db = open_db(self._path(month))
            loaded[:0] = [dict(doc) for doc in sorted(db.all(), key=lambda doc: doc.doc_id)]
            db.close()
            if len(loaded) >= (self._events.maxlen or 0):
                break
        self._events.extend(loaded)

    def _path(self, month: str) -> Path:
        assert self.dir is not None
        return self.dir / f"events-{month}.json"

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

    def _store(self, month: str, event: dict[str, Any]) -> None:
        """Appends to the month's file; a failing disk is logged once, not every event."""
        with self._lock:
            try:
                db = self._rotate(month)
                db.insert(event)
                if len(db) > PER_MONTH:
                    oldest = sorted(doc.doc_id for doc in db.all())[: len(db) - PER_MONTH]
                    db.remove(doc_ids=oldest)
            except (OSError, CorruptDataError) as exc:
                if not self._write_failing:
                    log.error("events are not being saved: %s", exc)
                self._write_failing = True
                return
            if self._write_failing:
                log.info("events are saved again")
            self._write_failing = False

    def _rotate(self, month: str) -> TinyDB:
        if self._db is None or month != self._month:
            if self._db is not None:
                self._db.close()
            self._db, self._month = open_db(self._path(month)), month
            keep = sorted({*self._months(), month})[-MONTHS:]
            for old in set(self._months()) - set(keep):
                self._path(old).unlink(missing_ok=True)
        return self._db

    def recent(self, limit: int = 200) -> list[dict[str, Any]]:
        items = list(self._events)[-limit:]
        items.reverse()
        return items

    def close(self) -> None:
        with self._lock:
            if self._db is not None:
                self._db.close()
                self._db = None
