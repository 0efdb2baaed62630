"""Modbus boxes with an RFID reader (Bender CC612/CC613, KEBA P30 maps) on a pymodbus emulator.

The drivers alone: values, the card (Bender 720..729, KEBA 1500), setpoints. Then the whole
manager: a box that requires authorization stays at 0 A until a known card is presented, a
refused card holds it with the reason, the session carries the card's user, and "Add card"
takes a card presented at this box.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from modbus_emu import Emulator
from ports import free_port

from devices.driver import DeviceContext
from devices.modbus import codec
from devices.modbus.bus import BusPool
from devices.registry import build, drivers
from manager.app import Manager, Options, build_manager
from manager.model import ChargeStatus, DeviceSpec, ReadsTags, Reason

UNIT = 255


def bender(emu: Emulator, state: int = 2, card: str = "") -> None:
    """A Bender box in `state` (1 A, 2 B, 3 C) with `card` in the user id registers."""
    u = emu.unit(UNIT)
    u.put("holding", 122, [state])
    u.put("holding", 131, [6, 30, 16])  # safe current, timeout, hardware limit
    u.put("holding", 200, [0xFFFF] * 12)  # per-phase energy and power: not shown
    for i, ma in enumerate((15900, 16100, 0)):
        u.put("holding", 212 + 2 * i, codec.enc_u32(ma))
    u.put("holding", 218, codec.enc_u32(123456))
    u.put("holding", 220, codec.enc_u32(7400))
    for i in range(3):
        u.put("holding", 222 + 2 * i, codec.enc_u32(230 + i))
    present(emu, card)
    u.holding.setdefault(1000, 0)


def present(emu: Emulator, card: str) -> None:
    emu.unit(UNIT).put("holding", 720, codec.enc_text(card, 10))


@pytest.fixture
async def ctx() -> AsyncIterator[DeviceContext]:
    pool = BusPool(backoff_min_s=0.05, backoff_max_s=0.2)
    yield DeviceContext(buses=pool)
    await pool.close()


def box(ctx: DeviceContext, address: str, **opts: Any) -> Any:
    spec = DeviceSpec("b", "box", "evse", "bender", address, options={"phases": 3, **opts})
    return build(spec, ctx, drivers())


async def test_bender_reads_values_and_the_card_and_writes_the_hems_limit(
    ctx: DeviceContext,
) -> None:
    async with Emulator() as emu:
        bender(emu, state=3, card="04A1B2C3D4")
        b = box(ctx, emu.address)
        assert isinstance(b, ReadsTags) and b.reads_tags
        r = await b.read()
        assert r.status is ChargeStatus.CHARGING and r.user == "04A1B2C3D4"
        assert r.current_a == (15.9, 16.1, 0.0) and r.voltage_v == (230.0, 231.0, 232.0)
        assert (r.power_w, r.energy_wh) == (7400.0, 123456.0)
        assert "6 A after 30 s" in (b.setup_note or "")
        await b.apply(12.7, 3)
        assert emu.unit(UNIT).holding[1000] == 12  # whole amperes
        await b.apply(40.0, 3)
        assert emu.unit(UNIT).holding[1000] == 16  # the box's hardware limit
        await b.apply(4.0, 3)
        assert emu.unit(UNIT).holding[1000] == 0  # below 6 A: paused
        assert await b.deactivate() == Reason("charging_enabled", {"amps": 16})
        present(emu, "")
        assert (await b.read()).user is None  # no card shown
        present(emu, "\x01\x02")
        assert (await b.read()).user is None  # garbage is not a card
        emu.unit(UNIT).holding[122] = 1
        present(emu, "OLDCARD")
        assert (await b.read()).user is None  # no car: the last session's card is not read
        emu.unit(UNIT).holding[122] = 6
        r = await b.read()
        assert r.status is ChargeStatus.ERROR and r.detail == "box state 6"
        await b.close()


async def test_bender_without_rfid_reads_no_card(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        bender(emu, card="04A1B2C3D4")
        b = box(ctx, emu.address, read_rfid=False)
        assert not b.reads_tags
        assert (await b.read()).user is None
        assert not [q for q in emu.log if q.address == 720]
        await b.close()


def keba(
    emu: Emulator, cable: int = 7, state: int = 3, card: int = 0, product: int = 311201
) -> None:
    """A KEBA P30 with every value a register pair, as the box shows them."""
    u = emu.unit(UNIT)
    values = {1000: state, 1004: cable, 1008: 15800, 1010: 16000, 1012: 0, 1016: product,
              1020: 7300000, 1036: 1234567, 1500: card}  # fmt: skip
    for reg, value in values.items():
        u.put("holding", reg, codec.enc_u32(value))
    for reg in (5004, 5014, 5016, 5018, 5020):
        u.holding.setdefault(reg, 0)


async def test_keba_reads_the_card_and_sets_its_failsafe(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        keba(emu, card=0x04A1B2C3)
        spec = DeviceSpec("k", "keba", "evse", "keba", emu.address,
                          options={"phases": 3, "failsafe_current_a": 8})  # fmt: skip
        b = build(spec, ctx, drivers())
        assert isinstance(b, ReadsTags) and b.reads_tags
        r = await b.read()
        h = emu.unit(UNIT).holding
        assert (h[5016], h[5018], h[5020]) == (8000, 30, 0)  # failsafe 8 A after 30 s
        assert r.status is ChargeStatus.CHARGING and r.user == "04a1b2c3"
        assert r.current_a == (15.8, 16.0, 0.0)
        assert (r.power_w, r.energy_wh) == (7300.0, 123456.7)
        await b.apply(10.6, 3)
        assert (h[5004], h[5014]) == (10000, 1)
        await b.apply(3.0, 3)
        assert h[5014] == 0  # paused
        emu.unit(UNIT).put("holding", 1500, codec.enc_u32(0))
        assert (await b.read()).user is None  # no card
        emu.unit(UNIT).put("holding", 1004, codec.enc_u32(1))  # cable only at the box
        assert (await b.read()).status is ChargeStatus.NO_CAR
        assert await b.deactivate() == Reason("watchdog_off", {"amps": 16})
        assert (h[5018], h[5004], h[5014]) == (0, 16000, 1)
        await b.close()


async def test_keba_without_a_reader_reads_no_card(ctx: DeviceContext) -> None:
    async with Emulator() as emu:
        keba(emu, card=0x04A1B2C3, product=311200)  # last digit 0: no RFID
        spec = DeviceSpec("k", "keba", "evse", "keba", emu.address, options={"phases": 3})
        b = build(spec, ctx, drivers())
        assert (await b.read()).user is None
        assert not [q for q in emu.log if q.address == 1500]
        await b.close()


# ---------------------------------------------------------------------------- the manager


@pytest.fixture
async def manager(tmp_path: Path) -> AsyncIterator[Manager]:
    m = build_manager(Options(data_dir=tmp_path, host="127.0.0.1", ocpp_port=free_port()))
    await m.start()
    try:
        yield m
    finally:
        await m.close()


async def settle(manager: Manager, box_id: str, reason: Reason | None) -> float:
    """The box's target after control cycles, once its reason is `reason` (bounded)."""
    for _ in range(60):
        await manager.control.cycle()
        st = manager.control.evses[box_id]
        if st.online and (reason is None or st.reason == reason):
            if reason is not None or st.target_a > 0:
                return st.target_a
        await asyncio.sleep(0.05)
    raise AssertionError(f"{box_id}: {st.target_a} A ({st.reason}), online {st.online}")


