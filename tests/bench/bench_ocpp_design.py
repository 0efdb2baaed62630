"""Which OCPP design: the `ocpp` library's ChargePoint, with or without a fast path, or ampshare's
frame loop with direct JSON-schema checks. Run as `python tests/bench/bench_ocpp_design.py`.

Three central systems answer the same charge points over loopback WebSockets (no compression,
as ampshare's server):

- `library`: `ocpp` ChargePoint used fully (`@on` handlers, `start()`, schema validation of
  request and reply in the thread pool, `call()` with `call.*` payloads);
- `library+fast`: the same ChargePoint, but Heartbeat, StatusNotification and MeterValues are
  answered in an overridden `route_message` before the library sees them;
- `ampshare`: the real OcppServer (own frame loop, fast path, `get_validator` checks for the
  rest, `request()` for calls to the box).

Box -> server: CLIENTS charge points send one message kind back to back for SECONDS; printed
are messages/s and p50/p99 latency, per version (1.6, 2.0.1). Authorize stands for the
schema-checked rest (StartTransaction, TransactionEvent, ...): no fast path takes it.
Server -> box: CALLS SetChargingProfile requests one after another to one box; printed are
calls/s and p50/p99.
Everything runs in this one process, so absolute figures include the clients' own cost; the
comparison between the designs is what counts.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path[:0] = [str(ROOT), str(HERE)]

import websockets  # noqa: E402
from bench_ocpp import CONFIG, METER_VALUES, _Hooks  # noqa: E402
from ocpp import v16, v201  # noqa: E402
from ocpp.routing import on  # noqa: E402
from websockets.asyncio.server import ServerConnection, serve  # noqa: E402
from websockets.exceptions import ConnectionClosed  # noqa: E402

CLIENTS = 10
SECONDS = 2.0
CALLS = 300
NOW = "2026-03-01T10:00:00Z"

MESSAGES: dict[str, dict[str, dict[str, Any]]] = {
    "1.6": {
        "Heartbeat": {},
        "StatusNotification": {"connectorId": 1, "errorCode": "NoError", "status": "Charging"},
        "MeterValues": METER_VALUES,
        "Authorize": {"idTag": "TAG1"},
    },
    "2.0.1": {
        "Heartbeat": {},
        "StatusNotification": {
            "timestamp": NOW,
            "connectorStatus": "Occupied",
            "evseId": 1,
            "connectorId": 1,
        },
        "MeterValues": {
            "evseId": 1,
            "meterValue": [
                {
                    "timestamp": NOW,
                    "sampledValue": [
                        {"value": 12345.6, "measurand": "Energy.Active.Import.Register"},
                        {"value": 7360, "measurand": "Power.Active.Import"},
                        {"value": 16.0, "measurand": "Current.Import", "phase": "L1"},
                        {"value": 16.0, "measurand": "Current.Import", "phase": "L2"},
                        {"value": 16.0, "measurand": "Current.Import", "phase": "L3"},
                    ],
                }
            ],
        },
        "Authorize": {"idToken": {"idToken": "TAG1", "type": "ISO14443"}},
    },
}
SUBPROTOCOL = {"1.6": "ocpp1.6", "2.0.1": "ocpp2.0.1"}


class Hooks(_Hooks):
    def local_list(self, charge_box_id: str) -> None:
        return None  # no local authorization lists in this bench


def _now() -> str:
    return datetime.now(UTC).isoformat()


# ---------------------------------------------------------------------------- library designs


def _library_class(version: str) -> type:
    lib = v16 if version == "1.6" else v201
    res = lib.call_result
    Action = lib.enums.Action

    class LibraryCS(lib.ChargePoint):  # type: ignore[name-defined,misc]
        @on(Action.boot_notification)
        def on_boot(self, **_: Any) -> Any:
            return res.BootNotification(current_time=_now(), interval=300, status="Accepted")

        @on(Action.heartbeat)
        def on_heartbeat(self, **_: Any) -> Any:
            return res.Heartbeat(current_time=_now())

        @on(Action.status_notification)
        def on_status(self, **_: Any) -> Any:
            return res.StatusNotification()

        @on(Action.meter_values)
        def on_meter_values(self, **_: Any) -> Any:
            return res.MeterValues()

        @on(Action.authorize)
        def on_authorize(self, **_: Any) -> Any:
            if version == "1.6":
                return res.Authorize(id_tag_info={"status": "Invalid"})
            return res.Authorize(id_token_info={"status": "Invalid"})

    return LibraryCS


def _fast_class(version: str) -> type:
    """The library ChargePoint with the three frequent messages answered before routing."""
    base = _library_class(version)

    class FastCS(base):  # type: ignore[valid-type,misc]
        async def route_message(self, raw_msg: str) -> Any:
            msg = json.loads(raw_msg)
            if msg[0] == 2 and msg[2] in ("Heartbeat", "StatusNotification", "MeterValues"):
                reply = {"currentTime": _now()} if msg[2] == "Heartbeat" else {}
                await self._send(json.dumps([3, msg[1], reply], separators=(",", ":")))
                return None
            return await super().route_message(raw_msg)

    return FastCS


class LibraryServer:
    def __init__(self, fast: bool) -> None:
        self.fast = fast
        self.cps: dict[str, Any] = {}
        self.server: Any = None
        self.port = 0

    async def start(self) -> None:
        async def handler(ws: ServerConnection) -> None:
            cp_id = (ws.request.path if ws.request else "/").rsplit("/", 1)[-1]
            version = "2.0.1" if ws.subprotocol == "ocpp2.0.1" else "1.6"
            cls = _fast_class(version) if self.fast else _library_class(version)
            cp = cls(cp_id, ws)
            cp.version = version
            self.cps[cp_id] = cp
            with contextlib.suppress(ConnectionClosed):
                await cp.start()

        self.server = await serve(
            handler,
            "127.0.0.1",
            0,
            subprotocols=["ocpp2.0.1", "ocpp1.6"],  # type: ignore[list-item]
            compression=None,
        )
        self.port = self.server.sockets[0].getsockname()[1]

    async def set_limit(self, cp_id: str, limit: float) -> None:
        cp = self.cps[cp_id]
        schedule = {
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": [{"startPeriod": 0, "limit": limit}],
        }
        if cp.version == "1.6":
            profile = {
                "chargingProfileId": 19521,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": schedule,
            }
            reply = await cp.call(
                v16.call.SetChargingProfile(connector_id=1, cs_charging_profiles=profile)
            )
        else:
            profile = {
                "id": 19521,
                "stackLevel": 1,
                "chargingProfilePurpose": "TxDefaultProfile",
                "chargingProfileKind": "Relative",
                "chargingSchedule": [{"id": 19521, **schedule}],
            }
            reply = await cp.call(v201.call.SetChargingProfile(evse_id=1, charging_profile=profile))
        if reply is None or reply.status != "Accepted":
            raise RuntimeError(f"SetChargingProfile: {reply}")

    async def stop(self) -> None:
        self.server.close()
        await self.server.wait_closed()


# ---------------------------------------------------------------------------- ampshare


class AmpshareServer:
    async def start(self) -> None:
        from devices.ocpp.server import OcppServer
        from devices.ocpp.settings import OcppSettings

        data = Path(tempfile.mkdtemp(prefix="bench-ocpp-design-"))
        self.server: Any = OcppServer(OcppSettings(host="127.0.0.1", port=0), Hooks(data), data)
        await self.server.start()
        self.port = self.server.port

    async def set_limit(self, cp_id: str, limit: float) -> None:
        conn = self.server.connection(cp_id)
        status, _ = await conn.set_limit(
            1,
            limit,
            "A",
            None,
            profile_id=19521,
            purpose="TxDefaultProfile",
            stack_level=1,
            relative=True,
        )
        if status != "Accepted":
            raise RuntimeError(f"SetChargingProfile: {status}")

    async def stop(self) -> None:
        await self.server.stop()


# ---------------------------------------------------------------------------- charge points


class Box:
    """A charge point that answers every request at once and times its own calls."""

    def __init__(self, port: int, cp_id: str, version: str) -> None:
        self.url = f"ws://127.0.0.1:{port}/{cp_id}"
        self.version = version
        self.pending: dict[str, asyncio.Future[Any]] = {}
        self.seq = 0
        self.ws: Any = None
        self.reader: asyncio.Task[None] | None = None

    async def connect(self) -> None:
        self.ws = await websockets.connect(
            self.url,
            subprotocols=[SUBPROTOCOL[self.version]],  # type: ignore[list-item]
            compression=None,
            ping_interval=None,
        )
        self.reader = asyncio.get_running_loop().create_task(self._read())

    def _answer(self, action: str) -> dict[str, Any]:
        if action == "GetConfiguration":
            return {"configurationKey": CONFIG}
        if action == "GetVariables":
            return {"getVariableResult": []}
        if action == "SetVariables":
            return {"setVariableResult": []}
        return {"status": "Accepted"}

    async def _read(self) -> None:
        with contextlib.suppress(ConnectionClosed):
            async for raw in self.ws:
                msg = json.loads(raw)
                if msg[0] == 2:
                    await self.ws.send(json.dumps([3, msg[1], self._answer(msg[2])]))
                    continue
                fut = self.pending.pop(msg[1], None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)

    async def call(self, action: str, body: str) -> float:
        self.seq += 1
        uid = str(self.seq)
        fut = asyncio.get_running_loop().create_future()
        self.pending[uid] = fut
        t0 = time.perf_counter()
        await self.ws.send(f'[2,"{uid}","{action}",{body}]')
        async with asyncio.timeout(30):
            reply = await fut
        if reply[0] != 3:
            raise RuntimeError(f"{action}: {reply}")
        return time.perf_counter() - t0

    async def close(self) -> None:
        await self.ws.close()
        if self.reader is not None:
            await self.reader


# ---------------------------------------------------------------------------- runs


def _figures(latencies: list[float], seconds: float) -> str:
    lat = sorted(latencies)
    p99 = lat[max(0, int(len(lat) * 0.99) - 1)]
    return (
        f"{len(lat) / seconds:7.0f} /s   p50 {1000 * statistics.median(lat):6.2f} ms"
        f"   p99 {1000 * p99:6.2f} ms"
    )


async def _pump(boxes: list[Box], action: str, body: str) -> str:
    latencies: list[float] = []
    stop = time.perf_counter() + SECONDS

    async def one(box: Box) -> None:
        while time.perf_counter() < stop:
            latencies.append(await box.call(action, body))

    t0 = time.perf_counter()
    await asyncio.gather(*(one(b) for b in boxes))
    return _figures(latencies, time.perf_counter() - t0)


async def _calls(server: Any, cp_id: str) -> str:
    latencies = []
    t0 = time.perf_counter()
    for n in range(CALLS):
        t = time.perf_counter()
        await server.set_limit(cp_id, 6.0 + n % 10)
        latencies.append(time.perf_counter() - t)
    return _figures(latencies, time.perf_counter() - t0)


async def run_design(name: str, server: Any) -> None:
    await server.start()
    try:
        for version in ("1.6", "2.0.1"):
            tag = version.replace(".", "")
            boxes = [Box(server.port, f"B{tag}x{i}", version) for i in range(CLIENTS)]
            for box in boxes:
                await box.connect()
            await asyncio.sleep(1.0)  # ampshare sets each box up after connecting
            for action, payload in MESSAGES[version].items():
                figures = await _pump(boxes, action, json.dumps(payload))
                print(f"  {name:13} {version:5} {action:19} {figures}", flush=True)
            figures = await _calls(server, boxes[0].url.rsplit("/", 1)[-1])
            print(f"  {name:13} {version:5} {'SetChargingProfile':19} {figures}", flush=True)
            for box in boxes:
                await box.close()
    finally:
        await server.stop()


async def main() -> None:
    logging.basicConfig(level=logging.ERROR)
    print(
        f"OCPP design: {CLIENTS} boxes back to back for {SECONDS:g} s per message kind (box -> "
        f"server); {CALLS} SetChargingProfile one after another (server -> box)"
    )
    print(f"  {'design':13} {'ver':5} {'message':19} {'rate':>9}   latency")
    await run_design("library", LibraryServer(fast=False))
    await run_design("library+fast", LibraryServer(fast=True))
    await run_design("ampshare", AmpshareServer())


if __name__ == "__main__":
    asyncio.run(main())
