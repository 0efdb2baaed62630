"""MQTT figures with 50 simulated wallboxes and Debian's mosquitto on loopback.

- publish latency: a wallbox's state changes (its max current, through the facade), the control
  cycle ends, the bridge publishes, the broker delivers to a subscriber: p50/p99 of that time.
  A box whose state was already published less than a second earlier waits for the per-topic
  limit (at most once a second), which the p99 shows.
- control-cycle time without MQTT, with the broker up, and with the broker down (the bridge
  retrying in the background): it must not change.

Run: python tests/bench/bench_mqtt.py  (part of `make bench`).
"""

from __future__ import annotations

import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiomqtt
from mosquitto import Broker
from mqtt_site import start, use_broker
from ports import free_port

from manager.app import Manager

WALLBOXES = 50
SAMPLES = 150
CYCLES = 50
ROUNDS = 3
INTERVAL_S = 0.1


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


async def cycle_times(manager: Manager) -> list[float]:
    out = []
    for _ in range(CYCLES):
        await manager.control.cycle()
        out.append(manager.control.last_cycle_s)
        await asyncio.sleep(INTERVAL_S)  # the bridge (if any) works between cycles
    return out


async def latencies(manager: Manager, port: int) -> list[float]:
    out: list[float] = []
    async with aiomqtt.Client("127.0.0.1", port) as client:
        await client.subscribe("ampshare/wallbox/+/state")
        for i in range(SAMPLES):
            box = f"box{i % WALLBOXES}"
            amps = 10.0 + (i // WALLBOXES) % 2  # a value that differs from the box's last one
            await manager.service.update_device(box, {"max_current_a": amps})
            await manager.control.cycle()
            t0 = time.perf_counter()  # the snapshot with the change has just been offered
            async with asyncio.timeout(10):
                async for msg in client.messages:
                    if str(msg.topic) == f"ampshare/wallbox/{box}/state":
                        if json.loads(msg.payload)["max_current_a"] == amps:
                            out.append(time.perf_counter() - t0)
                            break
    return out


def show(name: str, values: list[float]) -> None:
    ms = [v * 1000 for v in values]
    print(
        f"  {name:<34} p50 {pct(ms, 0.5):7.2f} ms   p99 {pct(ms, 0.99):7.2f} ms"
        f"   mean {statistics.fmean(ms):7.2f} ms   (n={len(ms)})"
    )


async def connect(manager: Manager, port: int) -> None:
    await use_broker(manager, port)
    for _ in range(100):  # connected and everything published once
        await manager.control.cycle()
        await asyncio.sleep(0.05)
        if manager.mqtt and manager.mqtt.connected and manager.mqtt.published:
            return
    raise RuntimeError("the bridge did not connect")


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        broker = Broker(folder)
        try:
            # idle boxes: only our change alters a box's state, so nothing holds it back
            idle = await start(folder / "idle", WALLBOXES, free_port(), car="none")
            try:
                await connect(idle, broker.port)
                quiet = await latencies(idle, broker.port)
            finally:
                await idle.close()
            # charging boxes: every box's state changes every cycle. The three conditions take
            # turns, so that drift in the shared machine's load falls on each of them alike.
            busy = await start(folder / "busy", WALLBOXES, free_port())
            times: dict[str, list[float]] = {"off": [], "up": [], "down": []}
            try:
                for round_ in range(ROUNDS):
                    times["off"] += await cycle_times(busy)
                    if round_ > 0:
                        broker.start()
                    await connect(busy, broker.port)
                    if round_ == 0:
                        loaded = await latencies(busy, broker.port)
                    times["up"] += await cycle_times(busy)
                    broker.stop()
                    times["down"] += await cycle_times(busy)
                    assert busy.mqtt is not None and not busy.mqtt.connected
                    await busy.service.update_settings({"mqtt": {"host": ""}})
            finally:
                await busy.close()
        finally:
            broker.stop()
    print(f"MQTT with {WALLBOXES} wallboxes (mosquitto on loopback)")
    print("publish latency, state change -> broker -> subscriber:")
    show("idle boxes", quiet)
    show("charging boxes (1/s per topic)", loaded)
    print("control cycle time (charging boxes):")
    show("MQTT off", times["off"])
    show("broker up", times["up"])
    show("broker down (bridge retrying)", times["down"])


if __name__ == "__main__":
    asyncio.run(main())
