"""OCPP 1.6J against the real server with charge points built on the `ocpp` library."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
from ocpp.v16 import call
from ports import free_port
from test_ocpp_support import connect, ready, running_server, until
from test_ocpp_support import evse as support_evse

from devices.ocpp.evse import NOT_UNDER_CONTROL, OcppEvse
from devices.ocpp.settings import OcppSettings
from devices.ocpp.state import DEFAULT_PROFILE_BASE, DENY_PROFILE_ID, TX_PROFILE_BASE
from manager.model import ChargeStatus, DeviceError, Reason


def evse(server: Any, cb_id: str = "BOX1", **opts: Any) -> OcppEvse:
    return support_evse(server, cb_id, **opts)


async def test_boot_installs_default_deny_and_configures_meter(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(server.port, "BOX1", reject_measurands={"Voltage"}) as box:
            assert (await box.expect("GetConfiguration"))["key"]
            deny = await box.expect("SetChargingProfile")
            assert deny["connector_id"] == 0
            assert deny["charging_profile_id"] == DENY_PROFILE_ID
            assert deny["charging_profile_purpose"] == "TxDefaultProfile"
            assert deny["stack_level"] == 3  # the box's ChargeProfileMaxStackLevel
            assert deny["charging_schedule"]["charging_rate_unit"] == "A"
            assert deny["charging_schedule"]["charging_schedule_period"][0]["limit"] == 0
            # unknown box: any old per-connector profile of ours is removed
            await box.expect("ClearChargingProfile", lambda p: p["id"] == DEFAULT_PROFILE_BASE + 1)
            await ready(server, "BOX1")
            assert box.config["MeterValueSampleInterval"] == "10"
            assert box.config["MeterValuesSampledData"] == (
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import"
            )
            assert not [a for a, _ in box.log if a == "TriggerMessage"]
            (cp,) = server.charge_points()
            assert cp["id"] == "BOX1" and cp["vendor"] == "Vend" and cp["model"] == "M1"
            assert cp["connected"] is True and cp["protocol"] == "1.6" and cp["known"] is False
            assert cp["last_seen"]
        await until(lambda: not server.charge_points()[0]["connected"])
        assert hooks.kinds() == ["charge_point_connected", "charge_point_disconnected"]


async def test_missing_status_is_triggered(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with connect(server.port, "QUIET", status=False) as box:
            trig = await box.expect("TriggerMessage")
            assert trig["requested_message"] == "StatusNotification"


async def test_setpoints_only_on_change(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            box.drain()
            await wallbox.apply(16.04, 3)
            sent = await box.expect("SetChargingProfile")
            assert sent["connector_id"] == 1
            assert sent["charging_profile_id"] == DEFAULT_PROFILE_BASE + 1
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 16.0
            assert sent["charging_schedule"]["charging_schedule_period"][0]["number_phases"] == 3
            await wallbox.apply(16.0, 3)
            await box.call(call.Heartbeat())
            assert box.drain() == []
            await wallbox.apply(6.5, 1)
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 6.5
            await wallbox.apply(0, 1)
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 0
        # a reconnect makes the next apply send again
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            await wallbox.apply(0, 1)
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 0
        await until(lambda: server.connection("BOX1") is None)
        with pytest.raises(DeviceError, match="not connected"):
            await wallbox.apply(8, 3)
        with pytest.raises(DeviceError, match="not connected"):
            await wallbox.read()


async def test_known_box_keeps_its_profile_at_boot(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        evse(server)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            assert not [a for a, _ in box.log if a == "ClearChargingProfile"]


async def test_quirks_stack_level_relative_watts(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server, stack_level=0, relative_profiles=True, power_unit=True)
        async with connect(server.port, "BOX1") as box:
            deny = await box.expect("SetChargingProfile")
            assert deny["stack_level"] == 0
            assert deny["charging_profile_kind"] == "Relative"
            assert "start_schedule" not in deny["charging_schedule"]
            assert deny["charging_schedule"]["charging_rate_unit"] == "W"
            await ready(server, "BOX1")
            await wallbox.apply(10, 3)
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 6900.0


async def test_watts_only_box_gets_watts(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        opts = {"config": {"ChargingScheduleAllowedChargingRateUnit": "Power"}}
        async with connect(server.port, "BOX1", **opts) as box:
            await ready(server, "BOX1")
            await wallbox.apply(6, 1)
            assert box.limit(DEFAULT_PROFILE_BASE + 1) == 1380.0


async def test_rejected_profile_is_shown_and_reported_once(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = evse(server)
        async with connect(server.port, "BOX1", profile_status="Rejected") as box:
            await ready(server, "BOX1")
            await wallbox.apply(10, 3)
            await wallbox.apply(10, 3)
            reading = await wallbox.read()
            assert reading.detail == NOT_UNDER_CONTROL
            assert hooks.kinds().count("profile_rejected") == 2  # default-deny and setpoint
            assert hooks.kinds().count("not_under_control") == 1
            box.profile_status = "Accepted"
            await wallbox.apply(11, 3)
            assert (await wallbox.read()).detail is None
            assert "under_control" in hooks.kinds()
            # the box was set Inoperative while it was out of control, and Operative again
            kinds = [p["type"] for a, p in box.log if a == "ChangeAvailability"]
            assert kinds == ["Inoperative", "Operative"]


async def test_tx_profile_quirk_limits_running_transaction(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server, tx_profile=True)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            start = await box.call(
                call.StartTransaction(
                    connector_id=1, id_tag="T1", meter_start=0, timestamp="2026-03-01T10:00:00Z"
                )
            )
            await wallbox.apply(12, 3)
            prof = box.profiles[TX_PROFILE_BASE + 1]
            assert prof["charging_profile_purpose"] == "TxProfile"
            assert prof["transaction_id"] == start.transaction_id
            assert (await wallbox.deactivate()).code == "profiles_cleared"
            cleared = [p["id"] for a, p in box.log if a == "ClearChargingProfile"]
            assert TX_PROFILE_BASE + 1 in cleared


async def test_read_reports_status_and_lenient_meter_values(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "BOX1") as box:
            await box.call(
                call.StatusNotification(connector_id=1, error_code="NoError", status="Charging")
            )
            values = [
                {"value": "12.5", "measurand": "Energy.Active.Import.Register", "unit": "kWh"},
                {"value": "7.36", "measurand": "Power.Active.Import", "unit": "kW"},
                {"value": "16.1", "measurand": "Current.Import", "phase": "L1", "unit": "A"},
                {"value": "0", "measurand": "Current.Import", "phase": "L2-N", "unit": "A"},
                {"value": "0.0", "measurand": "Current.Import", "phase": "L3", "unit": "A"},
                {"value": "229.5", "measurand": "Voltage", "phase": "L1-N", "unit": "V"},
                {"value": "50.0", "measurand": "Frequency", "unit": "Hz"},
            ]
            await box.call(
                call.MeterValues(
                    connector_id=1,
                    meter_value=[{"timestamp": "2026-03-01T10:00:00Z", "sampled_value": values}],
                ),
                skip_schema_validation=True,
            )
            reading = await wallbox.read()
            assert reading.status == ChargeStatus.CHARGING
            assert reading.current_a == (16.1, 0.0, 0.0)
            assert reading.power_w == 7360.0
            assert reading.energy_wh == 12500.0
            assert reading.voltage_v[0] == 229.5
            await box.call(
                call.StatusNotification(
                    connector_id=1, error_code="GroundFailure", status="Faulted"
                )
            )
            reading = await wallbox.read()
            assert reading.status == ChargeStatus.ERROR
            assert reading.detail == Reason("box_reports", {"code": "GroundFailure"})


async def test_deactivate_answers_in_words(tmp_path: Path) -> None:
    settings = {"response_timeout_s": 0.5}
    async with running_server(tmp_path, **settings) as (server, hooks):
        wallbox = evse(server)
        assert (await wallbox.deactivate()).code == "box_not_connected"
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            await wallbox.apply(16, 3)
            assert (await wallbox.deactivate()).code == "profiles_cleared"
            assert box.profiles == {}
            assert (await wallbox.read()).detail == Reason("profiles_cleared")
            # one event per hand-back, logged by the manager with this result: none of its own
            assert "profiles_cleared" not in hooks.kinds()
            # the box forgot them: Unknown
            assert await wallbox.deactivate() == Reason("box_answered", {"status": "Unknown"})
            box.silent.add("ClearChargingProfile")
            assert (await wallbox.deactivate()).code == "box_no_answer"


async def test_deactivated_box_gets_no_default_deny_on_reconnect(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "BOX1"):
            await ready(server, "BOX1")
            assert (await wallbox.deactivate()).code == "profiles_cleared"
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            assert not [a for a, _ in box.log if a == "SetChargingProfile"]
            await wallbox.apply(7, 3)  # managed again
        async with connect(server.port, "BOX1") as box:
            await box.expect("SetChargingProfile", lambda p: p["connector_id"] == 0)


async def test_box_disabled_in_config_stays_released_after_a_restart(tmp_path: Path) -> None:
    # a fresh server (ampshare restarted) knows the box only from the configuration
    async with running_server(tmp_path) as (server, hooks):
        hooks.released.add("BOX1")
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            assert not [a for a, _ in box.log if a == "SetChargingProfile"]


async def test_setpoint_timeout_raises_device_error(tmp_path: Path) -> None:
    async with running_server(tmp_path, response_timeout_s=0.3) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            box.silent.add("SetChargingProfile")
            with pytest.raises(DeviceError, match="did not answer"):
                await wallbox.apply(10, 3)


async def test_transactions_and_sessions(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="known") as (server, hooks):
        hooks.tags.add("GOOD")
        evse(server)
        async with connect(server.port, "BOX1") as box:
            good = await box.call(call.Authorize(id_tag="GOOD"))
            bad = await box.call(call.Authorize(id_tag="BAD"))
            assert good.id_tag_info["status"] == "Accepted"
            assert bad.id_tag_info["status"] == "Invalid"
            start = call.StartTransaction(
                connector_id=1, id_tag="GOOD", meter_start=1000, timestamp="2026-03-01T10:00:00Z"
            )
            first = await box.call(start)
            again = await box.call(start)  # resent after a network failure
            assert first.transaction_id == again.transaction_id
            assert first.id_tag_info["status"] == "Accepted"
            signed = {"value": "OCMF|{...}", "format": "SignedData", "context": "Transaction.End"}
            stop = call.StopTransaction(
                meter_stop=8000,
                timestamp="2026-03-01T11:00:00Z",
                transaction_id=first.transaction_id,
                reason="EVDisconnected",
                transaction_data=[{"timestamp": "2026-03-01T11:00:00Z", "sampled_value": [signed]}],
            )
            await box.call(stop)
            await box.call(stop)  # repeated: harmless
            other = await box.call(
                call.StartTransaction(
                    connector_id=1, id_tag="BAD", meter_start=8000, timestamp="2026-03-01T12:00:00Z"
                )
            )
            assert other.id_tag_info["status"] == "Invalid"
            assert other.transaction_id != first.transaction_id
        rows = hooks.sessions.list()
        assert len(rows) == 2
        row = rows[0]
        assert row["id"] == first.transaction_id
        assert (row["evse"], row["connector"], row["id_tag"]) == ("BOX1", 1, "GOOD")
        assert row["energy_wh"] == 7000.0
        assert row["stop_reason"] == "EVDisconnected"
        assert row["signed_data"] == [signed]  # untouched, camelCase keys and all
    # transaction ids stay unique after a restart
    async with running_server(tmp_path) as (server, hooks):
        evse(server)
        async with connect(server.port, "BOX1") as box:
            res = await box.call(
                call.StartTransaction(
                    connector_id=1, id_tag="X", meter_start=0, timestamp="2026-03-02T10:00:00Z"
                )
            )
            assert res.transaction_id > other.transaction_id


async def test_offline_messages_arrive_late_in_order(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        evse(server)
        async with connect(server.port, "BOX1") as box:
            res = await box.call(
                call.StartTransaction(
                    connector_id=1, id_tag="T", meter_start=0, timestamp="2025-12-31T23:00:00Z"
                )
            )
            await box.call(
                call.MeterValues(
                    connector_id=1,
                    transaction_id=res.transaction_id,
                    meter_value=[
                        {
                            "timestamp": "2025-12-31T23:30:00Z",
                            "sampled_value": [{"value": "1500"}],
                        }
                    ],
                )
            )
            await box.call(
                call.StopTransaction(
                    meter_stop=3000,
                    timestamp="2026-01-01T00:30:00Z",
                    transaction_id=res.transaction_id,
                )
            )
        (row,) = hooks.sessions.list()
        assert row["started_at"].startswith("2025-12-31T23:00")
        assert row["energy_wh"] == 3000.0


async def test_unknown_tags_accepted_by_policy(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, _):
        evse(server)
        async with connect(server.port, "BOX1") as box:
            res = await box.call(call.Authorize(id_tag="ANY"))
            assert res.id_tag_info["status"] == "Accepted"


async def test_reconnect_replaces_old_connection(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(server.port, "BOX1") as old:
            async with connect(server.port, "BOX1", boot=False) as new:
                await until(lambda: old._connection.state.name == "CLOSED")
                assert server.connection("BOX1") is not None
                await new.call(call.Heartbeat())
                assert server.charge_points()[0]["connected"] is True
            await until(lambda: not server.charge_points()[0]["connected"])
        assert hooks.kinds().count("charge_point_connected") == 1
        assert hooks.kinds().count("charge_point_disconnected") == 1


async def test_no_subprotocol_is_16_and_id_from_last_segment(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with connect(server.port, "Wall%20Box%2F7", prefix="/a/b/c/", subprotocols=[]):
            await until(lambda: server.connection("Wall Box/7") is not None)
            assert server.charge_points()[0]["protocol"] == "1.6"


async def test_unsupported_subprotocol_is_closed(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        with pytest.raises(Exception):  # noqa: B017 - websockets refuses or closes
            async with connect(server.port, "BOX9", subprotocols=["ocpp1.5"]):
                pass
        assert server.connection("BOX9") is None


async def test_settings_reopen_listener_and_stop_is_idempotent(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        old_port = server.port
        async with connect(server.port, "BOX1") as box:
            # not a listener setting: the connection stays, the new value is used at once
            await server.apply_settings(OcppSettings(host="127.0.0.1", port=0, heartbeat_s=60))
            assert server.port == old_port
            reply = await box.call(
                call.BootNotification(charge_point_vendor="V", charge_point_model="M")
            )
            assert reply.interval == 60
        new_port = free_port()
        await server.apply_settings(OcppSettings(host="127.0.0.1", port=new_port))
        assert server.port == new_port
        async with connect(new_port, "BOX1") as box:
            await box.call(call.Heartbeat())
        await server.stop()
        await server.stop()


async def test_port_in_use_keeps_old_listener(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with running_server(tmp_path / "other") as (other, _):
            port = server.port
            with pytest.raises(ValueError, match="port"):
                await other.apply_settings(OcppSettings(host="127.0.0.1", port=port))
            async with connect(other.port, "BOX2"):
                pass


async def test_slow_charge_point_does_not_delay_others(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with connect(server.port, "SLOW", status=False, silent={"GetConfiguration"}):
            async with connect(server.port, "FAST") as fast:
                await fast.expect("SetChargingProfile")
                for _ in range(3):
                    await fast.call(call.Heartbeat())
                await ready(server, "FAST")
            conn = server.connection("SLOW")
            assert conn is not None and not conn._followup.done()
        await asyncio.sleep(0)
