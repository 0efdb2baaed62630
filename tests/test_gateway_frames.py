"""Hostile frames from a billing backend get the proper CALLERROR and change nothing.

The backend here is a raw WebSocket server on loopback, so the test can send frames no
well-behaved OCPP library would send and read the gateway's exact answers.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from websockets.asyncio.server import ServerConnection, serve

from devices.ocpp.gateway_hub import GatewayHub
from manager.model import BoxObservation, ChargeStatus, EvseReading

ANSWERS: dict[str, dict[str, Any]] = {
    "BootNotification": {"status": "Accepted", "currentTime": "2026-01-01T00:00:00Z",
                         "interval": 300},
    "Authorize": {"idTagInfo": {"status": "Accepted"}},
    "StartTransaction": {"transactionId": 5, "idTagInfo": {"status": "Accepted"}},
}  # fmt: skip
PROFILE = {
    "chargingProfileId": 1, "stackLevel": 0, "chargingProfilePurpose": "ChargePointMaxProfile",
    "chargingProfileKind": "Absolute",
    "chargingSchedule": {"chargingRateUnit": "A",
                         "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 6.0}]},
}  # fmt: skip


class RawBackend:
    def __init__(self) -> None:
        self.ws: dict[str, ServerConnection] = {}
        self.replies: dict[str, list[Any]] = {}
        self.booted: dict[str, asyncio.Event] = {}
        self.answered = asyncio.Event()

    async def handler(self, ws: ServerConnection) -> None:
        ident = ws.request.path.rsplit("/", 1)[-1]  # type: ignore[union-attr]
        self.ws[ident] = ws
        async for raw in ws:
            msg = json.loads(raw)
            if msg[0] == 2:
                await ws.send(json.dumps([3, msg[1], ANSWERS.get(msg[2], {})]))
                if msg[2] == "BootNotification":
                    self.booted.setdefault(ident, asyncio.Event()).set()
            else:
                self.replies[msg[1]] = msg
                self.answered.set()

    async def exchange(self, ident: str, frame: str, uid: str) -> list[Any]:
        await self.ws[ident].send(frame)
        async with asyncio.timeout(5):
            while uid not in self.replies:
                self.answered.clear()
                await self.answered.wait()
        return self.replies.pop(uid)


def reading() -> EvseReading:
    return EvseReading(status=ChargeStatus.CHARGING, current_a=(10.0, 10.0, 10.0),
                       power_w=6900.0, energy_wh=1234.0, user="TAG1")  # fmt: skip


async def test_invalid_frames_get_callerror_and_leave_caps_alone(tmp_path: Path) -> None:
    backend = RawBackend()
    async with serve(backend.handler, "127.0.0.1", 0, subprotocols=["ocpp1.6"]) as server:  # type: ignore[list-item]
        port = server.sockets[0].getsockname()[1]
        hub = GatewayHub(tmp_path, lambda *a, **k: None, lambda tag: False)
        devices = [
            {"kind": "evse", "id": dev, "name": dev, "driver": "sim-evse",
             "gateway_url": f"ws://127.0.0.1:{port}/ocpp", "gateway_client_id": dev.upper()}
            for dev in ("one", "two")
        ]  # fmt: skip
        try:
            await hub.configure(devices)
            seen = BoxObservation(online=True, enabled=True, reading=reading(), offered_a=10.0)
            for _ in range(50):
                hub.observe("one", seen)
                hub.observe("two", seen)
                if all(backend.booted.get(i, asyncio.Event()).is_set() for i in ("ONE", "TWO")):
                    break
                await asyncio.sleep(0.1)
            bad_type = json.dumps(
                [
                    2,
                    "a1",
                    "SetChargingProfile",
                    {"connectorId": "zero", "csChargingProfiles": PROFILE},
                ]
            )
            bad_limit = json.dumps(
                [
                    2,
                    "a2",
                    "SetChargingProfile",
                    {
                        "connectorId": 0,
                        "csChargingProfiles": {
                            **PROFILE,
                            "chargingSchedule": {
                                "chargingRateUnit": "A",
                                "chargingSchedulePeriod": [{"startPeriod": 0, "limit": "lots"}],
                            },
                        },
                    },
                ]
            )
            missing = json.dumps([2, "a3", "RemoteStopTransaction", {}])
            unknown = json.dumps([2, "a4", "MakeCoffee", {}])
            extra = json.dumps([2, "a5", "Reset", {"type": "Hard", "now": True}])
            codes = {}
            for uid, frame in (("a1", bad_type), ("a2", bad_limit), ("a3", missing),
                               ("a4", unknown), ("a5", extra)):  # fmt: skip
                reply = await backend.exchange("ONE", frame, uid)
                assert reply[0] == 4, reply
                codes[uid] = reply[2]
            assert codes["a1"] in ("TypeConstraintViolation", "FormationViolation")
            assert codes["a2"] in ("TypeConstraintViolation", "FormationViolation")
            assert codes["a3"] in (
                "ProtocolError",
                "FormationViolation",
                "OccurenceConstraintViolation",
            )
            assert codes["a4"] == "NotImplemented"
            assert codes["a5"] in (
                "FormationViolation",
                "PropertyConstraintViolation",
                "ProtocolError",
            )
            assert (await backend.exchange("ONE", "this is not json", "-1"))[
                2
            ] == "FormationViolation"
            assert (await backend.exchange("ONE", json.dumps([7, "a6"]), "-1"))[0] == 4
            assert hub.cap("one") is None and hub.cap("two") is None  # nothing changed
            hub.observe("one", seen)
            good = json.dumps(
                [2, "a7", "SetChargingProfile", {"connectorId": 0, "csChargingProfiles": PROFILE}]
            )
            assert (await backend.exchange("ONE", good, "a7"))[2] == {"status": "Accepted"}
            cap = hub.cap("one")
            assert cap is not None and cap.limit_a == 6.0 and hub.cap("two") is None
        finally:
            await hub.close()
