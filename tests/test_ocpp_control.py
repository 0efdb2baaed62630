"""Nothing charges without ampshare's permission: unknown boxes, boxes that refuse profiles,
set-up right after connecting, multi-connector deactivation and ChargePointMaxProfile boxes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from test_ocpp_support import connect, ready, running_server, until
from test_ocpp_support import evse as support_evse

from devices.ocpp.evse import NOT_UNDER_CONTROL, RELEASE_A, OcppEvse
from devices.ocpp.state import DEFAULT_PROFILE_BASE, DENY_PROFILE_ID, MAX_PROFILE_ID
from manager.model import DeviceError
from web.reasons import localize, localize_reason

START16 = {
    "connector_id": 1,
    "id_tag": "ANY",
    "meter_start": 0,
    "timestamp": "2026-03-01T10:00:00Z",
}


def evse(server: Any, cb_id: str = "BOX1", connector: int = 1, **opts: Any) -> OcppEvse:
    return support_evse(server, cb_id, connector_id=connector, **opts)


def started201(tx: str = "tx-1", **extra: Any) -> Any:
    return call201.TransactionEvent(
        event_type="Started",
        timestamp="2026-03-01T10:00:00Z",
        trigger_reason="Authorized",
        seq_no=0,
        transaction_info={"transaction_id": tx},
        evse={"id": 1, "connector_id": 1},
        **extra,
    )


# ---------------------------------------------------------------- unknown boxes


async def test_unknown_16_box_is_never_authorized_nor_stored(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        async with connect(server.port, "STRANGER") as box:
            await ready(server, "STRANGER")
            auth = await box.call(call16.Authorize(id_tag="ANY"))
            assert auth.id_tag_info["status"] == "Invalid"
            for _ in range(3):
                start = await box.call(call16.StartTransaction(**START16))
                assert start.id_tag_info["status"] == "Invalid"
        assert hooks.sessions.list() == []  # an unconfigured box stores nothing
        refused = [m for k, m, _ in hooks.seen if k == "transaction_refused"]
        assert len(refused) == 2  # once for Authorize, once for StartTransaction
        assert "not configured" in refused[0]


async def test_unknown_box_refusing_the_deny_profile_is_stopped(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(server.port, "STRANGER", profile_status="Rejected") as box:
            await ready(server, "STRANGER")
            start = await box.call(call16.StartTransaction(**START16))
            assert start.id_tag_info["status"] == "Invalid"
            stop = await box.expect("RemoteStopTransaction")
            assert stop["transaction_id"] == start.transaction_id
            # an unconfigured box is not switched off: it may be someone else's
            assert not [a for a, _ in box.log if a == "ChangeAvailability"]
        assert "profile_rejected" in hooks.kinds()  # an event, not only a log line
        assert hooks.sessions.list() == []


async def test_unknown_201_station_is_never_authorized_nor_stored(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        async with connect(server.port, "CS9", version="2.0.1", profile_status="Rejected") as cs:
            await ready(server, "CS9")
            token = {"id_token": "ANY", "type": "ISO14443"}
            auth = await cs.call(call201.Authorize(id_token=token))
            assert auth.id_token_info["status"] == "Invalid"
            res = await cs.call(started201(id_token=token))
            assert res.id_token_info["status"] == "Invalid"
            res = await cs.call(started201("tx-2"))  # no token at all: still refused
            assert res.id_token_info["status"] == "Invalid"
            stop = await cs.expect("RequestStopTransaction")
            assert stop["transaction_id"] == "tx-1"
        assert hooks.sessions.list() == []
        assert "transaction_refused" in hooks.kinds()


async def test_box_given_back_to_its_own_control_may_charge(tmp_path: Path) -> None:
    # switched off with "cancel charging current limit": configured, but no driver attached
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        hooks.released.add("BOX1")
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            assert not [a for a, _ in box.log if a == "SetChargingProfile"]
            start = await box.call(call16.StartTransaction(**START16))
            assert start.id_tag_info["status"] == "Accepted"
        assert len(hooks.sessions.list()) == 1


# ---------------------------------------------------------------- known boxes out of control


async def test_known_box_refusing_profiles_is_stopped_and_switched_off(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        wallbox = evse(server)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            running = await box.call(call16.StartTransaction(**START16))
            assert running.id_tag_info["status"] == "Accepted"
        # the box comes back with a firmware that refuses every charging profile
        async with connect(server.port, "BOX1", boot=False, profile_status="NotSupported") as box:
            avail = await box.expect("ChangeAvailability")
            assert avail == {"connector_id": 0, "type": "Inoperative"}
            await ready(server, "BOX1")
            stops = [p["transaction_id"] for a, p in box.log if a == "RemoteStopTransaction"]
            assert stops == [running.transaction_id]
            reading = await wallbox.read()
            assert reading.detail == NOT_UNDER_CONTROL
            auth = await box.call(call16.Authorize(id_tag="ANY"))
            assert auth.id_tag_info["status"] == "Invalid"
            start = await box.call(
                call16.StartTransaction(**{**START16, "timestamp": "2026-03-01T11:00:00Z"})
            )
            assert start.id_tag_info["status"] == "Invalid"
            await box.expect("RemoteStopTransaction", lambda p: p["transaction_id"] != stops[0])
        assert hooks.kinds().count("not_under_control") == 1
        assert "profile_rejected" in hooks.kinds()


async def test_box_taking_only_charge_point_max_profile_is_limited(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        wallbox = evse(server)
        purposes = {"ChargePointMaxProfile"}
        async with connect(server.port, "BOX1", purposes=purposes) as box:
            await ready(server, "BOX1")
            deny = box.profiles[MAX_PROFILE_ID]
            assert deny["connector_id"] == 0 and box.limit(MAX_PROFILE_ID) == 0
            await wallbox.apply(10, 3)
            assert box.limit(MAX_PROFILE_ID) == 10.0
            assert (await wallbox.read()).detail is None
            start = await box.call(call16.StartTransaction(**START16))
            assert start.id_tag_info["status"] == "Accepted"  # under control: may charge
            assert await wallbox.deactivate() == "profiles cleared"
            assert box.profiles == {}
        assert "not_under_control" not in hooks.kinds()


async def test_201_station_taking_only_the_station_max_profile_is_limited(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = support_evse(server, "CS1")
        purposes = {"ChargingStationMaxProfile"}
        async with connect(server.port, "CS1", version="2.0.1", purposes=purposes) as cs:
            await ready(server, "CS1")
            assert cs.profiles[MAX_PROFILE_ID]["evse_id"] == 0
            await wallbox.apply(9, 3)
            assert cs.limit(MAX_PROFILE_ID) == 9.0
            assert await wallbox.deactivate() == "profiles cleared"
            assert cs.profiles == {}
        assert "not_under_control" not in hooks.kinds()


async def test_max_profile_option_skips_tx_default(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server, max_profile=True)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            await wallbox.apply(7, 1)
            purposes = {
                p["charging_profile_purpose"] for a, p in box.log if a == "SetChargingProfile"
            }
            assert purposes == {"ChargePointMaxProfile"}
            assert box.limit(MAX_PROFILE_ID) == 7.0


# ---------------------------------------------------------------- set-up at connect


async def test_setup_and_setpoint_at_connect_without_the_box_speaking(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        with pytest.raises(DeviceError, match="not connected"):
            await wallbox.apply(9, 3)  # before the box is there: remembered
        async with connect(server.port, "BOX1", boot=False, status=False) as box:
            deny = await box.expect("SetChargingProfile")
            assert deny["connector_id"] == 0 and deny["charging_profile_id"] == DENY_PROFILE_ID
            setpoint = await box.expect("SetChargingProfile")
            assert setpoint["connector_id"] == 1
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 9.0


async def test_apply_during_setup_neither_fails_nor_is_lost(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(
            server.port, "BOX1", boot=False, status=False, silent={"GetConfiguration"}
        ):
            await until(lambda: server.connection("BOX1") is not None)
            for _ in range(3):
                await wallbox.apply(6, 1)  # no "waiting for its first message" every cycle
            assert server.connection("BOX1").ready is False


# ---------------------------------------------------------------- multi-connector, 2.0.1


async def test_deactivating_one_connector_of_two_releases_it(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        one, two = evse(server, connector=1), evse(server, connector=2)
        async with connect(server.port, "BOX1", config={"NumberOfConnectors": "2"}) as box:
            await ready(server, "BOX1")
            await one.apply(10, 3)
            await two.apply(12, 3)
            assert await one.deactivate() == "profiles cleared"
            # the box-wide default-deny stays for connector 2 ...
            assert box.limit(DENY_PROFILE_ID) == 0
            assert box.limit(DEFAULT_PROFILE_BASE + 2) == 12.0
            # ... and connector 1 is not left blocked by it
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == RELEASE_A


async def test_switching_on_again_reinstalls_the_box_wide_deny(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            await wallbox.apply(10, 3)
            assert await wallbox.deactivate() == "profiles cleared"
            assert box.profiles == {}
            await wallbox.apply(8, 3)
            assert box.limit(DENY_PROFILE_ID) == 0
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 8.0


async def test_201_deactivation_clears_every_profile_of_ours(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = support_evse(server, "CS1", tx_profile=True)
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await ready(server, "CS1")
            await wallbox.apply(10, 3)
            await cs.call(started201())
            await wallbox.apply(11, 3)  # a TxProfile for the running transaction
            assert len(cs.profiles) == 3
            assert await wallbox.deactivate() == "profiles cleared"
            assert cs.profiles == {}


async def test_201_one_failed_clear_does_not_keep_the_other_profiles(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = support_evse(server, "CS1")
        fails = {DEFAULT_PROFILE_BASE + 1}
        async with connect(server.port, "CS1", version="2.0.1", clear_fails=fails) as cs:
            await ready(server, "CS1")
            await wallbox.apply(10, 3)
            assert set(cs.profiles) == {DENY_PROFILE_ID, DEFAULT_PROFILE_BASE + 1}
            assert await wallbox.deactivate() == "profiles cleared"
            assert DENY_PROFILE_ID not in cs.profiles  # cleared although the first one failed
            assert await wallbox.deactivate() == "profiles cleared"  # and again: all gone
            assert cs.profiles == {}


def test_tile_detail_reads_in_german() -> None:
    assert localize_reason(NOT_UNDER_CONTROL, "de").startswith("nicht unter Kontrolle")
    state = {"evses": [{"detail": "profile rejected: box answered Rejected"}]}
    assert localize(state, "de")["evses"][0]["detail"] == (
        "Ladeprofil abgelehnt: Box antwortete Rejected"
    )
