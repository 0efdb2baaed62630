"""RFID users: the API contract, the rules (422 naming every field, nothing stored), migration
of the old `id_tag`, and authorization per wallbox with real OCPP clients on the real wiring."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from manager_support import fields, running_manager
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from test_ocpp_support import connect

from manager.app import Manager
from manager.config import InvalidInput
from manager.configstore import ConfigStore
from manager.model import Reason
from manager.service import NotFound
from manager.users import UserBook


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    async with running_manager(tmp_path, demo=True) as m:
        yield m


FULL = {
    "name": "Anna",
    "tags": ["04A1B2", "CARD-2"],
    "pin": "1234",
    "evses": ["carport"],
    "max_current_a": 10,
    "phases": 1,
    "charge_mode": "pv",
    "priority": 5,
    "expires": "2099-01-01T00:00:00Z",
    "enabled": True,
}


async def test_user_crud_keeps_the_contract(manager: Manager) -> None:
    svc = manager.service
    made = await svc.create_user(dict(FULL))
    for key in ("name", "tags", "evses", "max_current_a", "phases", "charge_mode", "priority"):
        assert made[key] == FULL[key], key
    assert made["enabled"] is True and made["expires"].startswith("2099-01-01")
    assert made["pin_set"] is True and "pin" not in made  # write-only
    assert svc.get_user(made["id"]) == made
    changed = await svc.update_user(made["id"], {"max_current_a": 8, "pin": ""})
    assert changed["max_current_a"] == 8 and changed["pin_set"] is True  # "" keeps the PIN
    assert (await svc.update_user(made["id"], {"pin": None}))["pin_set"] is False
    assert svc.list_users() == [svc.get_user(made["id"])]
    await svc.delete_user(made["id"])
    with pytest.raises(NotFound):
        svc.get_user(made["id"])
    assert svc.users.by_tag("04A1B2") is None


async def test_bad_users_name_every_field_and_store_nothing(manager: Manager) -> None:
    svc = manager.service
    await svc.create_user({"name": "Anna", "tags": ["04A1B2"]})
    before = svc.list_users()
    past = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    with pytest.raises(InvalidInput) as err:
        await svc.create_user(
            {
                "name": "Ben",
                "tags": ["04a1b2", "X" * 37, "bad tag", "ümlaut"],
                "evses": ["carport", "nowhere"],
                "expires": past,
                "charge_mode": "turbo",
                "phases": 2,
            }
        )
    got = fields(err)
    assert {"tags.0", "tags", "evses.1", "charge_mode", "phases"} <= got, err.value.errors
    assert "expires" not in got  # reported only once the rest is valid, as it needs a time
    with pytest.raises(InvalidInput) as err:
        await svc.create_user({"name": "Ben", "tags": ["NEWTAG"], "expires": past})
    assert fields(err) == {"expires"}
    with pytest.raises(InvalidInput) as err:
        await svc.create_user({"name": "Ben", "id_tag": "04A1B2"})
    assert fields(err) == {"id_tag"}  # named as the input named it
    assert svc.list_users() == before
    # an existing user may keep a past expiry when edited (it is simply expired)
    anna = before[0]["id"]
    assert (await svc.update_user(anna, {"expires": past}))["expires"] is not None


async def test_old_id_tag_is_migrated(tmp_path: Path) -> None:
    store = ConfigStore(tmp_path)
    store.db.table("users").insert({"id": "anna", "name": "Anna", "id_tag": "04A1B2"})
    store.close()
    store = ConfigStore(tmp_path)
    store.migrate_users()
    row = store.db.table("users").all()[0]
    assert "id_tag" not in row and row["tags"] == ["04A1B2"]
    book = UserBook(store)
    assert book.by_tag("04a1b2") is not None and book.by_tag("04a1b2").id == "anna"  # type: ignore[union-attr]
    store.close()
    raw = json.loads((tmp_path / "config.json").read_text())
    assert raw["users"]["1"]["tags"] == ["04A1B2"]


async def test_box_fields_for_authorization_are_checked(manager: Manager) -> None:
    svc = manager.service
    with pytest.raises(InvalidInput) as err:
        await svc.update_device("carport", {"authorization": "gateway", "default_user": "nobody"})
    assert fields(err) == {"authorization", "default_user"}
    with pytest.raises(InvalidInput) as err:
        await svc.update_device("carport", {"authorization": "sometimes"})
    assert fields(err) == {"authorization"}


async def _ocpp_box(manager: Manager, cb_id: str, **extra: Any) -> str:
    made = await manager.service.create_device(
        {"kind": "evse", "driver": "ocpp", "name": cb_id, "address": cb_id, **extra}
    )
    return str(made["id"])


async def _users(manager: Manager, box_id: str) -> None:
    svc = manager.service
    year = (datetime.now(UTC) + timedelta(days=365)).isoformat()
    await svc.create_user({"name": "Known", "tags": ["KNOWN"], "expires": year})
    await svc.create_user({"name": "Blocked", "tags": ["BLOCKED"], "enabled": False})
    old = await svc.create_user({"name": "Old", "tags": ["OLD"], "expires": year})
    await svc.update_user(old["id"], {"expires": "2020-01-01T00:00:00Z"})
    await svc.create_user({"name": "Elsewhere", "tags": ["ELSEWHERE"], "evses": ["carport"]})
    await svc.create_user({"name": "Here", "tags": ["HERE"], "evses": [box_id]})


ANSWERS_16 = {
    "KNOWN": "Accepted",
    "known": "Accepted",  # CiString: case-insensitive
    "HERE": "Accepted",
    "UNKNOWN": "Invalid",
    "BLOCKED": "Blocked",
    "OLD": "Expired",
    "ELSEWHERE": "Invalid",  # 1.6 has no NotAtThisLocation
}


async def test_local_authorization_over_ocpp16(manager: Manager) -> None:
    box_id = await _ocpp_box(manager, "LOCAL16", authorization="local")
    await _users(manager, box_id)
    async with connect(manager.ocpp.port, "LOCAL16") as box:
        for tag, want in ANSWERS_16.items():
            res = await box.call(call16.Authorize(id_tag=tag))
            assert res.id_tag_info["status"] == want, tag
        await box.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="Preparing")
        )
        assert await _target(manager, box_id, Reason("auth_wait")) == 0
        refused = await box.call(
            call16.StartTransaction(
                connector_id=1, id_tag="BLOCKED", meter_start=0, timestamp=_now()
            )
        )
        assert refused.id_tag_info["status"] == "Blocked"
        await box.call(
            call16.StatusNotification(connector_id=1, error_code="NoError", status="SuspendedEVSE")
        )
        assert (
            await _target(
                manager, box_id, Reason("auth_refused", {"tag": "BLOCKED", "status": "Blocked"})
            )
            == 0
        )
        await box.call(
            call16.StopTransaction(
                transaction_id=refused.transaction_id, meter_stop=0, timestamp=_now()
            )
        )
        accepted = await box.call(
            call16.StartTransaction(connector_id=1, id_tag="KNOWN", meter_start=0, timestamp=_now())
        )
        assert accepted.id_tag_info["status"] == "Accepted"
        assert await _target(manager, box_id) > 0
    events = manager.events.recent(200)
    refused_events = [e for e in events if e["kind"] == "tag_refused"]
    tags = {e["params"]["tag"] for e in refused_events}
    assert {"UNKNOWN", "BLOCKED", "OLD", "ELSEWHERE"} <= tags
    assert all(e["params"]["box"] == box_id for e in refused_events)
    blocked, known = manager.sessions.list()[-2:]
    assert (blocked["user"], blocked["method"], blocked["result"]) == (
        "Blocked",
        "local",
        "Blocked",
    )
    assert (known["user"], known["method"], known["result"]) == ("Known", "local", "Accepted")


async def test_local_authorization_over_ocpp201(manager: Manager) -> None:
    box_id = await _ocpp_box(manager, "LOCAL201", authorization="local")
    await _users(manager, box_id)
    want = {**ANSWERS_16, "ELSEWHERE": "NotAtThisLocation"}
    async with connect(manager.ocpp.port, "LOCAL201", version="2.0.1") as box:
        for tag, status in want.items():
            res = await box.call(call201.Authorize(id_token={"id_token": tag, "type": "ISO14443"}))
            assert res.id_token_info["status"] == status, tag


async def test_free_box_accepts_and_files_under_the_default_user(manager: Manager) -> None:
    svc = manager.service
    owner = await svc.create_user({"name": "Owner", "tags": ["OWNER"]})
    box_id = await _ocpp_box(manager, "FREE16", default_user=owner["id"])
    async with connect(manager.ocpp.port, "FREE16") as box:
        res = await box.call(call16.Authorize(id_tag="ANYONE"))
        assert res.id_tag_info["status"] == "Accepted"
        start = await box.call(
            call16.StartTransaction(
                connector_id=1, id_tag="ANYONE", meter_start=0, timestamp=_now()
            )
        )
        assert start.id_tag_info["status"] == "Accepted"
    row = manager.sessions.list()[-1]
    assert (row["evse"], row["user"], row["method"]) == (box_id, "Owner", "free")


async def _target(manager: Manager, box_id: str, reason: Reason | None = None) -> float:
    """The box's setpoint after control cycles, once its reason is `reason` (bounded)."""
    for _ in range(50):
        await manager.control.cycle()
        st = manager.control.evses[box_id]  # replaced when its configuration changes
        if st.online and (reason is None or st.reason == reason):
            if reason is not None or st.target_a > 0:
                return st.target_a
        await asyncio.sleep(0.05)
    raise AssertionError(f"{box_id}: {st.target_a} A ({st.reason}), online {st.online}")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def test_reader_box_gets_no_current_until_its_tag_is_accepted(manager: Manager) -> None:
    """A box that reads the tag itself (the simulated box reports one) is treated like OCPP."""
    svc = manager.service
    await svc.update_settings({"site": {"resume_delay_s": 0}})  # the car charged before
    await svc.update_device(
        "carport", {"authorization": "local", "user": "STRANGER", "car": "3p16"}
    )  # a new car presents the card
    assert (
        await _target(
            manager, "carport", Reason("auth_refused", {"tag": "STRANGER", "status": "Invalid"})
        )
        == 0
    )
    await svc.create_user({"name": "Cara", "tags": ["stranger"], "max_current_a": 10})
    assert (
        await _target(manager, "carport", Reason("user_limit", {"user": "Cara", "amps": 10.0}))
        == 10
    )
    refused = [e for e in manager.events.recent(200) if e["kind"] == "tag_refused"]
    assert len(refused) == 1 and refused[0]["params"]["box"] == "carport"  # once, not per cycle


