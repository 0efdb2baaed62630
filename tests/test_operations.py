"""Version, health, Prometheus metrics, the MQTT/metrics settings and the log view, against a
real `ampshare serve` process; the metrics guard against a non-loopback client in process."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from manager_process import ManagerProcess, running
from prometheus_client.parser import text_string_to_metric_families

from manager.version import VERSION

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def demo() -> Iterator[ManagerProcess]:
    with running("demo") as proc:
        yield proc


def test_version_command() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "manager.cli", "--version"],
        capture_output=True,
        text=True,
        timeout=30,
        check=True,
    )
    assert out.stdout.strip() == f"ampshare {VERSION}"
    assert VERSION and VERSION != "0+unknown"


def test_health_without_login_says_status_and_version_only(demo: ManagerProcess) -> None:
    resp = httpx.get(f"{demo.url}/api/health", timeout=5)
    assert resp.status_code == 200
    assert resp.json() == {"status": "ok", "version": VERSION}


def test_footer_shows_the_version(demo: ManagerProcess) -> None:
    assert f"ampshare {VERSION}" in demo.api.get("/").text


def _families(text: str) -> dict[str, list]:
    return {f.name: f.samples for f in text_string_to_metric_families(text)}


def test_metrics_parse_and_cover_the_site(demo: ManagerProcess) -> None:
    demo.wait_for(lambda s: any(e["status"] == "charging" for e in s["evses"]), 30)
    resp = httpx.get(f"{demo.url}/metrics", timeout=5)  # loopback, no token: open
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    fams = _families(resp.text)
    for name in (
        "ampshare_site_grid_current_amperes",
        "ampshare_site_grid_power_watts",
        "ampshare_site_pv_power_watts",
        "ampshare_wallbox_current_amperes",
        "ampshare_wallbox_power_watts",
        "ampshare_wallbox_setpoint_amperes",
        "ampshare_meter_power_watts",
        "ampshare_control_cycle_seconds",
        "ampshare_allocation_seconds",
        "ampshare_ocpp_connections",
        "ampshare_ocpp_messages_received",
        "ampshare_events",
        "ampshare_errors",
        "ampshare_build_info",
        "ampshare_mqtt_connected",
    ):
        assert name in fams, name
    phases = {s.labels["phase"] for s in fams["ampshare_site_grid_current_amperes"]}
    assert phases == {"L1", "L2", "L3"}
    boxes = {s.labels["wallbox"] for s in fams["ampshare_wallbox_power_watts"]}
    assert boxes == {"carport", "garage-left", "garage-right"}
    count = next(
        s.value for s in fams["ampshare_control_cycle_seconds"] if s.name.endswith("_count")
    )
    assert count >= 1
    assert fams["ampshare_build_info"][0].labels["version"] == VERSION


def test_metrics_token(demo: ManagerProcess) -> None:
    assert demo.api.patch("/api/settings", json={"metrics": {"token": "short"}}).status_code == 422
    token = "a-long-enough-metrics-token"
    resp = demo.api.patch("/api/settings", json={"metrics": {"token": token}})
    assert resp.status_code == 200
    assert resp.json()["metrics"] == {"token_set": True}
    try:
        assert httpx.get(f"{demo.url}/metrics", timeout=5).status_code == 401
        wrong = {"authorization": "Bearer nope"}
        assert httpx.get(f"{demo.url}/metrics", headers=wrong, timeout=5).status_code == 401
        right = {"authorization": f"Bearer {token}"}
        resp = httpx.get(f"{demo.url}/metrics", headers=right, timeout=5)
        assert resp.status_code == 200 and "ampshare_build_info" in resp.text
    finally:
        demo.api.patch("/api/settings", json={"metrics": {"token": None}})
    assert httpx.get(f"{demo.url}/metrics", timeout=5).status_code == 200


async def test_metrics_refused_to_other_machines_without_token(tmp_path: Path) -> None:
    from manager.app import Options, build_manager
    from web.app import create_app

    manager = build_manager(Options(data_dir=tmp_path / "data"))
    try:
        app = create_app(manager.service)
        for host, status in (("192.0.2.7", 403), ("::1", 200), ("127.0.0.1", 200)):
            transport = httpx.ASGITransport(app=app, client=(host, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://x") as client:
                resp = await client.get("/metrics")
                assert resp.status_code == status, host
                if status == 403:
                    assert "token" in resp.json()["error"]
    finally:
        await manager.close()


def test_mqtt_settings_section(demo: ManagerProcess) -> None:
    mqtt = demo.api.get("/api/settings").json()["mqtt"]
    assert set(mqtt) == {
        "host", "port", "tls", "username", "password_set", "base_topic", "retain"
    }  # fmt: skip
    assert mqtt["host"] == "" and mqtt["base_topic"] == "ampshare" and not mqtt["password_set"]
    bad = demo.api.patch(
        "/api/settings", json={"mqtt": {"port": 0, "base_topic": "a/#", "tls": "maybe"}}
    )
    assert bad.status_code == 422
    fields = {e["field"] for e in bad.json()["errors"]}
    assert fields == {"mqtt.port", "mqtt.base_topic", "mqtt.tls"}
    ok = demo.api.patch("/api/settings", json={"mqtt": {"password": "secret", "username": "u"}})
    assert ok.status_code == 200 and ok.json()["mqtt"]["password_set"] is True
    assert "secret" not in demo.api.get("/api/settings").text
    kept = demo.api.patch("/api/settings", json={"mqtt": {"password": ""}})
    assert kept.json()["mqtt"]["password_set"] is True
    cleared = demo.api.patch("/api/settings", json={"mqtt": {"password": None, "username": ""}})
    assert cleared.json()["mqtt"]["password_set"] is False


def test_log_view(demo: ManagerProcess) -> None:
    lines = demo.api.get("/api/log", params={"level": "info"}).json()
    assert any("ampshare up in" in line["message"] for line in lines)
    assert all(line["level"] in {"INFO", "WARNING", "ERROR"} for line in lines)
    warnings = demo.api.get("/api/log", params={"level": "WARNING"}).json()
    assert all(line["level"] in {"WARNING", "ERROR"} for line in warnings)
    bad = demo.api.get("/api/log", params={"level": "DEBUG"})
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "level"
    page = demo.api.get("/log", headers={"cookie": "lang=de"})
    assert page.status_code == 200
    assert "Protokoll" in page.text and "Stufe" in page.text and "ampshare up in" in page.text
    assert httpx.get(f"{demo.url}/api/log", timeout=5).status_code == 401


def test_health_says_starting_and_stalled(tmp_path: Path) -> None:
    import time

    from manager.control import ControlLoop
    from manager.operations import Operations

    control = ControlLoop(build_device=lambda cfg: None, events=lambda *a, **k: None)  # type: ignore[arg-type,return-value]
    ops = Operations(control=control, store=None, events=None, lock=None)  # type: ignore[arg-type]
    assert ops.health() == {"status": "starting", "version": VERSION}
    control.last_cycle_at = time.monotonic()
    assert ops.health()["status"] == "ok"
    control.last_cycle_at = time.monotonic() - 11.0  # 1 s cycles: 10 s without one is a stall
    assert ops.health()["status"] == "stalled"
