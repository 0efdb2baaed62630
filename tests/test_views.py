"""Session totals (per day, month, box, user; running sessions with their energy so far), the
decision timeline's bands and bounds, and the current through each sub-board."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from manager import timeline as tl
from manager.history import History
from manager.model import Circuit
from manager.session_live import with_live
from manager.session_report import totals_by
from manager.sessions import SessionStore
from manager.state import EvseState, ReasonState, State
from manager.store import AtomicJSONStorage, CorruptDataError


def _row(sid: int, start: str, wh: float | None, evse: str = "a", user: str | None = "Anna",
         stop: str | None = "x") -> dict:  # fmt: skip
    return {"id": sid, "evse": evse, "box": evse.upper(), "user": user, "id_tag": "T1",
            "started_at": start, "stopped_at": stop and start, "energy_wh": wh}  # fmt: skip


def test_totals_per_day_month_box_and_user() -> None:
    rows = [
        _row(1, "2026-11-03T10:00:00Z", 5000.0),
        _row(2, "2026-11-03T12:00:00Z", 2500.0, evse="b", user=None),
        _row(3, "2026-12-01T12:00:00Z", 1000.0, evse="b", stop=None),
    ]
    days = totals_by(rows, "day")
    assert [d["key"] for d in days] == ["2026-12-01", "2026-11-03"]  # newest first
    assert days[1]["energy_kwh"] == 7.5 and days[1]["sessions"] == 2
    months = totals_by(rows, "month")
    assert [(m["key"], m["energy_kwh"], m["running"]) for m in months] == [
        ("2026-12", 1.0, 1),
        ("2026-11", 7.5, 0),
    ]
    boxes = totals_by(rows, "evse")
    assert [(b["key"], b["label"], b["energy_kwh"]) for b in boxes] == [
        ("a", "A", 5.0),
        ("b", "B", 3.5),
    ]
    users = {u["key"]: u["energy_kwh"] for u in totals_by(rows, "user")}
    assert users == {"Anna": 6.0, "T1": 2.5}  # no user: the tag
    assert sum(d["energy_kwh"] for d in days) == sum(b["energy_kwh"] for b in boxes)
    with pytest.raises(ValueError):
        totals_by(rows, "week")


def test_running_sessions_carry_the_live_energy_and_duration() -> None:
    rows = [
        _row(1, "2026-12-01T10:00:00Z", 4000.0),
        _row(2, "2026-12-01T11:00:00Z", None, stop=None),
        _row(3, "2026-12-01T11:30:00Z", None, evse="gone", stop=None),
    ]
    live = [EvseState(id="a", status="charging", session_wh=812.4)]
    now = datetime(2026, 12, 1, 11, 45, tzinfo=UTC)
    out = with_live(rows, live, now)
    assert [r["running"] for r in out] == [False, True, True]
    assert out[0]["energy_wh"] == 4000.0 and out[0]["duration_s"] == 0
    assert out[1]["energy_wh"] == 812.4 and out[1]["duration_s"] == 45 * 60
    assert out[2]["energy_wh"] is None  # its box is gone: nothing is made up
    older = _row(0, "2026-12-01T08:00:00Z", None, stop=None)  # left open, e.g. a lost stop
    again = with_live([older, *rows], live, now)
    assert again[0]["energy_wh"] is None and again[2]["energy_wh"] == 812.4
    assert totals_by(out, "day")[0]["energy_kwh"] == 4.812


def test_csv_has_the_energy_so_far_of_a_running_session(tmp_path: Path) -> None:
    store = SessionStore(tmp_path)
    store.start("a", 1, "T1", "2026-12-01T10:00:00Z", 1000.0)
    rows = with_live(store.list(), [EvseState(id="a", status="charging", session_wh=650.0)])
    line = store.to_csv(rows).splitlines()[1]
    assert ",0.650," in line
    store.close()


def _snap(setpoint: float, draw: float, reason: ReasonState | None) -> State:
    e = EvseState(id="a", name="Garage left", setpoint_a=setpoint, current_a=(draw, draw, 0.0),
                  reason=reason)  # fmt: skip
    return State(evses=[e])


LIMIT = ReasonState(
    code="circuit_limit",
    params={"circuit": "garage", "circuit_name": "Garage board", "phase": "L1"},
)


def test_reasons_become_bands_and_points_a_minute() -> None:
    clock = [1_800_000_000.0]
    history = History(None, clock=lambda: clock[0])
    for _ in range(18 * 60):  # 18 min limited by the garage board
        clock[0] += 1.0
        history.add(_snap(10.0, 9.5, LIMIT))
    slot = ReasonState(code="waiting_slot", cause=LIMIT)
    for _ in range(5):  # then paused, waiting for a slot; a countdown does not split bands
        clock[0] += 1.0
        history.add(_snap(0.0, 0.0, slot))
    clock[0] += 60.0
    history.add(_snap(0.0, 0.0, ReasonState(code="resume_wait", params={"seconds": 60})))
    clock[0] += 1.0
    history.add(_snap(0.0, 0.0, ReasonState(code="resume_wait", params={"seconds": 59})))
    (view,) = history.decisions()
    assert view.evse == "a" and view.name == "Garage left"
    codes = [b.reason.code for b in view.bands]
    assert codes == ["circuit_limit", "waiting_slot", "resume_wait"]
    first = view.bands[0]
    span = datetime.fromisoformat(first.until) - datetime.fromisoformat(first.since)
    assert 17 * 60 <= span.total_seconds() <= 18 * 60
    assert view.bands[1].reason.cause is not None
    assert view.bands[2].reason.params["seconds"] == 60  # the first value of the band
    assert 18 <= len(view.points) <= 21  # about 19 min, the one under way included
    assert view.points[3].setpoint_a == 10.0 and view.points[3].draw_a == 9.5


def test_timeline_is_bounded_to_24_h_and_max_bands(tmp_path: Path) -> None:
    clock = [1_800_000_000.0]
    history = History(None, clock=lambda: clock[0], bucket_s=60.0)
    reasons = [ReasonState(code="at_max", params={"amps": 16}), LIMIT]
    steps = int(30 * 3600 / 20)  # 30 h, a snapshot every 20 s, the reason flips each time
    for i in range(steps):
        clock[0] += 20.0
        history.add(_snap(6.0, 6.0, reasons[i % 2]))
    box = history.timeline.boxes["a"]
    assert len(box.bands) == tl.MAX_BANDS
    assert len(box.points) <= tl.POINTS
    (view,) = history.decisions()
    oldest = datetime.fromisoformat(view.bands[0].since).timestamp()
    assert clock[0] - oldest <= tl.WINDOW_S
    assert clock[0] - datetime.fromisoformat(view.points[0].ts).timestamp() <= tl.WINDOW_S
    # what is saved comes back, and a box silent for a day is forgotten
    history.storage = AtomicJSONStorage(tmp_path / "history.json")
    clock[0] += 60.0
    history.add(_snap(6.0, 6.0, LIMIT))  # a new minute: written
    again = History(tmp_path / "history.json", clock=lambda: clock[0])
    assert len(again.timeline.boxes["a"].bands) == tl.MAX_BANDS
    assert (
        again.decisions()[0].points == history.decisions()[0].points[:-1]
    )  # but the minute under way
    again.timeline.flush(clock[0] + tl.WINDOW_S + 120)
    assert "a" not in again.timeline.boxes


def test_damaged_timeline_stops_start_up(tmp_path: Path) -> None:
    path = tmp_path / "history.json"
    path.write_text('{"points": [], "decisions": {"a": {"name": "A", "bands": [{"x": 1}]}}}')
    with pytest.raises(CorruptDataError, match=r"history\.json"):
        History(path)


def test_a_gap_closes_a_band() -> None:
    clock = [1_800_000_000.0]
    history = History(None, clock=lambda: clock[0])
    history.add(_snap(6.0, 6.0, LIMIT))
    clock[0] += tl.GAP_S + 5  # the manager was stopped
    history.add(_snap(6.0, 6.0, LIMIT))
    assert len(history.decisions()[0].bands) == 2


def test_circuit_load_is_its_base_plus_the_boxes_below() -> None:
    from manager.runtime import EvseRuntime
    from manager.snapshot import circuit_loads

    circuits = [
        Circuit("main", "Grid", None, 32.0, base_load_a=(5.0, 5.0, 5.0)),
        Circuit("garage", "Garage board", "main", 16.0, base_load_a=(1.0, 0.0, 0.0)),
    ]
    cfg = {"id": "g", "name": "g", "kind": "evse", "driver": "sim-evse", "address": "",
           "circuit": "garage", "phase_rotation": "L2L3L1"}  # fmt: skip
    st = EvseRuntime(cfg)
    st.last_measured = (10.0, 10.0, 0.0)  # box L1, L2 -> site L2, L3
    loads = circuit_loads(circuits, [st])
    assert loads["garage"] == (1.0, 10.0, 10.0)
    assert loads["main"] == (5.0, 15.0, 15.0)


def test_a_box_without_energy_register_stores_what_it_counted(tmp_path: Path) -> None:
    """A finished session always has its energy: without a register, the box's own count."""
    from manager.model import ChargeStatus, EvseReading
    from manager.observe import Observer
    from manager.runtime import EvseRuntime

    store = SessionStore(tmp_path)
    observer = Observer(lambda *a, **k: None, store)
    cfg = {"id": "abl", "name": "ABL", "kind": "evse", "driver": "sim-evse", "address": ""}
    st = EvseRuntime(cfg, online=True)
    for wh in (0.0, 300.0, 640.0):
        st.reading = EvseReading(status=ChargeStatus.CHARGING, session_wh=wh, energy_wh=None)
        observer.observe(0.0, [st])
    st.reading = EvseReading(status=ChargeStatus.NO_CAR, session_wh=0.0, energy_wh=None)
    observer.observe(0.0, [st])
    (row,) = store.list()
    assert row["stopped_at"] is not None and row["energy_wh"] == 640.0
    assert "0.640" in store.to_csv([row])
    store.close()


