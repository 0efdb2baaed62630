"""Gateway benchmark: added latency of a relayed message, and gateways per process.

Run as `python tests/bench/bench_gateway.py`.

1. Relay latency: an OCPP 1.6 box (a plain WebSocket client) on ampshare's OCPP server sends
   MeterValues of a transaction; the gateway relays each one through its durable queue to a
   backend (a plain WebSocket server). Measured from the box's send to the backend's receipt,
   all on loopback in one process: p50 / p99 in ms.
2. Capacity: N wallboxes (non-OCPP), each with its gateway to the Node `ocpp-rpc` backend in
   strict mode, each in a transaction with 1 s meter values, fed once a second as the control
   loop does. CPU % of one core of this process for N = 50, 100, 200, 300 (target: 200 boxes
   under 10 %).
"""

from __future__ import annotations

import asyncio
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

import websockets  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402

from devices.ocpp.gateway_hub import GatewayHub  # noqa: E402
from devices.ocpp.server import OcppServer  # noqa: E402
from devices.ocpp.settings import OcppSettings  # noqa: E402
from manager.model import BoxObservation, ChargeStatus, EvseReading  # noqa: E402

LATENCY_MESSAGES = 400
CAPACITY_SIZES = (50, 100, 200, 300)
MEASURE_S = 15.0
ANSWERS: dict[str, Any] = {
    "BootNotification": {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z",
                         "interval": 300},
    "StartTransaction": {"transactionId": 77, "idTagInfo": {"status": "Accepted"}},
}  # fmt: skip


async def relay_latency(data: Path) -> tuple[float, float]:
    from test_ocpp_support import Hooks

    received: dict[str, float] = {}

    async def backend(ws: ServerConnection) -> None:
        async for raw in ws:
            msg = json.loads(raw)
            if msg[0] != 2:
                continue
            if msg[2] == "MeterValues":
                received[msg[3]["meterValue"][0]["sampledValue"][0]["value"]] = time.perf_counter()
            await ws.send(json.dumps([3, msg[1], ANSWERS.get(msg[2], {})]))

    hooks = Hooks(data)
    server = OcppServer(OcppSettings(host="127.0.0.1", port=0), hooks, data)
    await server.start()
    async with serve(backend, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as bsrv:  # type: ignore[list-item]
        port = bsrv.sockets[0].getsockname()[1]
        hub = GatewayHub(data / "gw", lambda *a, **k: None, lambda tag: True, server)
        server.observer = hub
        await hub.configure([{
            "kind": "evse", "id": "relay", "name": "relay", "driver": "ocpp", "address": "BOX",
            "connector_id": 1, "gateway_url": f"ws://127.0.0.1:{port}/ocpp",
            "gateway_client_id": "RELAY",
        }])  # fmt: skip
        box = await websockets.connect(
            f"ws://127.0.0.1:{server.port}/BOX",
            subprotocols=["ocpp1.6"],
            compression=None,  # type: ignore[list-item]
        )
        replies: dict[str, Any] = {}

        async def reader() -> None:
            async for raw in box:
                msg = json.loads(raw)
                if msg[0] == 3:
                    replies[msg[1]] = msg[2]
                elif msg[0] == 2:  # the server's set-up requests: refuse politely
                    await box.send(json.dumps([4, msg[1], "NotSupported", "", {}]))

        task = asyncio.create_task(reader())

        async def call(uid: str, action: str, payload: dict[str, Any]) -> Any:
            await box.send(json.dumps([2, uid, action, payload]))
            for _ in range(500):
                if uid in replies:
                    return replies.pop(uid)
                await asyncio.sleep(0.005)
            raise TimeoutError(action)

        await call("b", "BootNotification", {"chargePointVendor": "B", "chargePointModel": "M"})
        await asyncio.sleep(1.0)
        begin = {"connectorId": 1, "idTag": "T", "meterStart": 0,
                 "timestamp": "2026-01-01T00:00:00Z"}  # fmt: skip
        start = await call("s", "StartTransaction", begin)
        sent: dict[str, float] = {}
        for i in range(LATENCY_MESSAGES):
            value = str(i)
            sample = {"timestamp": "2026-01-01T00:00:00Z", "sampledValue": [{"value": value}]}
            payload = {"connectorId": 1, "transactionId": start["transactionId"],
                       "meterValue": [sample]}  # fmt: skip
            sent[value] = time.perf_counter()
            await box.send(json.dumps([2, f"m{i}", "MeterValues", payload]))
            await asyncio.sleep(0.02)
        for _ in range(300):
            if len(received) >= LATENCY_MESSAGES:
                break
            await asyncio.sleep(0.01)
        task.cancel()
        await box.close()
        await hub.close()
    await server.stop()
    hooks.sessions.close()
    lat = sorted((received[k] - sent[k]) * 1000 for k in sent if k in received)
    if len(lat) < LATENCY_MESSAGES:
        print(f"  only {len(lat)} of {LATENCY_MESSAGES} messages arrived")
    return statistics.median(lat), lat[int(len(lat) * 0.99) - 1]


def reading() -> EvseReading:
    return EvseReading(status=ChargeStatus.CHARGING, current_a=(10.0, 10.0, 10.0),
                       voltage_v=(230.0, 230.0, 230.0), power_w=6900.0, energy_wh=1000.0,
                       user="TAG")  # fmt: skip


async def capacity(data: Path, n: int) -> tuple[float, int]:
    from gateway_backend import Backend

    backend = Backend(quiet=True)
    try:
        hub = GatewayHub(data / f"cap{n}", lambda *a, **k: None, lambda tag: True)
        devices = [
            {"kind": "evse", "id": f"b{i}", "name": f"b{i}", "driver": "sim-evse",
             "gateway_url": backend.url, "gateway_client_id": f"CAP{i}",
             "gateway_password": backend.cfg["password"]}
            for i in range(n)
        ]  # fmt: skip
        await hub.configure(devices)
        for gw in hub.gateways.values():
            gw.config.keys["MeterValueSampleInterval"] = "1"
        seen = BoxObservation(online=True, enabled=True, reading=reading(), offered_a=10.0)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:  # all connected and in a transaction
            for i in range(n):
                hub.observe(f"b{i}", seen)
            if all(g.booted and g.tx and not g.queue.entries for g in hub.gateways.values()):
                break
            await asyncio.sleep(1.0)
        before = len(backend.events("mv"))
        cpu0, t0 = time.process_time(), time.monotonic()
        tick = t0
        while time.monotonic() - t0 < MEASURE_S:
            for i in range(n):
                hub.observe(f"b{i}", seen)
            tick += 1.0
            await asyncio.sleep(max(0.0, tick - time.monotonic()))
        cpu = (time.process_time() - cpu0) / (time.monotonic() - t0) * 100
        delivered = len(backend.events("mv")) - before
        await hub.close()
        return cpu, delivered
    finally:
        backend.stop()


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        p50, p99 = await relay_latency(data)
        print(f"gateway relay latency box -> backend ({LATENCY_MESSAGES} MeterValues): "
              f"p50 {p50:.2f} ms, p99 {p99:.2f} ms")  # fmt: skip
        for n in CAPACITY_SIZES:
            cpu, delivered = await capacity(data, n)
            rate = delivered / MEASURE_S
            verdict = "under" if cpu < 10 else "over"
            print(f"gateways at 1 s meter values: {n:4d} boxes, CPU {cpu:5.1f} % of one core "
                  f"({verdict} 10 %), {rate:6.1f} MeterValues/s delivered")  # fmt: skip


if __name__ == "__main__":
    asyncio.run(main())
