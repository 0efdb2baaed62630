"""The facade with the real wiring: validation names the field, secrets stay write-only,
changes take effect at once, and deactivating a box hands it back."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from manager_support import fields, running_manager
from ports import free_port

from manager.app import Manager
from manager.auth import LoginThrottle, Throttled
from manager.config import InvalidInput
from manager.service import NotFound, WriteFailed


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    async with running_manager(tmp_path, demo=True) as m:
        yield m


async def test_bad_device_input_names_the_field(manager: Manager) -> None:
    svc = manager.service
    before = svc.list_devices()
    cases = [
        ({"kind": "evse", "driver": "sim-evse", "name": "X", "min_current_a": 10,
          "max_current_a": 8}, "min_current_a"),
        ({"kind": "evse", "driver": "sim-evse", "name": "X", "phase_rotation": "L1L1L2"},
         "phase_rotation"),
        ({"kind": "evse", "driver": "sim-evse", "name": "X", "circuit": "attic"}, "circuit"),
        ({"kind": "evse", "driver": "nope", "name": "X"}, "driver"),
        ({"kind": "meter", "driver": "sim-evse", "name": "X"}, "driver"),
        ({"kind": "evse", "driver": "sim-evse", "name": "X", "colour": "red"}, "colour"),
        ({"kind": "meter", "driver": "sdm630", "name": "X", "address": "host:99999"}, "address"),
        ({"kind": "meter", "driver": "sdm630", "name": "X", "address": ""}, "address"),
        ({"kind": "toaster", "name": "X"}, "kind"),
    ]  # fmt: skip
    for body, field in cases:
        with pytest.raises(InvalidInput) as err:
            await svc.create_device(body)
        assert field in fields(err), (body, err.value.errors)
    assert svc.list_devices() == before


async def test_secrets_are_write_only(manager: Manager) -> None:
    svc = manager.service
    body = {"kind": "evse", "driver": "ocpp", "name": "Keba", "address": "KEBA-1",
            "password": "s3cret-key-1234"}  # fmt: skip
    created = await svc.create_device(body)
    assert "password" not in created and created["password_set"] is True
    kept = await svc.update_device(created["id"], {"name": "Keba garage", "password": ""})
    assert kept["password_set"] is True
    assert manager.store.devices()[-1]["password"] == "s3cret-key-1234"
    cleared = await svc.update_device(created["id"], {"password": None})
    assert cleared["password_set"] is False
    settings = await svc.update_settings({"ocpp": {"password": "server-pw-123456"}})
    assert "password" not in settings["ocpp"] and settings["ocpp"]["password_set"]


async def test_changes_take_effect_without_restart(manager: Manager) -> None:
    svc = manager.service
    await svc.update_settings({"site": {"max_current_a": 20}})
    assert manager.control.settings.site.max_current_a == 20
    assert svc.get_circuit("main")["max_current_a"] == 20
    await svc.update_circuit("main", {"max_current_a": 25})
    assert manager.control.settings.site.max_current_a == 25
    added = await svc.create_device({"kind": "evse", "driver": "sim-evse", "name": "New",
                                     "car": "3p16"})  # fmt: skip
    state = (await manager.control.cycle()).model_dump(mode="json")
    assert any(e["id"] == added["id"] and e["online"] for e in state["evses"])


async def test_deactivating_a_box_hands_it_back_and_shows_the_result(manager: Manager) -> None:
    svc = manager.service
    await svc.update_device("carport", {"enabled": False})
    state = (await manager.control.cycle()).model_dump(mode="json")
    box = next(e for e in state["evses"] if e["id"] == "carport")
    assert box["status"] == "disabled" and box["setpoint_a"] == 0
    assert box["deactivation"]["code"] == "released_failsafe"
    assert box["deactivation"]["params"] == {"amps": 6.0}
    assert box["deactivation"]["since"] == pytest.approx(time.time(), abs=60)
    assert any(e["kind"] == "deactivated" for e in svc.recent_events())
    # the note applies while the box is off: on again, it is gone
    await svc.update_device("carport", {"enabled": True})
    state = (await manager.control.cycle()).model_dump(mode="json")
    assert next(e for e in state["evses"] if e["id"] == "carport")["deactivation"] is None


async def test_circuits_keep_a_valid_tree(manager: Manager) -> None:
    svc = manager.service
    with pytest.raises(InvalidInput) as err:
        await svc.delete_circuit("garage")  # two boxes hang in it
    assert "Garage left" in str(err.value)
    sub = await svc.create_circuit({"name": "Carport board", "max_current_a": 20})
    await svc.update_circuit("garage", {"parent": sub["id"]})  # garage now hangs in it
    with pytest.raises(InvalidInput) as err:
        await svc.update_circuit(sub["id"], {"parent": "garage"})
    assert "cycle" in str(err.value)
    with pytest.raises(InvalidInput):
        await svc.create_circuit({"name": "Bad", "max_current_a": 10, "parent": "nowhere"})
    with pytest.raises(InvalidInput):
        await svc.delete_circuit("main")
    with pytest.raises(NotFound):
        svc.get_circuit("nowhere")


async def test_users_and_tags(manager: Manager) -> None:
    svc = manager.service
    await svc.create_user({"name": "Anna", "id_tag": "04A1B2"})
    with pytest.raises(InvalidInput) as err:
        await svc.create_user({"name": "Ben", "id_tag": "04A1B2"})
    assert fields(err) == {"id_tag"}
    assert svc.users.by_tag("04a1b2") is not None  # OCPP id tags are case-insensitive
    assert svc.users.by_tag("FFFF") is None


async def test_admin_password_change(manager: Manager) -> None:
    svc = manager.service
    svc.set_admin_password_now("first-pw")
    with pytest.raises(InvalidInput) as err:
        await svc.set_admin_password("wrong", "second-pw")
    assert fields(err) == {"old_password"}
    with pytest.raises(InvalidInput):
        await svc.set_admin_password("first-pw", "x")
    await svc.set_admin_password("first-pw", "second-pw")
    assert await svc.verify_admin("second-pw", "test")


async def test_password_check_leaves_the_event_loop_free(manager: Manager) -> None:
    """scrypt runs in a worker thread: other tasks (the control loop) go on meanwhile."""
    svc = manager.service
    svc.set_admin_password_now("right-pw")
    ticks, done = 0, False

    async def ticker() -> None:
        nonlocal ticks
        while not done and ticks < 1_000_000:
            ticks += 1
            await asyncio.sleep(0)

    task = asyncio.create_task(ticker())
    await asyncio.sleep(0)
    before = ticks
    try:
        assert not await svc.verify_admin("wrong-pw", "192.0.2.1")
    finally:
        done = True
        await task
    assert ticks > before


async def test_parallel_guesses_cannot_pass_the_throttle(manager: Manager) -> None:
    svc = manager.service
    svc.set_admin_password_now("right-pw")
    svc.login.throttle = LoginThrottle(free=3, clock=lambda: 1000.0)  # time stands still
    results = await asyncio.gather(
        *(svc.verify_admin(f"guess-{n}", "192.0.2.2") for n in range(6)), return_exceptions=True
    )
    assert results[:3] == [False, False, False]
    assert all(isinstance(r, Throttled) for r in results[3:])
    assert await svc.verify_admin("right-pw", "192.0.2.3")  # another client is not held up


async def test_ocpp_sessions_are_filed_under_the_device_with_the_user(manager: Manager) -> None:
    svc = manager.service
    await svc.create_user({"name": "Anna", "id_tag": "04A1B2"})
    box = await svc.create_device(
        {"kind": "evse", "driver": "ocpp", "name": "Keba garage", "address": "KEBA-1"}
    )
    recorder = manager.ocpp.hooks.sessions  # what the OCPP server records through
    sid = recorder.start("KEBA-1", 1, "04A1B2", "2026-11-20T18:00:00Z", 1000.0)
    assert recorder.start("KEBA-1", 1, "04A1B2", "2026-11-20T18:00:00Z", 1000.0) == sid
    recorder.stop(sid, "2026-11-20T20:00:00Z", 12000.0, "EVDisconnected")
    (row,) = svc.list_sessions(evse=box["id"])
    assert row["user"] == "Anna" and row["box"] == "Keba garage"
    assert row["energy_wh"] == 11000.0
    assert "Anna" in svc.sessions_csv(user="Anna")


async def test_a_failed_write_changes_nothing_that_runs(
    manager: Manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The same as the real full-disk test, for machines where no tmpfs can be mounted."""
    import errno

    import manager.store as store_module

    svc = manager.service
    svc.set_admin_password_now("right-pw")
    devices, settings = svc.list_devices(), svc.get_settings()
    port = manager.ocpp.settings.port

    def no_space(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(store_module.os, "fsync", no_space)
    with pytest.raises(WriteFailed) as err:
        await svc.create_device({"kind": "meter", "driver": "sim-meter", "name": "Extra"})
    assert err.value.disk_full
    with pytest.raises(WriteFailed):
        await svc.update_settings({"ocpp": {"port": free_port()}})
    with pytest.raises(WriteFailed):
        await svc.set_admin_password("right-pw", "other-pw")
    assert svc.list_devices() == devices and svc.get_settings() == settings
    assert manager.ocpp.settings.port == port
    assert await svc.verify_admin("right-pw", "192.0.2.9")
    assert len(manager.control.snapshot().meters) == len(
        [d for d in devices if d["kind"] == "meter"]
    )
