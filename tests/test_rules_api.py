"""The charging rules' API against a real `ampshare serve` process: prices, the external
charging limit (kept across a restart, lifted when it expires), plans and schedules on a box,
every bad input a 422 that stores nothing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator
from manager_process import ManagerProcess

pytestmark = pytest.mark.slow


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


def start(data_dir: Path) -> ManagerProcess:
    """`ampshare serve` on a simulated site: a grid meter and two wallboxes with cars."""
    fresh = not data_dir.exists()
    proc = ManagerProcess("serve", data_dir=data_dir)
    try:
        proc.wait_ready()
        if fresh:
            _add_devices(proc)
    except BaseException:
        proc.stop()
        raise
    return proc


def _add_devices(proc: ManagerProcess) -> None:
    sim = {"kind": "evse", "driver": "sim-evse", "arrive_after_s": 0.0}
    for body in (
        {"id": "grid", "name": "Grid", "kind": "meter", "driver": "sim-meter", "role": "grid"},
        {**sim, "id": "carport", "name": "Carport", "car": "3p32", "max_current_a": 32.0},
        {**sim, "id": "garage", "name": "Garage", "car": "3p32", "max_current_a": 16.0},
    ):
        resp = proc.api.post("/api/devices", json=body)
        assert resp.status_code == 201, resp.text


@pytest.fixture
def demo(data_dir: Path) -> Iterator[ManagerProcess]:
    proc = start(data_dir)
    try:
        yield proc
    finally:
        proc.stop()


def iso(dt: datetime) -> str:
    return dt.isoformat(timespec="seconds")


def fields(resp) -> set[str]:
    assert resp.status_code == 422, resp.text
    return {e["field"] for e in resp.json()["errors"]}


def test_prices_round_trip_and_bad_lists(demo: ManagerProcess) -> None:
    api = demo.api
    assert api.get("/api/prices").json() == []
    t0 = datetime(2026, 12, 7, tzinfo=UTC)
    slots = [
        {"start": iso(t0 + timedelta(hours=h)), "end": iso(t0 + timedelta(hours=h + 1)),
         "price_per_kwh": p}
        for h, p in enumerate([0.31, 0.12, -0.02])
    ]  # fmt: skip
    assert api.put("/api/prices", json=slots).status_code == 200
    assert api.get("/api/prices").json() == slots
    gap = [slots[0], slots[2]]
    assert fields(api.put("/api/prices", json=gap)) == {"1.start"}
    overlap = [slots[0], {**slots[1], "start": iso(t0 + timedelta(minutes=30))}]
    assert fields(api.put("/api/prices", json=overlap)) == {"1.start"}
    bad = [{"start": "soon", "end": slots[0]["end"], "price_per_kwh": "cheap", "x": 1}]
    assert fields(api.put("/api/prices", json=bad)) == {"0.start", "0.price_per_kwh", "0.x"}
    assert fields(api.put("/api/prices", json={"start": 1})) == {"body"}
    assert api.get("/api/prices").json() == slots  # nothing stored
    doc = api.get("/api/openapi.json").json()
    assert {"get", "put"} <= set(doc["paths"]["/api/prices"])
    assert {"get", "put", "delete"} <= set(doc["paths"]["/api/limits/charging"])


def _limited_power(state: dict) -> float:
    return sum(
        (e["target_a"] or 0.0) * len(e["phases_used"] or range(e["phases"])) * 230.0
        for e in state["evses"]
    )


def _grid_limited(state: dict) -> bool:
    def says(reason: dict | None) -> bool:
        return bool(reason) and (reason["code"] == "grid_limit" or says(reason.get("cause")))

    return any(says(e["reason"]) for e in state["evses"])


def test_limit_caps_the_boxes_survives_a_restart_and_ends(data_dir: Path) -> None:
    proc = start(data_dir)
    try:
        api = proc.api
        assert api.get("/api/limits/charging").json() is None
        assert fields(
            api.put("/api/limits/charging", json={"max_power_w": -1, "duration_s": 60})
        ) == {"max_power_w"}
        past = iso(datetime.now(UTC) - timedelta(minutes=1))
        assert fields(api.put("/api/limits/charging", json={"max_power_w": 1, "until": past})) == {
            "until"
        }
        both = {"max_power_w": 1, "until": past, "duration_s": 5, "circuit": "nowhere"}
        assert fields(api.put("/api/limits/charging", json=both)) == {"until", "circuit"}
        assert api.get("/api/limits/charging").json() is None  # nothing stored
        proc.wait_for(lambda s: any((e["target_a"] or 0) > 0 for e in s["evses"]), 30.0)

        until = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=2)
        put = api.put("/api/limits/charging", json={"max_power_w": 4500, "until": iso(until)})
        assert put.status_code == 200
        assert put.json() == {"max_power_w": 4500.0, "until": iso(until), "circuit": None}
        state = proc.wait_for(_grid_limited, 15.0)
        assert _limited_power(state) <= 4500.0 + 1e-6
        limit = state["site"]["charging_limit"]
        assert limit["max_power_w"] == 4500.0 and limit["until"] == until.timestamp()
        hhmm = until.astimezone().strftime("%H:%M")
        assert limit["text"] == f"Charging limited to 4.5 kW until {hhmm}"
        reason = next(e["reason"] for e in state["evses"] if e["reason"]["code"] == "grid_limit")
        assert reason["text"] == f"limited by the grid operator until {hhmm}"
        de = api.get("/api/state", headers={"accept-language": "de"}).json()
        assert de["site"]["charging_limit"]["text"] == f"Laden begrenzt auf 4,5 kW bis {hhmm}"
        page = api.get("/").text
        assert f"Charging limited to 4.5 kW until {hhmm}" in page
        hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
        prices = [{"start": iso(hour), "end": iso(hour + timedelta(hours=1)), "price_per_kwh": 0.2}]
        assert api.put("/api/prices", json=prices).status_code == 200
    finally:
        proc.stop()

    again = start(data_dir)  # the limit holds across the restart
    try:
        api = again.api
        assert api.get("/api/limits/charging").json()["until"] == iso(until)
        assert api.get("/api/prices").json() == prices  # the prices too
        again.wait_for(_grid_limited, 15.0)
        assert api.delete("/api/limits/charging").status_code == 204
        assert api.get("/api/limits/charging").json() is None
        assert again.state()["site"]["charging_limit"] is None
        # a limit that is not renewed ends by itself
        short = {"max_power_w": 0, "duration_s": 1}
        assert api.put("/api/limits/charging", json=short).status_code == 200
        deadline = time.monotonic() + 10.0
        while api.get("/api/limits/charging").json() is not None:
            assert time.monotonic() < deadline, "the limit did not expire"
            time.sleep(0.2)
    finally:
        again.stop()
    assert not (data_dir / "charging_limit.json").exists()


def test_plans_and_schedules_on_a_box(demo: ManagerProcess) -> None:
    api = demo.api
    past = iso(datetime.now(UTC) - timedelta(hours=1))
    assert fields(api.patch("/api/devices/carport", json={"plan_time": past})) == {"plan_time"}
    overlap = [
        {"days": ["mon"], "from": "22:00", "to": "06:00", "mode": "now"},
        {"days": ["tue"], "from": "05:00", "to": "07:00", "mode": "pv"},
    ]
    assert fields(api.patch("/api/devices/carport", json={"schedules": overlap})) == {"schedules"}
    empty = [{"days": ["mon"], "from": "10:00", "to": "10:00", "mode": "now"}]
    assert fields(api.patch("/api/devices/carport", json={"schedules": empty})) == {"schedules"}
    unknown = [{"days": ["mon"], "from": "10:00", "to": "11:00", "mode": "fast"}]
    assert "schedules.0.mode" in fields(
        api.patch("/api/devices/carport", json={"schedules": unknown})
    )
    assert (
        "schedules" not in api.get("/api/devices/carport").json()
        or not api.get("/api/devices/carport").json()["schedules"]
    )

    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=10)
    nights = [{"days": ["mon", "tue", "wed", "thu", "fri"], "from": "22:00", "to": "06:00",
               "mode": "now"}]  # fmt: skip
    body = {"plan_energy_wh": 5000, "plan_time": iso(ahead), "schedules": nights}
    resp = api.patch("/api/devices/carport", json=body)
    assert resp.status_code == 200, resp.text
    assert resp.json()["schedules"] == nights
    state = demo.wait_for(lambda s: any(e["id"] == "carport" and e["plan"] for e in s["evses"]))
    plan = next(e for e in state["evses"] if e["id"] == "carport")["plan"]
    assert plan["deadline"] == ahead.timestamp() and plan["forecast"] is False
    assert plan["end"] <= plan["deadline"] and plan["text"].startswith("Plan: ")
    # the stored plan time sent back unchanged (as the device form does) is not checked again
    again = {"name": "Carport", "plan_time": iso(ahead)}
    assert api.patch("/api/devices/carport", json=again).status_code == 200


def _box(state: dict, box_id: str) -> dict:
    return next((e for e in state["evses"] if e["id"] == box_id), {"reason": None, "rule": None})


def test_a_window_stops_a_box_and_a_cheap_price_lets_it_charge(demo: ManagerProcess) -> None:
    api = demo.api
    now = datetime.now().astimezone()
    frm, to = now - timedelta(minutes=1), now + timedelta(hours=2)
    days = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"][frm.weekday()]  # its start day
    off = [{"days": [days], "from": frm.strftime("%H:%M"), "to": to.strftime("%H:%M"),
            "mode": "off"}]  # fmt: skip
    assert api.patch("/api/devices/garage", json={"schedules": off}).status_code == 200
    state = demo.wait_for(lambda s: (_box(s, "garage")["reason"] or {}).get("code") == "schedule")
    garage = _box(state, "garage")
    assert garage["target_a"] == 0.0
    assert garage["reason"]["text"] == f"schedule: off until {to.strftime('%H:%M')}"
    assert garage["rule"]["code"] == "schedule"

    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    slots = [
        {"start": iso(hour + timedelta(hours=h)), "end": iso(hour + timedelta(hours=h + 1)),
         "price_per_kwh": p}
        for h, p in enumerate([0.10, 0.11, 0.40])
    ]  # fmt: skip
    assert api.put("/api/prices", json=slots).status_code == 200
    assert api.patch("/api/devices/carport", json={"price_limit": 0.11}).status_code == 200
    state = demo.wait_for(lambda s: (_box(s, "carport")["rule"] or {}).get("code") == "cheap_price")
    until = (hour + timedelta(hours=2)).astimezone().strftime("%H:%M")
    assert _box(state, "carport")["rule"]["text"] == f"cheap price window until {until}"
    de = api.get("/api/state", headers={"accept-language": "de"}).json()
    assert _box(de, "carport")["rule"]["text"] == f"günstiges Preisfenster bis {until}"
    assert (_box(state, "carport")["target_a"] or 0) > 0


def test_14a_keeps_every_charging_box_at_4200_w(demo: ManagerProcess) -> None:
    api = demo.api
    patch = {"limits": {"keep_14a_minimum": True}}
    assert api.patch("/api/settings", json=patch).json()["limits"] == patch["limits"]
    assert api.put("/api/limits/charging", json={"max_power_w": 0, "duration_s": 600}).is_success

    def floors_kept(s: dict) -> bool:
        boxes = [e for e in s["evses"] if e["id"] in ("carport", "garage")]
        return len(boxes) == 2 and all(e["target_a"] == 6.1 for e in boxes)

    demo.wait_for(floors_kept, 30.0)


def test_rules_answers_match_the_generated_schemas(demo: ManagerProcess) -> None:
    """A state with a limit, a plan and a rule in force, the prices and the limit, each as the
    OpenAPI document describes it."""
    api = demo.api
    ahead = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=5)
    hour = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    prices = [{"start": iso(hour), "end": iso(hour + timedelta(hours=2)), "price_per_kwh": 0.1}]
    assert api.put("/api/prices", json=prices).status_code == 200
    box = {"plan_energy_wh": 4000, "plan_time": iso(ahead), "price_limit": 0.2}
    assert api.patch("/api/devices/carport", json=box).status_code == 200
    assert api.put("/api/limits/charging", json={"max_power_w": 9000, "duration_s": 300}).is_success
    demo.wait_for(lambda s: any(e["plan"] and e["rule"] for e in s["evses"]))
    doc = api.get("/api/openapi.json").json()
    checks = {
        "/api/state": {"$ref": "#/components/schemas/State"},
        "/api/prices": doc["paths"]["/api/prices"]["get"]["responses"]["200"],
        "/api/limits/charging": doc["paths"]["/api/limits/charging"]["get"]["responses"]["200"],
    }
    for path, schema in checks.items():
        schema = schema.get("content", {}).get("application/json", {}).get("schema", schema)
        validator = Draft202012Validator({**schema, "components": doc["components"]})
        for lang in ("en", "de"):
            body = api.get(path, headers={"accept-language": lang}).json()
            errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(body)]
            assert errors == [], path


def test_the_lower_of_box_and_user_mode_wins(demo: ManagerProcess) -> None:
    """A user whose mode is `off` charging at a box in `now`: the box stays at 0 A, under
    control, and says why."""
    api = demo.api
    user = {"name": "Anna", "tags": ["ANNA01"], "charge_mode": "off"}
    assert api.post("/api/users", json=user).status_code == 201
    box = {"id": "visitor", "name": "Visitor", "kind": "evse", "driver": "sim-evse",
           "arrive_after_s": 0.0, "user": "ANNA01"}  # fmt: skip
    assert api.post("/api/devices", json=box).status_code == 201
    state = demo.wait_for(lambda s: (_box(s, "visitor")["reason"] or {}).get("code") == "user_mode")
    visitor = _box(state, "visitor")
    assert visitor["target_a"] == 0.0 and visitor["reason"]["text"] == "user Anna allows only off"
    de = api.get("/api/state", headers={"accept-language": "de"}).json()
    assert _box(de, "visitor")["reason"]["text"] == "Nutzer Anna erlaubt nur Aus"
