"""Broken and hostile clients on the OCPP port: bad numbers, bad shapes, floods, id takeover."""

from __future__ import annotations

import asyncio
import json
import logging
import math
from pathlib import Path
from typing import Any

import pytest
import websockets
from ocpp.v16 import call
from test_ocpp_frames import exchange
from test_ocpp_security import PASSWORD, basic, status_of
from test_ocpp_support import connect, raw_client, ready, running_server, until
from test_ocpp_support import evse as support_evse

from devices.ocpp import server as server_module
from devices.ocpp.connection import BAD_MESSAGE_LOG_LIMIT
from devices.ocpp.guard import EventLimiter, LoginThrottle
from devices.ocpp.meter import parse_meter_values
from devices.ocpp.state import MAX_CONNECTORS


def meter_frame(uid: str, sampled: dict[str, Any], key: str = "connectorId") -> str:
    payload = {
        key: 1,
        "meterValue": [{"timestamp": "2026-03-01T10:00:00Z", "sampledValue": [sampled]}],
    }
    return json.dumps([2, uid, "MeterValues", payload])


@pytest.mark.parametrize(
    ("subprotocol", "key", "code"),
    [("ocpp1.6", "connectorId", "FormationViolation"), ("ocpp2.0.1", "evseId", "FormatViolation")],
)
async def test_malformed_meter_values_get_a_callerror(
    tmp_path: Path, subprotocol: str, key: str, code: str
) -> None:
    async with running_server(tmp_path) as (server, _):
        ws = await raw_client(server.port, "MV", subprotocol)
        try:
            bad = [
                {"value": "1", "location": []},
                {"value": "1", "phase": {}},
                {"value": "1", "measurand": ["x"]},
                {"value": "1", "unitOfMeasure": "kWh"},
            ]
            for i, sampled in enumerate(bad):
                reply = await exchange(ws, meter_frame(f"m{i}", sampled, key))
                assert reply[:3] == [4, f"m{i}", code], sampled
            reply = await exchange(ws, '[2,"hb","Heartbeat",{}]')
            assert reply[:2] == [3, "hb"]  # the connection is still open
        finally:
            await ws.close()


