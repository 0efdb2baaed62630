"""An independent OCPP client (Node ocpp-rpc, strict schemas both ways) against the server."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import pytest
from test_ocpp_support import WAIT_S, running_server, until
from tools import INTEROP, require_node

from devices.ocpp.evse import OcppEvse, OcppEvseOptions
from devices.ocpp.state import DEFAULT_PROFILE_BASE, DENY_PROFILE_ID
from manager.model import DeviceSpec


async def next_event(proc: asyncio.subprocess.Process, kind: str) -> dict[str, Any]:
    return await next_event_of(proc, {kind})


async def next_event_of(proc: asyncio.subprocess.Process, kinds: set[str]) -> dict[str, Any]:
    kind = "/".join(sorted(kinds))
    assert proc.stdout is not None
    async with asyncio.timeout(WAIT_S * 2):
        while True:
            line = await proc.stdout.readline()
            if not line:
                err = (await proc.stderr.read()).decode() if proc.stderr else ""
                raise AssertionError(f"interop client ended before {kind!r}: {err}")
            event = json.loads(line)
            if event["event"] == "error":
                raise AssertionError(f"interop client: {event['why']}")
            if event["event"] in kinds:
                return event


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_ocpp_rpc_strict_client(tmp_path: Path, version: str) -> None:
    node = require_node()
    async with running_server(tmp_path) as (server, _):
        spec = DeviceSpec("node", "Node box", "evse", "ocpp", "NODE")
        wallbox = OcppEvse(spec, OcppEvseOptions(), server)
        proc = await asyncio.create_subprocess_exec(
            node,
            "client.js",
            str(server.port),
            "NODE",
            version,
            cwd=INTEROP,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            assert (await next_event(proc, "connected"))["protocol"] == f"ocpp{version}"
            first: dict[str, dict[str, Any]] = {}
            while len(first) < 2:  # the default-deny goes out at once, maybe before the boot
                event = await next_event_of(proc, {"boot", "profile"})
                first.setdefault(event["event"], event)
            assert first["boot"]["status"] == "Accepted"
            deny = first["profile"]
            assert (deny["id"], deny["connector"], deny["limit"]) == (DENY_PROFILE_ID, 0, 0)
            assert deny["purpose"] == "TxDefaultProfile"
            assert deny["stackLevel"] == (5 if version == "1.6" else 4)
            await until(lambda: (c := server.connection("NODE")) is not None and c.ready)
            await wallbox.apply(10.0, 3)
            limit = await next_event(proc, "profile")
            assert (limit["id"], limit["connector"], limit["limit"]) == (
                DEFAULT_PROFILE_BASE + 1,
                1,
                10,
            )
            assert await wallbox.deactivate() == "profiles cleared"
            cleared = [(await next_event(proc, "cleared"))["id"] for _ in range(2)]
            assert cleared == [DEFAULT_PROFILE_BASE + 1, DENY_PROFILE_ID]
            async with asyncio.timeout(WAIT_S):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await wallbox.close()


@pytest.mark.parametrize("version", ["1.6", "2.0.1"])
async def test_ocpp_rpc_box_refusing_profiles_is_shut_down(tmp_path: Path, version: str) -> None:
    node = require_node()
    async with running_server(tmp_path) as (server, hooks):
        spec = DeviceSpec("node", "Node box", "evse", "ocpp", "NODE")
        wallbox = OcppEvse(spec, OcppEvseOptions(), server)
        proc = await asyncio.create_subprocess_exec(
            node,
            "client.js",
            str(server.port),
            "NODE",
            version,
            "refuse",
            cwd=INTEROP,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        try:
            tries = [await next_event(proc, "profile") for _ in range(2)]
            max_purpose = (
                "ChargePointMaxProfile" if version == "1.6" else "ChargingStationMaxProfile"
            )
            assert [t["purpose"] for t in tries] == ["TxDefaultProfile", max_purpose]
            assert (await next_event(proc, "availability"))["type"] == "Inoperative"
            seen: dict[str, dict[str, Any]] = {}
            while len(seen) < 2:  # the stop request may overtake the client's own print
                event = await next_event_of(proc, {"start", "stop"})
                seen[event["event"]] = event
            assert seen["start"]["status"] == "Invalid"
            assert seen["stop"]["transactionId"] == seen["start"]["transactionId"]
            async with asyncio.timeout(WAIT_S):
                assert await proc.wait() == 0
        finally:
            if proc.returncode is None:
                proc.kill()
                await proc.wait()
        await wallbox.close()
        assert "not_under_control" in hooks.kinds()
