"""OCPP 2.0.1 against the real server with charging stations built on the `ocpp` library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.v201 import call
from test_ocpp_support import connect, ready, running_server
from test_ocpp_support import evse as support_evse

from devices.ocpp.evse import NOT_UNDER_CONTROL, OcppEvse
from devices.ocpp.state import DEFAULT_PROFILE_BASE, DENY_PROFILE_ID
from manager.model import ChargeStatus


def evse(server: Any, cb_id: str = "CS1", **opts: Any) -> OcppEvse:
    return support_evse(server, cb_id, **opts)


def tx_event(kind: str, seq: int, meter_wh: float | None = None, **extra: Any) -> Any:
    values = None
    if meter_wh is not None:
        values = [
            {
                "timestamp": "2026-03-01T10:00:00Z",
                "sampled_value": [
                    {"value": meter_wh, "measurand": "Energy.Active.Import.Register"},
                    {"value": 10.2, "measurand": "Current.Import", "phase": "L1"},
                    {"value": 10.1, "measurand": "Current.Import", "phase": "L2"},
                    {"value": 0.0, "measurand": "Current.Import", "phase": "L3"},
                    {
                        "value": 4.6,
                        "measurand": "Power.Active.Import",
                        "unit_of_measure": {"unit": "kW"},
                    },
                ],
            }
        ]
    return call.TransactionEvent(
        event_type=kind,
        timestamp=extra.pop("timestamp", "2026-03-01T10:00:00Z"),
        trigger_reason=extra.pop("trigger_reason", "Authorized"),
        seq_no=seq,
        transaction_info={"transaction_id": "tx-42", **extra.pop("info", {})},
        meter_value=values,
        **extra,
    )


async def test_boot_default_deny_on_evse_0_and_meter_setup(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(
            server.port, "CS1", version="2.0.1", reject_measurands={"Voltage"}
        ) as cs:
            await cs.expect("GetVariables")
            deny = await cs.expect("SetChargingProfile")
            assert deny["evse_id"] == 0
            assert deny["id"] == DENY_PROFILE_ID
            assert deny["stack_level"] == 2
            assert deny["charging_profile_purpose"] == "TxDefaultProfile"
            assert deny["charging_schedule"][0]["charging_schedule_period"][0]["limit"] == 0
            await ready(server, "CS1")
            assert cs.variables["TxUpdatedInterval"] == "10"
            assert cs.variables["TxUpdatedMeasurands"] == (
                "Energy.Active.Import.Register,Power.Active.Import,Current.Import"
            )
            (cp,) = server.charge_points()
            assert cp["protocol"] == "2.0.1" and cp["vendor"] == "Vend" and cp["model"] == "M2"
        assert "charge_point_connected" in hooks.kinds()


async def test_prefers_201_when_both_offered(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        async with connect(
            server.port, "CS1", version="2.0.1", subprotocols=["ocpp1.6", "ocpp2.0.1"]
        ):
            assert server.charge_points()[0]["protocol"] == "2.0.1"


async def test_setpoint_and_deactivate(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await ready(server, "CS1")
            await wallbox.apply(13.37, 3)
            prof = cs.profiles[DEFAULT_PROFILE_BASE + 1]
            assert prof["evse_id"] == 1
            assert cs.limit(DEFAULT_PROFILE_BASE + 1) == 13.4
            await wallbox.apply(13.4, 3)
            assert len([a for a, _ in cs.log if a == "SetChargingProfile"]) == 2
            assert await wallbox.deactivate() == "profiles cleared"
            assert cs.profiles == {}


async def test_rejected_profile_reason_is_shown(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = evse(server)
        async with connect(server.port, "CS1", version="2.0.1", profile_status="Rejected"):
            await ready(server, "CS1")
            await wallbox.apply(8, 1)
            assert (await wallbox.read()).detail == NOT_UNDER_CONTROL
            texts = [m for k, m, _ in hooks.seen if k == "profile_rejected"]
            assert texts[-1].endswith(
                "profile rejected: box answered Rejected (InvalidSchedule limit too low)"
            )
            assert "not_under_control" in hooks.kinds()


async def test_transaction_events_record_one_session(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="known") as (server, hooks):
        hooks.tags.add("RFID1")
        wallbox = evse(server)
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            auth = await cs.call(call.Authorize(id_token={"id_token": "RFID1", "type": "ISO14443"}))
            assert auth.id_token_info["status"] == "Accepted"
            started = await cs.call(
                tx_event(
                    "Started",
                    0,
                    2000,
                    id_token={"id_token": "RFID1", "type": "ISO14443"},
                    evse={"id": 1, "connector_id": 1},
                    info={"charging_state": "Charging"},
                )
            )
            assert started.id_token_info["status"] == "Accepted"
            await cs.call(tx_event("Started", 0, 2000, evse={"id": 1, "connector_id": 1}))
            reading = await wallbox.read()
            assert reading.status == ChargeStatus.CHARGING
            assert reading.current_a == (10.2, 10.1, 0.0)
            assert reading.power_w == 4600.0
            assert reading.user == "RFID1"
            await cs.call(tx_event("Updated", 1, 5000, trigger_reason="MeterValuePeriodic"))
            assert (await wallbox.read()).session_wh == 3000.0
            signed = {
                "value": 9000,
                "context": "Transaction.End",
                "measurand": "Energy.Active.Import.Register",
                "signed_meter_value": {
                    "signed_meter_data": "T0NNRnx7fQ==",
                    "signing_method": "ECDSA-secp256r1-SHA256",
                    "encoding_method": "OCMF",
                    "public_key": "",
                },
            }
            ended = call.TransactionEvent(
                event_type="Ended",
                timestamp="2026-03-01T11:00:00Z",
                trigger_reason="EVCommunicationLost",
                seq_no=2,
                transaction_info={"transaction_id": "tx-42", "stopped_reason": "EVDisconnected"},
                meter_value=[{"timestamp": "2026-03-01T11:00:00Z", "sampled_value": [signed]}],
            )
            await cs.call(ended)
            await cs.call(ended)  # repeated: harmless
            bad = await cs.call(call.Authorize(id_token={"id_token": "NOPE", "type": "ISO14443"}))
            assert bad.id_token_info["status"] == "Invalid"
        (row,) = hooks.sessions.list()
        assert (row["evse"], row["connector"], row["id_tag"]) == ("CS1", 1, "RFID1")
        assert row["energy_wh"] == 7000.0
        assert row["stop_reason"] == "EVDisconnected"
        assert row["signed_data"][0]["signedMeterValue"]["signedMeterData"] == "T0NNRnx7fQ=="


async def test_status_and_meter_values_fast_path(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        wallbox = evse(server)
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await cs.call(
                call.StatusNotification(
                    timestamp="2026-03-01T10:00:00Z",
                    connector_status="Occupied",
                    evse_id=1,
                    connector_id=1,
                )
            )
            await cs.call(
                call.MeterValues(
                    evse_id=1,
                    meter_value=[
                        {
                            "timestamp": "2026-03-01T10:00:00Z",
                            "sampled_value": [
                                {"value": 7.5, "unit_of_measure": {"unit": "kWh"}},
                                {"value": 230.1, "measurand": "Voltage", "phase": "L1-N"},
                            ],
                        }
                    ],
                )
            )
            reading = await wallbox.read()
            assert reading.status == ChargeStatus.CONNECTED
            assert reading.energy_wh == 7500.0
            assert reading.voltage_v[0] == 230.1
            hb = await cs.call(call.Heartbeat())
            assert hb.current_time.endswith("Z")


async def test_other_messages_are_answered(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            res = await cs.call(call.DataTransfer(vendor_id="acme"))
            assert res.status == "UnknownVendorId"
            await cs.call(call.FirmwareStatusNotification(status="Installed"))
            await cs.call(call.LogStatusNotification(status="Idle"))
            await cs.call(
                call.SecurityEventNotification(
                    type="TamperDetectionActivated", timestamp="2026-03-01T10:00:00Z"
                )
            )
            await cs.call(
                call.NotifyReport(request_id=1, generated_at="2026-03-01T10:00:00Z", seq_no=0)
            )
            await cs.call(
                call.NotifyEvent(
                    generated_at="2026-03-01T10:00:00Z",
                    seq_no=0,
                    event_data=[
                        {
                            "event_id": 1,
                            "timestamp": "2026-03-01T10:00:00Z",
                            "trigger": "Delta",
                            "actual_value": "Faulted",
                            "event_notification_type": "HardWiredNotification",
                            "component": {"name": "Connector"},
                            "variable": {"name": "AvailabilityState"},
                        }
                    ],
                )
            )
            await cs.call(
                call.NotifyChargingLimit(charging_limit={"charging_limit_source": "SO"}, evse_id=1)
            )
        assert "security_event" in hooks.kinds()