async def test_absurd_numbers_never_become_readings(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = support_evse(server, "MV")
        ws = await raw_client(server.port, "MV")
        try:
            for i, sampled in enumerate(
                [
                    {"value": "1e308", "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "1e308", "unit": "kWh"},
                    {"value": "NaN", "measurand": "Current.Import", "phase": "L1"},
                    {"value": "-Infinity", "measurand": "Voltage", "phase": "L1"},
                ]
            ):
                assert (await exchange(ws, meter_frame(f"x{i}", sampled)))[:2] == [3, f"x{i}"]
            reading = await wallbox.read()
            numbers = [reading.power_w, reading.session_wh, *reading.current_a]
            numbers += [v for v in (reading.energy_wh, *reading.voltage_v) if v is not None]
            assert all(math.isfinite(v) for v in numbers)
            assert reading.energy_wh is None and reading.power_w == 0.0
        finally:
            await ws.close()


def test_meter_parser_drops_implausible_values() -> None:
    sample = parse_meter_values(
        [
            {
                "sampledValue": [
                    {"value": "12", "unit": "kWh"},
                    {"value": "1e300", "unit": "kWh"},  # later, but garbage: the good one stays
                    {"value": 7e6, "measurand": "Power.Active.Import", "unit": "kW"},
                    {"value": "16", "measurand": "Current.Import", "phase": "L1"},
                ]
            }
        ]
    )
    assert sample.energy_wh == 12000.0
    assert sample.power_w is None  # 7 GW at one box is not a reading
    assert sample.current_a == [16.0, None, None]


async def test_connectors_per_box_are_capped(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        ws = await raw_client(server.port, "MANY")
        try:
            for n in range(1, MAX_CONNECTORS + 5):
                frame = json.dumps(
                    [
                        2,
                        f"s{n}",
                        "StatusNotification",
                        {"connectorId": n, "status": "Available", "errorCode": "NoError"},
                    ]
                )
                reply = await exchange(ws, frame)
                if n <= MAX_CONNECTORS:
                    assert reply[0] == 3
                else:
                    assert reply[:3] == [4, f"s{n}", "PropertyConstraintViolation"]
            assert (await exchange(ws, '[2,"hb","Heartbeat",{}]'))[0] == 3
        finally:
            await ws.close()
        assert len(server.record("MANY").connectors) == MAX_CONNECTORS


async def test_unknown_boxes_listed_are_capped_oldest_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "MAX_UNKNOWN_BOXES", 5)
    async with running_server(tmp_path) as (server, _):
        support_evse(server, "MINE")
        async with connect(server.port, "MINE", status=False):
            for i in range(12):
                async with connect(server.port, f"U{i}", boot=False, status=False):
                    await until(lambda i=i: server.connection(f"U{i}") is not None)
                await until(lambda i=i: server.connection(f"U{i}") is None)
            ids = {cp["id"] for cp in server.charge_points()}
            assert ids == {"MINE", "U7", "U8", "U9", "U10", "U11"}


async def test_connection_events_are_rate_limited(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        for i in range(40):
            ws = await raw_client(server.port, f"FLOOD{i}")
            await ws.close()
        await until(lambda: not server._conns)
        kinds = hooks.kinds()
        assert len(kinds) <= EventLimiter().burst
        assert set(kinds) == {"charge_point_connected", "charge_point_disconnected"}


async def test_strangers_cannot_fill_the_event_log_nor_hide_configured_boxes(
    tmp_path: Path,
) -> None:
    async with running_server(tmp_path) as (server, hooks):
        support_evse(server, "MINE")
        for i in range(30):  # each refuses the deny profile and tries to charge
            async with connect(server.port, f"S{i}", profile_status="Rejected") as box:
                await ready(server, f"S{i}")
                await box.call(
                    call.StartTransaction(
                        connector_id=1, id_tag="X", meter_start=0, timestamp="2026-03-01T10:00:00Z"
                    )
                )
        assert len(hooks.seen) <= EventLimiter().burst + 1
        async with connect(server.port, "MINE"):
            await until(
                lambda: ("charge_point_connected", "MINE") in {(k, d) for k, _, d in hooks.seen}
            )


def test_event_limiter_reports_what_it_held_back() -> None:
    now = [0.0]
    limiter = EventLimiter(burst=2, window_s=10, clock=lambda: now[0])
    assert [limiter.allow() for _ in range(4)] == [(True, 0), (True, 0), (False, 0), (False, 0)]
    now[0] = 11.0
    assert limiter.allow() == (True, 2)


async def test_failed_ocpp_logins_are_throttled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with running_server(tmp_path, password=PASSWORD) as (server, _):
        limit = LoginThrottle().limit
        for _ in range(limit):
            assert await status_of(server.port, "BOX1", basic("BOX1", "wrong-password-17")) == 401
        assert await status_of(server.port, "BOX1", basic("BOX1", "wrong-password-17")) == 429
        assert await status_of(server.port, "BOX1", basic("BOX1", PASSWORD)) == 429
        server._logins = LoginThrottle()  # the block is over
        assert await status_of(server.port, "BOX1", basic("BOX1", PASSWORD)) == 101


def test_login_throttle_forgets_and_stays_bounded() -> None:
    now = [0.0]
    throttle = LoginThrottle(limit=3, window_s=10, block_s=30, max_peers=4, clock=lambda: now[0])
    assert not throttle.failed("a") and not throttle.failed("a")
    now[0] = 20.0  # old failures fall out of the window
    assert not throttle.failed("a") and not throttle.failed("a")
    assert throttle.failed("a") and throttle.blocked_for("a") == 30.0
    for i in range(10):
        throttle.failed(f"peer{i}")
    assert len(throttle._peers) == 4


async def test_live_configured_box_cannot_be_taken_over(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as first:
            await ready(server, "BOX1")
            with pytest.raises(websockets.ConnectionClosed) as closed:
                async with connect(server.port, "BOX1", boot=False, status=False) as second:
                    await second.call(call.Heartbeat())
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1008
            await first.call(call.Heartbeat())  # the real box is untouched
            assert server.connection("BOX1").ws.remote_address == first._connection.local_address
        assert "charge_point_takeover_refused" in hooks.kinds()


async def test_dead_connection_or_credentials_allow_takeover(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(server_module, "TAKEOVER_PING_S", 0.3)
    async with running_server(tmp_path) as (server, _):
        support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as first:
            await ready(server, "BOX1")
            first._connection.transport.pause_reading()  # a dead box: no pong
            async with connect(server.port, "BOX1", boot=False, status=False) as second:
                await second.call(call.Heartbeat())
                local = second._connection.local_address
                await until(lambda: server.connection("BOX1").ws.remote_address == local)
    async with running_server(tmp_path, password=PASSWORD) as (server, _):
        support_evse(server, "BOX1")
        creds = basic("BOX1", PASSWORD)
        async with connect(server.port, "BOX1", headers=creds):
            async with connect(server.port, "BOX1", headers=creds, boot=False) as second:
                await second.call(call.Heartbeat())  # proved who it is: replaces at once
                local = second._connection.local_address
                await until(lambda: server.connection("BOX1").ws.remote_address == local)


async def test_other_box_unaffected_by_a_flood(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with connect(server.port, "GOOD") as good:
            ws = await raw_client(server.port, "EVIL")
            try:
                frames = [
                    "x" * 100,
                    "[2]",
                    '[2,"a","MeterValues",{"connectorId":1,"meterValue":[{"sampledValue":[{"value":"1","phase":{}}]}]}]',
                ]
                await asyncio.gather(*(ws.send(f) for f in frames * 30))
                for _ in range(3):
                    await good.call(call.Heartbeat())
            finally:
                await ws.close()


async def test_a_stranger_cannot_stop_another_box_session(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as box:
            start = await box.call(
                call.StartTransaction(
                    connector_id=1, id_tag="T", meter_start=0, timestamp="2026-03-01T10:00:00Z"
                )
            )
            async with connect(server.port, "EVIL") as evil:
                await evil.call(
                    call.StopTransaction(
                        meter_stop=1,
                        timestamp="2026-03-01T10:01:00Z",
                        transaction_id=start.transaction_id,
                    )
                )
        (row,) = hooks.sessions.list()
        assert row["stopped_at"] is None


async def test_a_garbage_sender_cannot_flood_the_log(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    async with running_server(tmp_path) as (server, _):
        ws = await raw_client(server.port, "NOISY")
        try:
            with caplog.at_level(logging.WARNING, logger="devices.ocpp"):
                for i in range(60):
                    frame = "not json" if i % 2 else '[2,"a","Authorize",{"idTag":{}}]'
                    await exchange(ws, frame)
        finally:
            await ws.close()
        noisy = [
            r for r in caplog.records if "NOISY" in r.getMessage() or "idTag" in r.getMessage()
        ]
        assert len(noisy) <= BAD_MESSAGE_LOG_LIMIT + 1