async def test_teach_in_within_and_after_the_window(manager: Manager) -> None:
    svc = manager.service
    now = [1000.0]
    svc.teach.clock = lambda: now[0]
    box_id = await _ocpp_box(manager, "TEACH16", authorization="local")
    anna = await svc.create_user({"name": "Anna", "tags": []})
    with pytest.raises(InvalidInput):
        svc.start_teach_in("nobody")
    assert svc.start_teach_in(anna["id"])["remaining_s"] == 60
    async with connect(manager.ocpp.port, "TEACH16") as box:
        now[0] += 59
        assert svc.teach_in_status()["remaining_s"] == 1
        res = await box.call(call16.Authorize(id_tag="NEWCARD"))
        assert res.id_tag_info["status"] == "Accepted"  # taught, then known
        st = svc.teach_in_status()
        assert (st["result"], st["tag"], st["box"]) == ("assigned", "NEWCARD", box_id)
        assert svc.get_user(anna["id"])["tags"] == ["NEWCARD"]
        # a known tag is never moved, and a second card needs a new window
        other = await box.call(call16.Authorize(id_tag="LATECARD"))
        assert other.id_tag_info["status"] == "Invalid"
        svc.start_teach_in(anna["id"])
        now[0] += 61
        late = await box.call(call16.Authorize(id_tag="LATECARD"))
        assert late.id_tag_info["status"] == "Invalid"
        assert svc.teach_in_status()["result"] == "timeout"
        svc.start_teach_in(anna["id"])
        assert svc.cancel_teach_in()["result"] == "cancelled"
    assert svc.get_user(anna["id"])["tags"] == ["NEWCARD"]


