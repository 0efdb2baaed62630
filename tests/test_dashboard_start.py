"""Start charging as a user from the dashboard: the box is released with the user's tag, and a
box with a gateway sends Authorize with that tag to its billing backend (strict ocpp-rpc).

A Modbus box with a reader (emulated Bender) and an OCPP box (station.js) on ampshare's server,
each with a gateway; the real app, in process.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from gateway_backend import Backend
from manager_support import running_manager
from modbus_emu import Emulator
from station_support import node_station
from test_modbus_rfid import UNIT, bender, present, settle

from manager.app import Manager
from manager.config import InvalidInput
from manager.model import Reason
from web.app import create_app

PASSWORD = "admin-pw-123"


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    async with running_manager(tmp_path, password=PASSWORD) as m:
        yield m


@pytest.fixture
async def backend() -> AsyncIterator[Backend]:
    b = await asyncio.to_thread(Backend)
    try:
        yield b
    finally:
        await asyncio.to_thread(b.stop)


def plain(errors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The field and the English message of each mistake (its code and params aside)."""
    return [{"field": e["field"], "message": e["message"]} for e in errors]


def gateway(backend: Backend, client_id: str) -> dict[str, Any]:
    return {"gateway_url": backend.url, "gateway_client_id": client_id,
            "gateway_password": backend.cfg["password"]}  # fmt: skip


def authorized(backend: Backend, identity: str) -> list[str]:
    return [c["params"]["idTag"] for c in backend.calls("Authorize") if c["identity"] == identity]


async def seen_by(manager: Manager, backend: Backend, method: str, identity: str) -> dict[str, Any]:
    """The backend's last `method` call from `identity`, running control cycles (bounded)."""
    for _ in range(200):
        calls = [c for c in backend.calls(method) if c["identity"] == identity]
        if calls:
            return calls[-1]
        await manager.control.cycle()
        await asyncio.sleep(0.05)
    raise AssertionError(f"{identity}: no {method} at the backend")


async def test_start_as_user_on_a_modbus_box_authorizes_the_users_tag(
    manager: Manager, backend: Backend
) -> None:
    svc = manager.service
    await svc.update_settings({"site": {"resume_delay_s": 0}})
    anna = await svc.create_user({"name": "Anna", "tags": ["ANNA-TAG", "ANNA-2"]})
    nocard = await svc.create_user({"name": "Nocard", "tags": []})
    await svc.create_device(
        {"id": "other", "name": "Other", "kind": "evse", "driver": "sim-evse", "enabled": False}
    )
    elsewhere = await svc.create_user({"name": "Far", "tags": ["FAR"], "evses": ["other"]})
    async with Emulator() as emu:
        bender(emu, state=1)  # no car yet
        dev = await svc.create_device(
            {"name": "Garage", "kind": "evse", "driver": "bender", "address": emu.address,
             "unit_id": UNIT, "authorization": "local", **gateway(backend, "GWMOD")}
        )  # fmt: skip
        box_id = dev["id"]
        await settle(manager, box_id, Reason("no_car"))
        with pytest.raises(InvalidInput) as no_car:
            await svc.start_for_user(box_id, anna["id"], "admin")
        assert plain(no_car.value.errors) == [{"field": "evse", "message": "no car plugged in"}]

        emu.unit(UNIT).holding[122] = 2  # a car, no card: the box waits, the backend too
        assert await settle(manager, box_id, Reason("auth_wait")) == 0
        await seen_by(manager, backend, "StatusNotification", "GWMOD")
        for user, message in ((nocard, "has no tag"), (elsewhere, "may not use this wallbox")):
            with pytest.raises(InvalidInput) as refused:
                await svc.start_for_user(box_id, user["id"], "admin")
            assert plain(refused.value.errors) == [{"field": "user", "message": message}]
        with pytest.raises(InvalidInput):
            await svc.start_for_user(box_id, "nobody", "admin")

        answer = await svc.start_for_user(box_id, anna["id"], "admin")
        assert answer == {"evse": box_id, "user": anna["id"], "tag": "ANNA-TAG",
                          "status": "Accepted"}  # fmt: skip
        assert await settle(manager, box_id, None) > 0
        assert emu.unit(UNIT).holding[1000] > 0
        started = [e for e in manager.events.recent(50) if e["kind"] == "started_as_user"]
        assert started[-1]["params"] == {"user": "Anna", "tag": "ANNA-TAG", "status": "Accepted",
                                         "by": "admin"}  # fmt: skip
        start = await seen_by(manager, backend, "StartTransaction", "GWMOD")
        assert start["params"]["idTag"] == "ANNA-TAG"
        assert authorized(backend, "GWMOD") == ["ANNA-TAG"]  # once, never the box's identity
        row = [s for s in manager.sessions.list() if s["evse"] == box_id][-1]
        assert (row["user"], row["id_tag"], row["method"]) == ("Anna", "ANNA-TAG", "remote")

        emu.unit(UNIT).holding[122] = 1  # the car leaves: the start ends with it
        present(emu, "")
        await settle(manager, box_id, Reason("no_car"))
        emu.unit(UNIT).holding[122] = 2
        assert await settle(manager, box_id, Reason("auth_wait")) == 0


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_start_as_user_on_an_ocpp_box_authorizes_then_remote_starts(
    manager: Manager, backend: Backend
) -> None:
    svc = manager.service
    anna = await svc.create_user({"name": "Anna", "tags": ["ANNA-OCPP"]})
    dev = await svc.create_device(
        {"kind": "evse", "driver": "ocpp", "name": "Dock", "address": "DOCK1",
         "authorization": "gateway", **gateway(backend, "GWDOCK")}
    )  # fmt: skip
    async with node_station(manager.ocpp.port, "DOCK1", "1.6") as box:
        await asyncio.to_thread(backend.wait, "call", method="BootNotification", identity="GWDOCK")
        transport = httpx.ASGITransport(app=create_app(svc))
        async with httpx.AsyncClient(
            transport=transport, base_url="http://t", auth=("admin", PASSWORD)
        ) as api:
            bad = await api.post(f"/api/devices/{dev['id']}/start", json={"user": "nobody"})
            assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "user"
            r = await api.post(f"/api/devices/{dev['id']}/start", json={"user": anna["id"]})
            assert r.status_code == 200, r.text
            assert r.json() == {"evse": dev["id"], "user": anna["id"], "tag": "ANNA-OCPP",
                                "status": "Accepted"}  # fmt: skip
            page = await api.get(f"/devices/{dev['id']}", headers={"accept-language": "de"})
            assert "Laden als Benutzer starten" in page.text
        assert (await box.request("RemoteStartTransaction"))["idTag"] == "ANNA-OCPP"
        assert authorized(backend, "GWDOCK") == ["ANNA-OCPP"]

        # the box starts with that tag: not asked twice, relayed, and filed as a remote start
        res = await box.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "ANNA-OCPP", "meterStart": 100, "timestamp": _now()},
        )
        assert res["result"]["idTagInfo"]["status"] == "Accepted"
        start = await asyncio.to_thread(
            backend.wait, "call", method="StartTransaction", identity="GWDOCK"
        )
        assert start["params"]["idTag"] == "ANNA-OCPP"
        assert authorized(backend, "GWDOCK") == ["ANNA-OCPP"]
        row = [s for s in manager.sessions.list() if s["evse"] == dev["id"]][-1]
        assert (row["user"], row["id_tag"], row["method"]) == ("Anna", "ANNA-OCPP", "remote")


