"""Station actions against strict `ocpp-rpc` boxes (1.6 and 2.0.1): every action answered
Accepted, Rejected, not at all, and by a box that is offline."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from station_support import node_station
from test_ocpp_support import running_server, until

from devices.ocpp.state import DENY_PROFILE_ID
from devices.ocpp.station import ACTIONS, StationDesk
from manager.model import StationInputError, StationOffline, StationTimeout

VERSIONS = ["1.6", "2.0.1"]
STALE = {"id": 7, "connector": 1, "purpose": "TxDefaultProfile", "stackLevel": 2, "limit": 0}


async def ready(server: Any, cb_id: str) -> None:
    await until(lambda: (c := server.connection(cb_id)) is not None and c.ready)
    await until(lambda: server.connection(cb_id)._followup.done())


def calls(version: str) -> list[tuple[str, dict[str, Any], str]]:
    """(action, params, the OCPP request it must send) for every action but profiles."""
    v16 = version == "1.6"
    return [
        ("reset", {"type": "Hard" if v16 else "Immediate"}, "Reset"),
        ("unlock", {"connector_id": 1}, "UnlockConnector"),
        ("availability", {"operative": False, "connector_id": 1}, "ChangeAvailability"),
        ("trigger", {"message": "StatusNotification", "connector_id": 1}, "TriggerMessage"),
        (
            "remote_start",
            {"id_tag": "TAG1", "connector_id": 1},
            "RemoteStartTransaction" if v16 else "RequestStartTransaction",
        ),
        (
            "remote_stop",
            {"transaction_id": 5 if v16 else "tx-5"},
            "RemoteStopTransaction" if v16 else "RequestStopTransaction",
        ),
        ("data_transfer", {"vendor_id": "ACME", "message_id": "m", "data": "x"}, "DataTransfer"),
        ("reserve", {"connector_id": 1, "id_tag": "TAG1", "minutes": 10}, "ReserveNow"),
        ("cancel_reservation", {"reservation_id": 3}, "CancelReservation"),
        (
            "configure",
            {
                "key": "MeterValueSampleInterval" if v16 else "SampledDataCtrlr.TxUpdatedInterval",
                "value": "30",
            },
            "ChangeConfiguration" if v16 else "SetVariables",
        ),
        ("clear_profiles", {"id": 7}, "ClearChargingProfile"),
    ]


@pytest.mark.parametrize("version", VERSIONS)
async def test_every_action_accepted(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=5)
        async with node_station(server.port, "ST1", version, profiles=[STALE]) as box:
            await ready(server, "ST1")
            for action, params, request in calls(version):
                answer = await desk.run("ST1", action, params)
                expected = "Unlocked" if action == "unlock" else "Accepted"
                assert answer["status"] == expected, (action, answer)
                assert isinstance(answer["payload"], dict)
                assert await box.request(request), (action, request)
            sent = await box.request("ReserveNow")
            assert sent.get("idTag", (sent.get("idToken") or {}).get("idToken")) == "TAG1"
            echo = await desk.run("ST1", "data_transfer", {"vendor_id": "ACME", "data": "hi"})
            assert echo["payload"]["data"] == ("echo:hi" if version == "1.6" else {"echo": "hi"})


@pytest.mark.parametrize("version", VERSIONS)
async def test_profiles_and_stale_profile_cleared_on_unknown_box(
    tmp_path: Path, version: str
) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=5)
        async with node_station(server.port, "OLD1", version, profiles=[STALE]) as box:
            await ready(server, "OLD1")
            seen = await desk.run("OLD1", "profiles", {})
            assert seen["status"] == "Accepted"
            composite = seen["payload"]["composite"]["1"]
            periods = (
                composite["chargingSchedule"] if version == "1.6" else composite["schedule"]
            )["chargingSchedulePeriod"]
            assert periods[0]["limit"] == 0
            if version == "2.0.1":
                ids = {p["id"] for p in seen["payload"]["profiles"]}
                assert ids == {7, DENY_PROFILE_ID}  # the stale one and ampshare's default-deny
            cleared = await desk.run("OLD1", "clear_profiles", {})
            assert cleared["status"] == "Accepted"
            assert await box.request("ClearChargingProfile") == {}
            after = await desk.run("OLD1", "profiles", {"connector_id": 1})
            assert after["status"] in ("Rejected", "NoProfiles"), after
            if version == "2.0.1":
                assert after["payload"]["profiles"] == []


@pytest.mark.parametrize("version", VERSIONS)
async def test_configuration_read_and_changed(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=5)
        async with node_station(server.port, "CFG", version) as _box:
            await ready(server, "CFG")
            got = await desk.run("CFG", "configuration", {})
            assert got["status"] == "Accepted"
            if version == "1.6":
                rows = {r["key"]: r["value"] for r in got["payload"]["configurationKey"]}
                assert rows["HeartbeatInterval"] == "300"
                key = "HeartbeatInterval"
            else:  # collected from two NotifyReport parts (tbc)
                names = {
                    f"{d['component']['name']}.{d['variable']['name']}"
                    for d in got["payload"]["reportData"]
                }
                assert {"OCPPCommCtrlr.HeartbeatInterval", "DisplayMessageCtrlr.Enabled"} <= names
                key = "OCPPCommCtrlr.HeartbeatInterval"
            changed = await desk.run("CFG", "configure", {"key": key, "value": "60"})
            assert changed["status"] == "RebootRequired"


async def test_display_messages_on_201(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=5)
        async with node_station(server.port, "DSP", "2.0.1") as _box:
            await ready(server, "DSP")
            shown = await desk.run("DSP", "display", {"message": "Solar surplus: 8 A", "id": 4})
            assert shown["status"] == "Accepted"
            listed = await desk.run("DSP", "display", {"operation": "get"})
            assert [m["message"]["content"] for m in listed["payload"]["messages"]] == [
                "Solar surplus: 8 A"
            ]
            gone = await desk.run("DSP", "display", {"operation": "clear", "id": 4})
            assert gone["status"] == "Accepted"
        async with node_station(server.port, "DSP16", "1.6") as _box:
            await ready(server, "DSP16")
            with pytest.raises(StationInputError):
                await desk.run("DSP16", "display", {"message": "hi"})


@pytest.mark.parametrize("version", VERSIONS)
async def test_rejected_answers_are_the_boxs(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=5)
        async with node_station(server.port, "REJ", version) as box:
            await ready(server, "REJ")
            await box.answer("Rejected")
            for action, params, _request in calls(version):
                answer = await desk.run("REJ", action, params)
                expected = {"unlock": "UnlockFailed", "clear_profiles": "Unknown"}
                assert answer["status"] == expected.get(action, "Rejected"), (action, answer)


@pytest.mark.parametrize("version", VERSIONS)
async def test_silent_and_offline_boxes(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path, response_timeout_s=0.5) as (server, _):
        desk = StationDesk(server, report_wait_s=1)
        with pytest.raises(StationOffline):
            await desk.run("NOBODY", "reset", {})
        async with node_station(server.port, "MUTE", version) as box:
            await ready(server, "MUTE")
            await box.answer("silent")
            with pytest.raises(StationTimeout):
                await desk.run("MUTE", "reset", {})
            with pytest.raises(StationTimeout):
                await desk.run("MUTE", "unlock", {"connector_id": 1})
            await box.send(close=True)
            await until(lambda: server.connection("MUTE") is None)
        with pytest.raises(StationOffline):
            await desk.run("MUTE", "reset", {})


@pytest.mark.parametrize("version", VERSIONS)
async def test_bad_parameters_all_at_once(tmp_path: Path, version: str) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server, report_wait_s=1)
        async with node_station(server.port, "BAD", version) as box:
            await ready(server, "BAD")
            with pytest.raises(StationInputError) as err:
                await desk.run(
                    "BAD", "reserve", {"connector_id": -1, "minutes": "ten", "colour": "red"}
                )
            fields = sorted(e["field"] for e in err.value.errors)
            assert fields == ["colour", "connector_id", "id_tag", "minutes"]
            with pytest.raises(StationInputError) as err:
                await desk.run("BAD", "reset", {"type": "Hard" if version == "2.0.1" else "Now"})
            assert err.value.errors[0]["field"] == "type"
            with pytest.raises(StationInputError):
                await desk.run("BAD", "trigger", {"message": "Coffee"})
            with pytest.raises(KeyError):
                await desk.run("BAD", "explode", {})
            assert not box.requests("Reset") and not box.requests("ReserveNow")
    assert set(ACTIONS) >= {"profiles", "clear_profiles", "configuration", "display"}
