"""End to end: `ampshare serve` as a real process drives emulated Modbus devices on loopback.

An emulated SDM630 grid meter and an emulated Heidelberg box (RTU behind a TCP gateway) are
added through the HTTP API; the box's current register must follow the allocation, and
losing the meter must put the site in safe mode.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from manager_process import ManagerProcess
from modbus_emu import Emulator

pytestmark = [pytest.mark.slow]


class EmulatorThread:
    """Emulators on their own event loop, so the synchronous manager client can block."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout_s: float = 10.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout_s)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(timeout=5)
        self.loop.close()


def grid_meter(emu: Emulator, amps: float) -> None:
    u = emu.unit(1)
    u.put("input", 0, [0] * 0x4C)
    for i in range(3):
        u.f32("input", 2 * i, 230.0)
        u.f32("input", 0x06 + 2 * i, amps)
        u.f32("input", 0x0C + 2 * i, amps * 230.0)
    u.f32("input", 0x34, 3 * amps * 230.0)


def heidelberg_box(emu: Emulator) -> None:
    u = emu.unit(1)
    u.put("input", 4, [0x108, 5, 0, 0, 0, 300, 230, 230, 230, 0, 0, 0, 0, 0, 0])  # B2
    u.put("input", 100, [16, 6])
    for reg in (257, 258, 259, 261, 262):
        u.holding[reg] = 0


@pytest.fixture
def site(tmp_path: Path) -> Iterator[tuple[ManagerProcess, EmulatorThread, Emulator, Emulator]]:
    emus = EmulatorThread()
    meter = emus.run(Emulator().start())
    box = emus.run(Emulator("rtu").start())
    grid_meter(meter, 4.0)
    heidelberg_box(box)
    proc = ManagerProcess("serve", data_dir=tmp_path / "data")
    try:
        proc.wait_ready()
        yield proc, emus, meter, box
    finally:
        proc.stop()
        emus.run(meter.stop())
        emus.run(box.stop())
        emus.close()


def setpoint(state: dict[str, Any]) -> float | None:
    boxes = [e for e in state["evses"] if e["driver"] == "heidelberg"]
    return boxes[0]["setpoint_a"] if boxes and boxes[0]["online"] else None


def test_box_follows_allocation_and_meter_loss_gives_safe_mode(site: Any) -> None:
    proc, _emus, meter, box = site
    r = proc.api.patch(
        "/api/settings", json={"site": {"max_current_a": 20.0, "meter_timeout_s": 3.0}}
    )
    assert r.status_code == 200, r.text
    r = proc.api.post(
        "/api/devices",
        json={"name": "Grid", "kind": "meter", "driver": "sdm630", "role": "grid",
              "enabled": True, "address": meter.address, "unit_id": 1},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text
    r = proc.api.post(
        "/api/devices",
        json={"name": "Garage", "kind": "evse", "driver": "heidelberg", "enabled": True,
              "address": box.address, "unit_id": 1, "min_current_a": 6, "max_current_a": 16,
              "phases": 3},
    )  # fmt: skip
    assert r.status_code in (200, 201), r.text

    # the safety net is written, and the register follows what the allocator gives the box
    state = proc.wait_for(lambda s: (setpoint(s) or 0) > 0, timeout_s=30)
    assert box.unit(1).holding[257] == 15000 and box.unit(1).holding[258] == 4
    state = proc.wait_for(
        lambda s: setpoint(s) and box.unit(1).holding[261] == round(setpoint(s) * 10),
        timeout_s=30,
    )
    high = setpoint(state)
    assert high == 16.0  # 20 A fuse - 4 A household leaves 16 A: the box maximum

    grid_meter(meter, 12.0)  # the household takes more: the box must get less
    state = proc.wait_for(
        lambda s: (sp := setpoint(s)) is not None and sp < high and sp <= 8.0
        and box.unit(1).holding[261] == round(sp * 10),
        timeout_s=30,
    )  # fmt: skip
    meters = [m for m in state["meters"] if m["role"] == "grid"]
    assert meters and meters[0]["online"] and meters[0]["current_a"] == [12.0, 12.0, 12.0]

    # the meter disappears: safe mode within the meter timeout (plus a cycle or two)
    _emus.run(meter.stop())
    state = proc.wait_for(lambda s: s["site"]["safe_mode"] is True, timeout_s=15)
    assert state["site"]["safe_mode"] is True