async def test_start_as_user_on_an_ocpp_box_without_gateway_is_filed_as_remote(
    manager: Manager,
) -> None:
    svc = manager.service
    ben = await svc.create_user({"name": "Ben", "tags": ["BEN-1"]})
    off = await svc.create_user({"name": "Off", "tags": ["OFF-1"], "enabled": False})
    dev = await svc.create_device(
        {"kind": "evse", "driver": "ocpp", "name": "Wall", "address": "WALL1",
         "authorization": "free"}
    )  # fmt: skip
    async with node_station(manager.ocpp.port, "WALL1", "1.6") as box:
        with pytest.raises(InvalidInput) as refused:
            await svc.start_for_user(dev["id"], off["id"], "admin")
        assert plain(refused.value.errors) == [{"field": "user", "message": "is disabled"}]
        assert not box.requests("RemoteStartTransaction")
        answer = await svc.start_for_user(dev["id"], ben["id"], "admin")
        assert (answer["status"], answer["tag"]) == ("Accepted", "BEN-1")
        assert (await box.request("RemoteStartTransaction"))["idTag"] == "BEN-1"
        res = await box.call(
            "StartTransaction",
            {"connectorId": 1, "idTag": "BEN-1", "meterStart": 0, "timestamp": _now()},
        )
        assert res["result"]["idTagInfo"]["status"] == "Accepted"
    row = [s for s in manager.sessions.list() if s["evse"] == dev["id"]][-1]
    assert (row["user"], row["id_tag"], row["method"]) == ("Ben", "BEN-1", "remote")


async def test_card_at_a_modbus_reader_is_authorized_at_the_backend(
    manager: Manager, backend: Backend
) -> None:
    """`gateway` authorization on a box with a reader: no current and no Authorize until the
    card is shown; then Authorize and StartTransaction with that card."""
    svc = manager.service
    await svc.update_settings({"site": {"resume_delay_s": 0}})
    async with Emulator() as emu:
        bender(emu, state=2)
        dev = await svc.create_device(
            {"name": "Carport", "kind": "evse", "driver": "bender", "address": emu.address,
             "unit_id": UNIT, "authorization": "gateway", **gateway(backend, "GWCARD")}
        )  # fmt: skip
        await seen_by(manager, backend, "StatusNotification", "GWCARD")
        assert await settle(manager, dev["id"], Reason("auth_wait")) == 0
        assert authorized(backend, "GWCARD") == []
        present(emu, "04CAFE01")
        start = await seen_by(manager, backend, "StartTransaction", "GWCARD")
        assert start["params"]["idTag"] == "04CAFE01"
        assert authorized(backend, "GWCARD") == ["04CAFE01"]
        assert await settle(manager, dev["id"], None) > 0