def test_timeline_chart_draws_bands_and_lists_them_newest_first() -> None:
    from web import timeline_chart
    from web.wording import worded

    start = datetime(2026, 12, 3, 14, 2, tzinfo=UTC)
    limited = worded(LIMIT.model_dump(mode="json"), "en")
    waiting = worded({"code": "waiting_slot", "params": {}, "cause": limited}, "en")
    timeline = {
        "points": [{"ts": "2026-12-03T14:02:00+00:00", "setpoint_a": 10.0, "draw_a": 9.0}],
        "bands": [
            {"since": "2026-12-03T14:02:00+00:00", "until": "2026-12-03T14:20:00+00:00",
             "reason": limited},
            {"since": "2026-12-03T14:20:00+00:00", "until": "2026-12-03T14:21:00+00:00",
             "reason": waiting},
        ],
    }  # fmt: skip
    html = timeline_chart.render(timeline, 16.0, now=start.replace(minute=21))
    assert html.count('class="band ') == 2
    assert 'class="band b-limit"' in html and 'class="band b-wait"' in html
    assert "Garage board" in html and 'class="sp"' in html and 'class="dr"' in html
    lines = timeline_chart.band_lines(timeline["bands"])
    local = start.astimezone()
    assert lines[1]["since"] == f"{local:%H:%M}"
    assert lines[1]["text"] == limited["text"] and "Garage board" in lines[1]["text"]
    assert lines[0]["group"] == "wait"
