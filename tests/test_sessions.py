"""Session store: idempotent starts, harmless repeated stops, ids unique across restarts, CSV."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest

from manager.sessions import SessionStore
from manager.store import CorruptDataError


def test_start_stop_records_energy(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("box1", 1, "TAG1", "2026-03-01T10:00:00Z", 1000.0, user="anna")
    rec = store.stop(sid, "2026-03-01T11:30:00+01:00", 8500.0, "EVDisconnected", ["sig"])
    assert rec is not None
    assert rec["energy_wh"] == 7500.0
    assert rec["stopped_at"] == "2026-03-01T10:30:00.000Z"
    assert rec["stop_reason"] == "EVDisconnected"
    assert rec["signed_data"] == ["sig"]
    assert store.list() == [rec]


def test_resent_start_gives_same_id(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    a = store.start("box1", 1, "TAG1", "2026-03-01T10:00:00Z", 1000)
    b = store.start("box1", 1, "TAG1", "2026-03-01T10:00:00.000Z", 1000.0)
    c = store.start("box1", 1, "TAG1", "2026-03-01T10:05:00Z", 1000.0)
    assert a == b
    assert c != a
    assert len(store.list()) == 2
    # also after the session stopped, and after a restart
    store.stop(a, "2026-03-01T10:04:00Z", 1200.0)
    again = SessionStore(tmp_path)
    assert again.start("box1", 1, "TAG1", "2026-03-01T10:00:00Z", 1000) == a
    assert len(again.list()) == 2


def test_explicit_key_and_find(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("cs", 1, None, "2026-03-01T10:00:00Z", None, key="cs|tx-1")
    assert store.start("cs", 1, None, "2026-03-01T10:00:09Z", 5.0, key="cs|tx-1") == sid
    assert store.find("cs|tx-1") == sid
    store.stop(sid, "2026-03-01T12:00:00Z", None)
    assert SessionStore(tmp_path).find("cs|tx-1") == sid
    assert store.find("cs|tx-2") is None


def test_repeated_stop_is_harmless(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("box1", 1, "T", "2026-03-01T10:00:00Z", 0)
    first = store.stop(sid, "2026-03-01T11:00:00Z", 5000, "Local")
    second = store.stop(sid, "2026-03-01T12:00:00Z", 9000, "Remote")
    assert first == second
    assert store.get(sid)["meter_stop_wh"] == 5000
    assert store.stop(999, "2026-03-01T12:00:00Z", 1) is None


def test_ids_unique_across_restarts_and_months(tmp_path: Path) -> None:
    ids = set()
    for month in range(1, 5):
        store = SessionStore(tmp_path)
        for day in (1, 2):
            sid = store.start("b", 1, "T", f"2026-{month:02d}-{day:02d}T08:00:00Z", day)
            assert sid not in ids
            ids.add(sid)
        store.close()
    assert len(list((tmp_path / "sessions").glob("sessions-*.json"))) == 4
    store = SessionStore(tmp_path)
    assert len(store.list()) == 8
    assert [r["id"] for r in store.list(since="2026-02-01", until="2026-03-02T00:00:00Z")] == [
        3,
        4,
        5,
    ]


def test_lost_meta_file_never_reuses_an_id(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("b", 1, "T", "2026-03-01T08:00:00Z", 0)
    store.close()
    (tmp_path / "sessions" / "meta.json").unlink()
    assert SessionStore(tmp_path).start("b", 1, "T", "2026-03-02T08:00:00Z", 0) > sid


def test_filters(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.start("a", 1, "T1", "2026-03-01T08:00:00Z", 0, user="anna")
    store.start("b", 1, "T2", "2026-03-01T09:00:00Z", 0)
    assert [r["evse"] for r in store.list(evse="b")] == ["b"]
    assert [r["evse"] for r in store.list(user="anna")] == ["a"]
    assert [r["evse"] for r in store.list(user="T2")] == ["b"]
    assert [r["evse"] for r in store.list(since="2026-03-01T08:30:00Z")] == ["b"]
    assert store.open_sessions()[0]["evse"] == "a"


def test_csv(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("garage", 2, "=HYPERLINK()", "2026-03-01T10:00:00Z", 1500)
    store.stop(sid, "2026-03-01T11:00:00Z", 12_750, "EVDisconnected", [{"value": "OCMF|{}"}])
    store.start("garage", 1, None, "2026-03-01T12:00:00Z", None)
    text = store.to_csv(store.list())
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == 2
    assert rows[0]["energy_kwh"] == "11.250"
    assert rows[0]["meter_start_kwh"] == "1.500"
    assert rows[0]["id_tag"] == "'=HYPERLINK()"
    assert rows[0]["started_at"] == "2026-03-01T10:00:00.000Z"
    assert json.loads(rows[0]["signed_data"]) == [{"value": "OCMF|{}"}]
    assert rows[1]["stopped_at"] == "" and rows[1]["energy_kwh"] == ""
    assert SessionStore.to_csv([]).splitlines() == [",".join(rows[0].keys())]


def test_bad_time_and_corrupt_file(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    with pytest.raises(ValueError, match="ISO 8601"):
        store.start("b", 1, "T", "yesterday", 0)
    store.close()
    (tmp_path / "sessions" / "meta.json").write_text("{broken")
    with pytest.raises(CorruptDataError):
        SessionStore(tmp_path)


def test_meter_reset_gives_no_negative_energy(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    sid = store.start("b", 1, "T", "2026-03-01T08:00:00Z", 5000)
    assert store.stop(sid, "2026-03-01T09:00:00Z", 10)["energy_wh"] is None
