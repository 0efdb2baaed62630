"""The audit log of admin actions on charge points: who, when, which box, what was asked, what
the box answered. Kept on disk in one TinyDB file per month (atomic writes, like sessions), so
it survives restarts; each month holds at most MAX_PER_MONTH entries (the oldest go first)."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB

from manager.store import open_db

log = logging.getLogger(__name__)

MAX_PER_MONTH = 5000
#: months `recent` looks back into
_RECENT_MONTHS = 2


class AuditLog:
    """Thread-safe; `record` writes at once (an audit entry is never only in memory)."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "audit"
        self._dbs: dict[str, TinyDB] = {}
        self._lock = threading.Lock()
        for month in self._months()[-_RECENT_MONTHS:]:
            self._db(month)  # a broken file stops start-up here, with its name

    def _months(self) -> list[str]:
        if not self.dir.is_dir():
            return []
        return sorted(p.stem.removeprefix("audit-") for p in self.dir.glob("audit-*.json"))

    def _db(self, month: str) -> TinyDB:
        db = self._dbs.get(month)
        if db is None:
            db = self._dbs[month] = open_db(self.dir / f"audit-{month}.json")
        return db

    def record(
        self, who: str, box: str, action: str, request: Any, status: str, answer: Any
    ) -> dict[str, Any]:
        now = datetime.now(UTC)
        entry = {
            "ts": now.isoformat(timespec="seconds"),
            "who": who,
            "box": box,
            "action": action,
            "request": request,
            "status": status,
            "answer": answer,
        }
        with self._lock:
            db = self._db(f"{now.year:04d}-{now.month:02d}")
            db.insert(entry)
            if len(db) > MAX_PER_MONTH:
                oldest = sorted(doc.doc_id for doc in db.all())[: len(db) - MAX_PER_MONTH]
                db.remove(doc_ids=oldest)
        log.info("audit: %s %s on %s: %s", who, action, box, status)
        return entry

    def recent(self, limit: int = 200, box: str | None = None) -> list[dict[str, Any]]:
        """Newest first."""
        rows: list[dict[str, Any]] = []
        with self._lock:
            for month in reversed(self._months()[-_RECENT_MONTHS:]):
                docs = sorted(self._db(month).all(), key=lambda d: d.doc_id, reverse=True)
                rows.extend(dict(d) for d in docs if box is None or d.get("box") == box)
                if len(rows) >= limit:
                    break
        return rows[:limit]

    def close(self) -> None:
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
