"""The event log on disk: kept across restarts, bounded per month, old months dropped."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest

from manager import events as events_module
from manager.events import EventLog
from manager.store import CorruptDataError


def test_events_survive_a_restart_in_order(tmp_path: Path) -> None:
    log = EventLog(tmp_path)
    for n in range(15):  # past 9 -> 10, where text order and number order differ
        log("test", f"event {n}", device="box")
    log.close()
    again = EventLog(tmp_path)
    assert [e["message"] for e in again.recent(3)] == ["event 14", "event 13", "event 12"]
    assert len(again.recent(100)) == 15
    (month,) = (tmp_path / "events").iterdir()
    assert month.name.startswith("events-") and month.suffix == ".json"


def test_a_month_file_is_bounded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "PER_MONTH", 5)
    log = EventLog(tmp_path)
    for n in range(12):
        log("test", f"event {n}")
    log.close()
    (path,) = (tmp_path / "events").iterdir()
    stored = json.loads(path.read_text())["_default"]
    assert {e["message"] for e in stored.values()} == {f"event {n}" for n in range(7, 12)}


def test_old_months_are_dropped(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events_module, "MONTHS", 2)
    folder = tmp_path / "events"
    folder.mkdir()
    for month in ("2020-01", "2020-02", "2020-03"):
        (folder / f"events-{month}.json").write_text('{"_default": {}}')
    log = EventLog(tmp_path)
    log("test", "now")
    log.close()
    names = sorted(p.name for p in folder.iterdir())
    assert len(names) == 2 and "events-2020-01.json" not in names


def test_a_damaged_month_stops_start_up(tmp_path: Path) -> None:
    folder = tmp_path / "events"
    folder.mkdir()
    (folder / "events-2020-01.json").write_bytes(b"\xff")
    with pytest.raises(CorruptDataError, match=r"events-2020-01\.json"):
        EventLog(tmp_path)


def test_a_failing_disk_is_logged_once_and_events_stay_in_memory(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    log = EventLog(tmp_path)
    log("test", "first")
    folder = tmp_path / "events"
    for path in folder.iterdir():
        path.unlink()
    folder.rmdir()
    folder.write_text("")  # a file where the folder was: every write fails from now on
    with caplog.at_level(logging.ERROR, logger="ampshare.events"):
        for n in range(5):
            log("test", f"lost {n}")
    assert len([r for r in caplog.records if r.levelno == logging.ERROR]) == 1
    assert log.recent(1)[0]["message"] == "lost 4"
    log.close()
