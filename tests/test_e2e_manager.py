"""`ampshare demo` and `ampshare serve` as real processes, used over HTTP as a person would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from jsonschema import Draft202012Validator
from manager_process import PASSWORD, ManagerProcess, running
from ports import free_port

from web.wording import word

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Iterator[ManagerProcess]:
    with running("demo") as proc:
        yield proc


@pytest.fixture
def serve(tmp_path: Path) -> Iterator[ManagerProcess]:
    with running("serve", data_dir=tmp_path / "data") as proc:
        yield proc


def test_login_is_enforced(demo: ManagerProcess) -> None:
    with httpx.Client(base_url=demo.url, timeout=5.0) as anon:
        assert anon.get("/api/state").status_code == 401
        assert anon.get("/api/state", auth=("admin", "wrong")).status_code == 401
        assert anon.get("/api/devices").status_code == 401
        page = anon.get("/", follow_redirects=False)
        assert page.status_code in (302, 303, 307) and "/login" in page.headers["location"]
        assert anon.get("/login").status_code == 200
    assert demo.api.get("/api/state").status_code == 200


def test_demo_state_is_live(demo: ManagerProcess) -> None:
    first = demo.state()
    assert len(first["evses"]) == 3 and len(first["meters"]) == 2
    assert first["site"]["limit_a"] == [32.0, 32.0, 32.0]
    second = demo.wait_for(lambda s: s["ts"] != first["ts"], timeout_s=5)
    assert second["site"]["grid_a"][0] is not None
    carport = demo.wait_for(
        lambda s: any(e["id"] == "carport" and e["setpoint_a"] > 0 for e in s["evses"]),
        timeout_s=15,
    )
    box = next(e for e in carport["evses"] if e["id"] == "carport")
    assert box["reason"]["code"] and box["reason"]["text"]  # every setpoint comes with a why


def test_reasons_arrive_worded_in_the_readers_language(demo: ManagerProcess) -> None:
    """The same codes in English and German, over the API and over SSE."""
    en = demo.api.get("/api/state", headers={"accept-language": "en"}).json()
    de = demo.api.get("/api/state", headers={"accept-language": "de-DE"}).json()
    assert all(e["reason"]["text"] == word(e["reason"], "en") for e in en["evses"])
    assert all(e["reason"]["text"] == word(e["reason"], "de") for e in de["evses"])
    assert any(e["reason"]["text"] != word(e["reason"], "en") for e in de["evses"])
    doc = demo.api.get("/api/openapi.json").json()  # a live site matches the generated schema
    validator = Draft202012Validator({"$ref": "#/components/schemas/State", **doc})
    assert [e.message for e in validator.iter_errors(de)] == []
    with demo.api.stream("GET", "/api/events", headers={"accept-language": "de"}) as resp:
        line = next(x for x in resp.iter_lines() if x.startswith("data: "))
    streamed = json.loads(line[6:])
    for e in streamed["evses"]:
        assert e["reason"]["text"] == word(e["reason"], "de")


def test_device_added_through_the_api_appears_in_the_state(demo: ManagerProcess) -> None:
    new = {
        "kind": "evse",
        "driver": "sim-evse",
        "name": "Visitor",
        "car": "3p16",
        "max_current_a": 16,
    }
    created = demo.api.post("/api/devices", json=new)
    assert created.status_code in (200, 201), created.text
    dev_id = created.json()["id"]
    assert demo.api.get(f"/api/devices/{dev_id}").json()["name"] == "Visitor"
    state = demo.wait_for(lambda s: any(e["id"] == dev_id for e in s["evses"]), timeout_s=5)
    assert next(e for e in state["evses"] if e["id"] == dev_id)["online"]
    assert demo.api.delete(f"/api/devices/{dev_id}").status_code in (200, 204)


def test_bad_input_names_the_field_and_stores_nothing(demo: ManagerProcess) -> None:
    before = demo.api.get("/api/devices").json()
    bad = {"kind": "evse", "driver": "sim-evse", "name": "X", "max_current_a": -3}
    response = demo.api.post("/api/devices", json=bad)
    assert response.status_code == 422
    assert any(e["field"] == "max_current_a" for e in response.json()["errors"])
    response = demo.api.patch("/api/settings", json={"site": {"max_current_a": "lots"}})
    assert response.status_code == 422
    assert "max_current_a" in response.text
    assert demo.api.get("/api/devices").json() == before


def test_stale_grid_meter_gives_safe_mode(demo: ManagerProcess) -> None:
    assert demo.api.patch("/api/settings", json={"site": {"meter_timeout_s": 2}}).is_success
    try:
        assert demo.api.patch("/api/devices/grid", json={"offline": True}).is_success
        t0 = time.monotonic()
        state = demo.wait_for(lambda s: s["site"]["safe_mode"], timeout_s=10)
        waited = time.monotonic() - t0
        assert state["site"]["safe_reason"]["code"] in ("meter_silent", "meter_no_reading")
        assert "grid meter" in state["site"]["safe_reason"]["text"]
        assert waited < 10
        evses = [e for e in state["evses"] if e["online"]]
        assert all(e["reason"]["code"] == "safe_mode" for e in evses)
        assert all(e["reason"]["text"].startswith("safe mode (") for e in evses)
    finally:
        demo.api.patch("/api/devices/grid", json={"offline": False})
        demo.api.patch("/api/settings", json={"site": {"meter_timeout_s": 10}})
    demo.wait_for(lambda s: not s["site"]["safe_mode"], timeout_s=10)


def test_serve_keeps_config_across_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    first = ManagerProcess("serve", data_dir=data)
    try:
        first.wait_ready()
        circuit = first.api.post("/api/circuits", json={"name": "Garage", "max_current_a": 16})
        assert circuit.status_code in (200, 201), circuit.text
        meter = first.api.post(
            "/api/devices",
            json={"kind": "meter", "driver": "sim-meter", "name": "Grid", "role": "grid"},
        )
        assert meter.status_code in (200, 201), meter.text
    finally:
        first.stop()
    second = ManagerProcess("serve", data_dir=data)
    try:
        second.wait_ready()
        names = [c["name"] for c in second.api.get("/api/circuits").json()]
        assert names == ["Grid connection", "Garage"]
        assert [d["name"] for d in second.api.get("/api/devices").json()] == ["Grid"]
    finally:
        second.stop()


def test_corrupt_data_file_stops_serve_with_a_clear_message(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "config.json").write_text("{broken")
    proc = ManagerProcess("serve", data_dir=data)
    try:
        assert proc.proc.wait(timeout=20) == 2
        out = proc.output()
    finally:
        proc.stop()
    assert "config.json" in out and "Traceback" not in out
    assert (data / "config.json").read_text() == "{broken"


def test_admin_password_is_never_stored_in_clear(serve: ManagerProcess) -> None:
    assert serve.data_dir is not None
    text = (serve.data_dir / "config.json").read_text()
    assert PASSWORD not in text and "scrypt$" in text


def test_taken_web_port_is_a_clear_error(tmp_path: Path) -> None:
    first = ManagerProcess("serve", data_dir=tmp_path / "one")
    try:
        first.wait_ready()
        proc = subprocess.run(
            [sys.executable, "-m", "manager.cli", "serve", "--data", str(tmp_path / "two"),
             "--host", "127.0.0.1", "--http-port", str(first.http_port),
             "--ocpp-port", str(free_port())],
            capture_output=True, text=True, timeout=30,
        )  # fmt: skip
    finally:
        first.stop()
    assert proc.returncode == 1
    assert "cannot listen" in proc.stderr and "Traceback" not in proc.stderr + proc.stdout


def test_set_password_from_stdin(tmp_path: Path) -> None:
    data = tmp_path / "data"
    run = [sys.executable, "-m", "manager.cli", "set-password", "--data", str(data)]
    short = subprocess.run(run, input="ab\n", capture_output=True, text=True, timeout=30)
    assert short.returncode == 1 and "at least" in short.stderr
    ok = subprocess.run(run, input="garage-pw\n", capture_output=True, text=True, timeout=30)
    assert ok.returncode == 0
    proc = ManagerProcess("serve", data_dir=data, AMPSHARE_ADMIN_PASSWORD="")
    try:
        proc.wait_for_port()
        with httpx.Client(base_url=proc.url, timeout=5) as client:
            assert client.get("/api/state", auth=("admin", "garage-pw")).status_code == 200
    finally:
        proc.stop()


def test_weak_admin_password_in_the_environment_is_a_clear_error(tmp_path: Path) -> None:
    env = {**os.environ, "AMPSHARE_ADMIN_PASSWORD": "pw"}
    proc = subprocess.run(
        [sys.executable, "-m", "manager.cli", "serve", "--data", str(tmp_path / "data"),
         "--host", "127.0.0.1", "--http-port", str(free_port()), "--ocpp-port", str(free_port())],
        capture_output=True, text=True, timeout=30, env=env,
    )  # fmt: skip
    assert proc.returncode == 1
    assert "AMPSHARE_ADMIN_PASSWORD: use at least" in proc.stderr
    assert "Traceback" not in proc.stderr + proc.stdout
    assert not (tmp_path / "data" / "config.json").exists()
