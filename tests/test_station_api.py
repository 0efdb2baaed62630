"""POST /api/stations/{charge_box_id}/{action} through the real web app and wiring: the box's
answer, 409/504/422, the audit log on disk, and a reservation held in the allocation."""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from manager_support import running_manager
from station_support import node_station
from test_ocpp_support import until

from manager.app import Manager
from manager.audit import AuditLog
from web.app import create_app
from web.shapes_stations import AuditEntry, Station, StationAnswer
from web.wording import word

PASSWORD = "station-admin-pw"


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    async with running_manager(tmp_path, password=PASSWORD) as m:
        yield m


@pytest.fixture
async def api(manager: Manager) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(manager.service)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://ampshare", auth=("admin", PASSWORD), timeout=10
    ) as client:
        yield client


async def box_ready(manager: Manager, cb_id: str) -> None:
    def done() -> bool:
        conn = manager.ocpp.connection(cb_id)
        return conn is not None and conn._followup is not None and conn._followup.done()

    await until(done)


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_actions_over_http_are_answered_and_audited(
    manager: Manager, api: httpx.AsyncClient, tmp_path: Path, version: str
) -> None:
    async with node_station(manager.ocpp.port, "UNCONF", version) as box:
        await box_ready(manager, "UNCONF")
        reset = await api.post("/api/stations/UNCONF/reset", json={})
        assert reset.status_code == 200, reset.text
        assert reset.json() == {"status": "Accepted", "payload": {"status": "Accepted"}}
        StationAnswer.model_validate(reset.json())
        trig = await api.post(
            "/api/stations/UNCONF/trigger",
            json={"message": "StatusNotification", "connector_id": 1},
        )
        assert trig.json()["status"] == "Accepted"
        await box.answer("Rejected")
        refused = await api.post("/api/stations/UNCONF/unlock", json={"connector_id": 1})
        assert refused.status_code == 200 and refused.json()["status"] == "UnlockFailed"
        bad = await api.post(
            "/api/stations/UNCONF/reserve", json={"connector_id": "one", "minutes": 0}
        )
        assert bad.status_code == 422
        assert {e["field"] for e in bad.json()["errors"]} == {"connector_id", "minutes", "id_tag"}
        assert (await api.post("/api/stations/UNCONF/explode", json={})).status_code == 404
        info = (await api.get("/api/stations/UNCONF")).json()
        Station.model_validate(info)  # as /api/openapi.json documents it
        assert (info["vendor"], info["model"], info["connected"]) == ("Interop", "Station", True)
        assert info["protocol"] == version and info["security_profile"] == 0
        await box.answer("silent")
        manager.ocpp.settings = dataclasses.replace(manager.ocpp.settings, response_timeout_s=0.3)
        silent = await api.post("/api/stations/UNCONF/reset", json={})
        assert silent.status_code == 504, silent.text
    offline = await api.post("/api/stations/UNCONF/reset", json={})
    assert offline.status_code == 409
    assert (await api.post("/api/stations/NEVER/reset")).status_code == 409

    audit = (await api.get("/api/audit")).json()
    for entry in audit:
        AuditEntry.model_validate(entry)
    assert [(a["action"], a["status"]) for a in audit][:3] == [
        ("reset", "offline"),
        ("reset", "offline"),
        ("reset", "no_answer"),
    ]
    first = audit[-1]
    assert first["who"] == "admin (basic, 127.0.0.1)"
    assert (first["box"], first["action"], first["request"]) == ("UNCONF", "reset", {})
    assert first["answer"] == {"status": "Accepted"}
    log = (await api.get("/api/events/log")).json()
    assert any(e["kind"] == "station_action" and e["device"] == "UNCONF" for e in log)
    manager.audit.close()
    on_disk = AuditLog(tmp_path).recent(100)  # kept on disk: a new reader sees it all
    assert len(on_disk) == len(audit) == 7


async def test_reserved_box_is_kept_free_in_the_allocation(
    manager: Manager, api: httpx.AsyncClient
) -> None:
    created = await api.post(
        "/api/devices",
        json={"kind": "evse", "driver": "ocpp", "name": "Res", "address": "RES1"},
    )
    assert created.status_code == 201, created.text
    device = created.json()["id"]
    async with node_station(manager.ocpp.port, "RES1", "1.6") as _box:
        await box_ready(manager, "RES1")
        reserved = await api.post(
            "/api/stations/RES1/reserve", json={"connector_id": 1, "id_tag": "ALICE", "minutes": 5}
        )
        assert reserved.json()["status"] == "Accepted", reserved.text
        rid = reserved.json()["payload"]["reservation_id"]
        held = manager.control.reservations.holding(device, None)
        assert held is not None and held.code == "reserved"
        await manager.control.cycle()
        st = manager.control.evses[device]
        assert st.target_a == 0 and st.reason.code == "reserved"
        assert word(st.reason.data(), "en").startswith("reserved until")
        cancel = await api.post(
            "/api/stations/RES1/cancel_reservation", json={"reservation_id": rid}
        )
        assert cancel.json()["status"] == "Accepted"
        assert manager.control.reservations.holding(device, None) is None


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_station_page_and_fragments(
    manager: Manager, api: httpx.AsyncClient, version: str
) -> None:
    assert (await api.get("/stations/NOPE")).status_code == 404
    async with node_station(manager.ocpp.port, "PAGE1", version) as _box:
        await box_ready(manager, "PAGE1")
        page = await api.get("/stations/PAGE1", headers={"accept-language": "de"})
        assert page.status_code == 200
        for text in ("Sicherheitsprofil", "Seriennummer", "Ladeprofile löschen", "Interop"):
            assert text in page.text, text
        assert ('data-action="display"' in page.text) == (version == "2.0.1")
        config = await api.get("/stations/PAGE1/configuration")
        key = "HeartbeatInterval" if version == "1.6" else "OCPPCommCtrlr.HeartbeatInterval"
        assert f'data-key="{key}"' in config.text and 'value="300"' in config.text
        profiles = await api.get("/stations/PAGE1/profiles")
        assert "<svg" in profiles.text  # ampshare's default-deny on connector 0
    gone = await api.get("/stations/PAGE1/profiles")
    assert "not connected" in gone.text


async def test_station_settings_take_effect_at_once(
    manager: Manager, api: httpx.AsyncClient
) -> None:
    inbox = manager.ocpp.station
    assert inbox.signer is None and inbox.tariff_per_kwh is None
    bad = await api.patch("/api/settings", json={"ocpp": {"tariff_per_kwh": -1}})
    assert bad.status_code == 422
    patch = {"ocpp": {"local_ca": True, "tariff_per_kwh": 0.3, "show_reasons": True}}
    done = await api.patch("/api/settings", json=patch)
    assert done.status_code == 200, done.text
    assert inbox.signer is not None and inbox.tariff_per_kwh == 0.3
    assert manager.ocpp.settings.ca_pem and "BEGIN CERTIFICATE" in manager.ocpp.settings.ca_pem
    assert manager.control.settings.ocpp.show_reasons
    page = await api.get("/settings", headers={"accept-language": "de"})
    assert "Lokale CA für Ladestations-Zertifikate" in page.text
    await api.patch("/api/settings", json={"ocpp": {"local_ca": False}})
    assert inbox.signer is None and manager.ocpp.settings.ca_pem is None