async def test_gateway_box_asks_the_billing_backend_then_its_fallback(manager: Manager) -> None:
    """`gateway`: the backend's answer first (the gateway's own logic), then the per-box
    fallback setting: refuse, or local users."""
    from gateway_backend import Backend

    backend = Backend(rejectTags=["STAFF1", "BADTAG"])
    try:
        svc = manager.service
        await svc.create_user({"name": "Staff", "tags": ["STAFF1"]})
        box_id = await _ocpp_box(
            manager, "GW16", authorization="gateway", gateway_url=backend.url,
            gateway_client_id="GW16", gateway_password=backend.cfg["password"],
            gateway_auth_fallback="refuse",
        )  # fmt: skip
        async with connect(manager.ocpp.port, "GW16") as box:
            for _ in range(200):  # bounded: until the gateway is connected
                status = manager.gateways.status(box_id) or {}
                if status.get("connected"):
                    break
                await asyncio.sleep(0.05)
            ok = await box.call(call16.Authorize(id_tag="GOODTAG"))
            assert ok.id_tag_info["status"] == "Accepted"
            assert any(c["params"].get("idTag") == "GOODTAG" for c in backend.calls("Authorize"))
            staff = await box.call(call16.Authorize(id_tag="STAFF1"))
            assert staff.id_tag_info["status"] == "Invalid"  # refused, fallback: refuse
            start = await box.call(
                call16.StartTransaction(
                    connector_id=1, id_tag="GOODTAG", meter_start=0, timestamp=_now()
                )
            )
            assert start.id_tag_info["status"] == "Accepted"
        await svc.update_device(box_id, {"gateway_auth_fallback": "local"})
        async with connect(manager.ocpp.port, "GW16") as box:
            for _ in range(200):
                if (manager.gateways.status(box_id) or {}).get("connected"):
                    break
                await asyncio.sleep(0.05)
            staff = await box.call(call16.Authorize(id_tag="STAFF1"))
            assert staff.id_tag_info["status"] == "Accepted"  # a local user: fallback
            bad = await box.call(call16.Authorize(id_tag="BADTAG"))
            assert bad.id_tag_info["status"] == "Invalid"
        session = manager.sessions.list()[-1]
        assert (session["id_tag"], session["method"], session["result"]) == (
            "GOODTAG", "backend", "Accepted")  # fmt: skip
    finally:
        backend.stop()
