"""Bad input from a charge point: the right CALLERROR, nothing stored, everyone keeps working."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from test_ocpp_support import WAIT_S, connect, raw_client, running_server, until


async def exchange(ws: Any, frame: str) -> list[Any]:
    await ws.send(frame)
    async with asyncio.timeout(WAIT_S):
        while True:
            msg = json.loads(await ws.recv())
            if msg[0] != 2:  # skip the server's own requests
                return msg


CASES_16 = [
    ("hello there", ["-1", "FormationViolation"]),
    ('{"not": "a list"}', ["-1", "ProtocolError"]),
    ('[9,"u0",{}]', ["u0", "ProtocolError"]),
    ('[2,"u1","FooBar",{}]', ["u1", "NotImplemented"]),
    ('[2,"u2","RemoteStartTransaction",{"idTag":"x"}]', ["u2", "NotSupported"]),
    ('[2,"u3","StartTransaction",{"connectorId":1}]', ["u3", "ProtocolError"]),
    ('[2,"u4","MeterValues",{"connectorId":1,"meterValue":"x"}]', ["u4", "FormationViolation"]),
    (
        '[2,"u5","StatusNotification",{"connectorId":"one","status":"Charging","errorCode":"x"}]',
        ["u5", "TypeConstraintViolation"],
    ),
    ('[2,"u6","StatusNotification",{"errorCode":"NoError"}]', ["u6", "ProtocolError"]),
    ('[2,"u7","Heartbeat"]', ["u7", "ProtocolError"]),
]


async def test_bad_frames_16(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(server.port, "OTHER") as other:
            ws = await raw_client(server.port, "BAD")
            try:
                boot = '[2,"b","BootNotification",{"chargePointVendor":"V","chargePointModel":"M"}]'
                assert (await exchange(ws, boot))[0] == 3
                for frame, (uid, code) in CASES_16:
                    reply = await exchange(ws, frame)
                    assert reply[:3] == [4, uid, code], frame
                    assert isinstance(reply[3], str) and isinstance(reply[4], dict)
                big = '[2,"big","DataTransfer",{"vendorId":"x","data":"' + "x" * 200_000 + '"}]'
                assert (await exchange(ws, big))[:3] == [4, "big", "FormationViolation"]
                # the connection still works, and so does the other charge point
                reply = await exchange(ws, '[2,"hb","Heartbeat",{}]')
                assert reply[0] == 3 and reply[1] == "hb" and "currentTime" in reply[2]
                await other.call(call.Heartbeat())
            finally:
                await ws.close()
        # nothing stored from the bad messages
        assert hooks.sessions.list() == []
        rec = server.record("BAD")
        assert rec is not None and all(c.status is None for c in rec.connectors.values())
        assert all(c.energy_wh is None for c in rec.connectors.values())


CASES_201 = [
    ("hello there", ["-1", "FormatViolation"]),
    ('[9,"u0",{}]', ["u0", "MessageTypeNotSupported"]),
    ('[2,"u1","FooBar",{}]', ["u1", "NotImplemented"]),
    ('[2,"u2","Get15118EVCertificate",{}]', ["u2", "NotSupported"]),
    ('[2,"u3","TransactionEvent",{"eventType":"Started"}]', ["u3", "ProtocolError"]),
    ('[2,"u4","MeterValues",{"evseId":1,"meterValue":[1]}]', ["u4", "FormatViolation"]),
    ('[2,"u5","StatusNotification",{"evseId":1}]', ["u5", "OccurrenceConstraintViolation"]),
]


async def test_bad_frames_201(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        ws = await raw_client(server.port, "BAD2", "ocpp2.0.1")
        try:
            for frame, (uid, code) in CASES_201:
                reply = await exchange(ws, frame)
                assert reply[:3] == [4, uid, code], frame
            reply = await exchange(ws, '[2,"hb","Heartbeat",{}]')
            assert reply[:2] == [3, "hb"]
        finally:
            await ws.close()
        assert hooks.sessions.list() == []


@pytest.mark.parametrize("value", ["12.5", 12.5, "12,5"])
async def test_meter_value_forms(tmp_path: Path, value: object) -> None:
    async with running_server(tmp_path) as (server, _):
        ws = await raw_client(server.port, "MV")
        try:
            sampled = {"value": value, "unit": "kWh"}
            frame = json.dumps(
                [
                    2,
                    "m",
                    "MeterValues",
                    {
                        "connectorId": 1,
                        "meterValue": [{"timestamp": "x", "sampledValue": [sampled]}],
                    },
                ]
            )
            assert (await exchange(ws, frame))[:2] == [3, "m"]
            await until(lambda: server.record("MV") is not None)
            assert server.record("MV").connectors[1].energy_wh == 12500.0
        finally:
            await ws.close()


async def test_compression_only_for_201_clients_that_ask(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        for proto, expect in (("ocpp1.6", None), ("ocpp2.0.1", "permessage-deflate")):
            async with connect(
                server.port, "Z", version=proto[4:], boot=False, status=False
            ) as box:
                ext = box._connection.response.headers.get("Sec-WebSocket-Extensions")
                assert ((ext or "").split(";")[0] or None) == expect, proto