async def add_box(manager: Manager, emu: Emulator) -> str:
    svc = manager.service
    await svc.update_settings({"site": {"resume_delay_s": 0}})
    dev = await svc.create_device(
        {"name": "Garage", "kind": "evse", "driver": "bender", "enabled": True,
         "address": emu.address, "unit_id": UNIT, "min_current_a": 6, "max_current_a": 16,
         "phases": 3, "authorization": "local"}
    )  # fmt: skip
    return str(dev["id"])


async def test_reader_box_is_released_only_for_an_accepted_card(manager: Manager) -> None:
    svc = manager.service
    await svc.create_user({"name": "Anna", "tags": ["04A1B2C3D4"], "max_current_a": 10})
    async with Emulator() as emu:
        bender(emu, state=2)
        box_id = await add_box(manager, emu)
        assert await settle(manager, box_id, Reason("auth_wait")) == 0
        assert emu.unit(UNIT).holding[1000] == 0

        present(emu, "STRANGER")
        held = Reason("auth_refused", {"tag": "STRANGER", "status": "Invalid"})
        assert await settle(manager, box_id, held) == 0
        for _ in range(3):
            await manager.control.cycle()
        assert emu.unit(UNIT).holding[1000] == 0
        refused = [e for e in manager.events.recent(200) if e["kind"] == "tag_refused"]
        assert len(refused) == 1  # once, not every cycle
        assert refused[0]["params"] == {"tag": "STRANGER", "box": box_id,
                                        "status": "Invalid", "reason": "unknown_tag"}  # fmt: skip

        present(emu, "04A1B2C3D4")
        released = Reason("user_limit", {"user": "Anna", "amps": 10.0})
        assert await settle(manager, box_id, released) == 10
        assert emu.unit(UNIT).holding[1000] == 10
        row = [s for s in manager.sessions.list() if s["evse"] == box_id][-1]
        assert (row["user"], row["id_tag"], row["method"], row["result"]) == (
            "Anna", "04A1B2C3D4", "local", "Accepted"
        )  # fmt: skip

        emu.unit(UNIT).holding[122] = 1  # unplugged: the session ends
        present(emu, "")
        await settle(manager, box_id, Reason("no_car"))
        row = [s for s in manager.sessions.list() if s["evse"] == box_id][-1]
        assert row["user"] == "Anna" and row.get("stopped_at")


async def test_teach_in_takes_a_card_presented_at_a_modbus_reader(manager: Manager) -> None:
    svc = manager.service
    now = [1000.0]
    svc.teach.clock = lambda: now[0]
    bob = await svc.create_user({"name": "Bob", "tags": []})
    async with Emulator() as emu:
        bender(emu, state=2)
        box_id = await add_box(manager, emu)
        assert await settle(manager, box_id, Reason("auth_wait")) == 0

        svc.start_teach_in(bob["id"])
        now[0] += 61  # the window ran out: a card is not taken
        present(emu, "LATECARD")
        late = Reason("auth_refused", {"tag": "LATECARD", "status": "Invalid"})
        assert await settle(manager, box_id, late) == 0
        assert svc.teach_in_status()["result"] == "timeout"
        assert svc.get_user(bob["id"])["tags"] == []

        svc.start_teach_in(bob["id"])
        now[0] += 59  # within the window
        present(emu, "BOBCARD")
        assert await settle(manager, box_id, None) > 0  # taught, then accepted
        st = svc.teach_in_status()
        assert (st["result"], st["tag"], st["box"]) == ("assigned", "BOBCARD", box_id)
        assert svc.get_user(bob["id"])["tags"] == ["BOBCARD"]
        assert emu.unit(UNIT).holding[1000] > 0
