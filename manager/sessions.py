"""Charging sessions: one record per transaction, in TinyDB files partitioned by month.

Partitioning keeps every insert fast with years of history (only the current month's file is
rewritten). A small meta file holds the next id and the open sessions, so ids stay unique
across restarts and a resent start finds its session without scanning old months. The meta
file is written before the session itself: a power cut may leave a gap in the ids, never a
reused one.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tinydb import TinyDB
from tinydb.table import Document

from manager.store import open_db

log = logging.getLogger(__name__)

_META_DOC = 1
#: how many most recent month files `find` looks at for sessions that are already stopped
_FIND_MONTHS = 3

CSV_COLUMNS = (
    "id",
    "evse",
    "box",
    "connector",
    "id_tag",
    "user",
    "method",
    "result",
    "started_at",
    "stopped_at",
    "meter_start_kwh",
    "meter_stop_kwh",
    "energy_kwh",
    "stop_reason",
    "signed_data",
    "cost",
)


def parse_time(value: str | datetime) -> datetime:
    """An aware UTC datetime from ISO 8601 text ("Z" allowed); naive times count as UTC."""
    if isinstance(value, datetime):
        dt = value
    else:
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        try:
            dt = datetime.fromisoformat(text)
        except ValueError as exc:
            raise ValueError(f"not an ISO 8601 time: {value!r}") from exc
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def iso(dt: datetime) -> str:
    """UTC ISO text with millisecond precision and a "Z", as OCPP writes times."""
    return dt.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _month(dt: datetime) -> str:
    return f"{dt.year:04d}-{dt.month:02d}"


class SessionStore:
    """Implements manager.model.SessionRecorder; thread-safe, so callers may use a thread."""

    def __init__(self, data_dir: Path) -> None:
        self.dir = Path(data_dir) / "sessions"
        self.dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._dbs: dict[str, TinyDB] = {}
        self._meta_db = open_db(self.dir / "meta.json")
        meta = self._meta_db.get(doc_id=_META_DOC)
        self._meta: dict[str, Any] = dict(meta) if meta else {"next_id": 1, "open": {}}
        # belt and braces: never hand out an id that a month file already holds
        newest = self._months()[-1:]
        for month in newest:
            ids = [doc.doc_id for doc in self._db(month).all()]
            if ids and max(ids) >= self._meta["next_id"]:
                self._meta["next_id"] = max(ids) + 1

    # ---------------------------------------------------------------- files

    def _months(self) -> list[str]:
        return sorted(p.stem.removeprefix("sessions-") for p in self.dir.glob("sessions-*.json"))

    def _db(self, month: str) -> TinyDB:
        db = self._dbs.get(month)
        if db is None:
            db = open_db(self.dir / f"sessions-{month}.json")
            self._dbs[month] = db
        return db

    def _save_meta(self) -> None:
        self._meta_db.upsert(Document(self._meta, doc_id=_META_DOC))

    def _locate(self, transaction_id: int) -> str | None:
        entry = self._meta["open"].get(str(transaction_id))
        if entry:
            return str(entry["month"])
        for month in reversed(self._months()):
            if self._db(month).get(doc_id=transaction_id) is not None:
                return month
        return None

    # ---------------------------------------------------------------- recorder

    def start(
        self,
        evse: str,
        connector: int,
        id_tag: str | None,
        started_at: str,
        meter_start_wh: float | None,
        *,
        key: str | None = None,
        user: str | None = None,
        box: str | None = None,
        method: str | None = None,
        result: str | None = None,
    ) -> int:
        """Record a new session and return its id, or the id of the same session sent again.

        `method` is how the tag was authorized (local, backend, free, remote, fallback),
        `result` the status it got (Accepted, or why it was refused).
        """
        start = parse_time(started_at)
        started = iso(start)
        meter = None if meter_start_wh is None else float(meter_start_wh)
        key = key or f"{evse}|{connector}|{id_tag or ''}|{started}|{meter}"
        month = _month(start)
        with self._lock:
            for sid, entry in self._meta["open"].items():
                if entry.get("key") == key:
                    return int(sid)
            db = self._db(month)
            found = db.get(lambda doc: doc.get("key") == key)
            if found is not None:
                return int(found.doc_id)  # type: ignore[union-attr]
            sid = int(self._meta["next_id"])
            self._meta["next_id"] = sid + 1
            self._meta["open"][str(sid)] = {"key": key, "month": month}
            self._save_meta()
            record = {
                "id": sid,
                "key": key,
                "evse": evse,
                "box": box,
                "connector": int(connector),
                "id_tag": id_tag,
                "user": user,
                "method": method,
                "result": result,
                "started_at": started,
                "stopped_at": None,
                "meter_start_wh": meter,
                "meter_stop_wh": None,
                "energy_wh": None,
                "stop_reason": None,
                "signed_data": [],
            }
            db.insert(Document(record, doc_id=sid))
        log.info("session %d started on %s/%s (tag %s)", sid, evse, connector, id_tag)
        return sid

    def stop(
        self,
        transaction_id: int,
        stopped_at: str,
        meter_stop_wh: float | None,
        reason: str | None = None,
        signed_data: list[object] | None = None,
        *,
        meter_start_wh: float | None = None,
    ) -> dict[str, Any] | None:
        """Close a session; a repeated stop returns the stored session unchanged.

        `meter_start_wh` fills in a start that was not known when the session began (a 2.0.1
        Started event without an energy register: the first reading counts).
        """
        stopped = iso(parse_time(stopped_at))
        with self._lock:
            month = self._locate(int(transaction_id))
            if month is None:
                log.warning("stop for unknown session %s ignored", transaction_id)
                return None
            db = self._db(month)
            doc = db.get(doc_id=int(transaction_id))
            if doc is None:  # open index points at a session lost in a power cut
                self._meta["open"].pop(str(transaction_id), None)
                self._save_meta()
                return None
            record = dict(doc)  # type: ignore[arg-type]
            if record.get("stopped_at") is None:
                start = record.get("meter_start_wh")
                if start is None and meter_start_wh is not None:
                    start = record["meter_start_wh"] = float(meter_start_wh)
                stop = None if meter_stop_wh is None else float(meter_stop_wh)
                energy = None
                if start is not None and stop is not None and stop >= start:
                    energy = round(stop - start, 3)
                record.update(
                    stopped_at=stopped,
                    meter_stop_wh=stop,
                    energy_wh=energy,
                    stop_reason=reason,
                    signed_data=list(record.get("signed_data") or []) + list(signed_data or []),
                )
                db.update(record, doc_ids=[int(transaction_id)])
                log.info("session %s stopped (%s, %s Wh)", transaction_id, reason, energy)
            if self._meta["open"].pop(str(transaction_id), None) is not None:
                self._save_meta()
            return record

    def find(self, key: str) -> int | None:
        with self._lock:
            for sid, entry in self._meta["open"].items():
                if entry.get("key") == key:
                    return int(sid)
            for month in reversed(self._months()[-_FIND_MONTHS:]):
                found = self._db(month).get(lambda doc: doc.get("key") == key)
                if found is not None:
                    return int(found.doc_id)  # type: ignore[union-attr]
        return None

    def get(self, transaction_id: int) -> dict[str, Any] | None:
        with self._lock:
            month = self._locate(int(transaction_id))
            if month is None:
                return None
            doc = self._db(month).get(doc_id=int(transaction_id))
            return dict(doc) if doc is not None else None  # type: ignore[arg-type]

    def annotate(self, transaction_id: int, fields: Mapping[str, Any]) -> None:
        """Add what was learned about a session later (e.g. the cost a box was told)."""
        with self._lock:
            month = self._locate(int(transaction_id))
            if month is not None:
                self._db(month).update(dict(fields), doc_ids=[int(transaction_id)])

    def open_sessions(self) -> list[dict[str, Any]]:
        """Sessions started and not yet stopped (e.g. to resume them after a restart)."""
        ids = [int(sid) for sid in list(self._meta["open"])]
        return [s for s in (self.get(sid) for sid in ids) if s is not None]

    # ---------------------------------------------------------------- reading

    def list(
        self,
        since: str | datetime | None = None,
        until: str | datetime | None = None,
        evse: str | None = None,
        user: str | None = None,
    ) -> list[dict[str, Any]]:
        """Sessions that started in [since, until), oldest first; `user` matches user or tag."""
        lo = parse_time(since) if since is not None else None
        hi = parse_time(until) if until is not None else None
        wanted = _Filter(lo, hi, evse, user)
        rows: list[dict[str, Any]] = []
        with self._lock:
            for month in self._months():
                if wanted.month(month):
                    rows.extend(r for r in map(dict, self._db(month).all()) if wanted.row(r))
        rows.sort(key=lambda r: (r["started_at"], r["id"]))
        return rows

    @staticmethod
    def to_csv(rows: Iterable[Mapping[str, Any]]) -> str:
        """CSV with a header row; energy in kWh, times in ISO 8601 UTC."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(CSV_COLUMNS)
        for r in rows:
            writer.writerow(
                [
                    r.get("id"),
                    _cell(r.get("evse")),
                    _cell(r.get("box")),
                    r.get("connector"),
                    _cell(r.get("id_tag")),
                    _cell(r.get("user")),
                    _cell(r.get("method")),
                    _cell(r.get("result")),
                    r.get("started_at") or "",
                    r.get("stopped_at") or "",
                    _kwh(r.get("meter_start_wh")),
                    _kwh(r.get("meter_stop_wh")),
                    _kwh(r.get("energy_wh")),
                    _cell(r.get("stop_reason")),
                    json.dumps(r["signed_data"]) if r.get("signed_data") else "",
                    "" if r.get("cost") is None else r["cost"],
                ]
            )
        return out.getvalue()

    def close(self) -> None:
        with self._lock:
            for db in self._dbs.values():
                db.close()
            self._dbs.clear()
            self._meta_db.close()


def _kwh(wh: object) -> str:
    if wh is None:
        return ""
    return f"{float(wh) / 1000.0:.3f}"  # type: ignore[arg-type]


def _cell(value: object) -> str:
    """Text cell; a leading = + - @ is defused so a spreadsheet never runs an RFID as formula."""
    if value is None:
        return ""
    text = str(value)
    if text[:1] in ("=", "+", "-", "@"):
        return "'" + text
    return text


@dataclass(frozen=True, slots=True)
class _Filter:
    """Which sessions `SessionStore.list` returns: started in [lo, hi), on a box, of a user."""

    lo: datetime | None
    hi: datetime | None
    evse: str | None
    user: str | None

    def month(self, month: str) -> bool:
        if self.lo is not None and month < _month(self.lo):
            return False
        return self.hi is None or month <= _month(self.hi)

    def row(self, rec: Mapping[str, Any]) -> bool:
        started = parse_time(rec["started_at"])
        if (self.lo is not None and started < self.lo) or (
            self.hi is not None and started >= self.hi
        ):
            return False
        if self.evse is not None and self.evse not in (rec.get("evse"), rec.get("box")):
            return False
        return self.user is None or self.user in (rec.get("user"), rec.get("id_tag"))
