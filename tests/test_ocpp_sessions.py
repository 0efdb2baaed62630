"""Sessions that real boxes leave incomplete: no start register, restarts, reboots, new ids."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ocpp.v16 import call as call16
from ocpp.v201 import call as call201
from test_ocpp_support import connect, ready, running_server, until
from test_ocpp_support import evse as support_evse


def tx_event(kind: str, tx: str, seq: int, energy_wh: float | None = None, **extra: Any) -> Any:
    values = None
    if energy_wh is not None:
        values = [
            {
                "timestamp": "2026-03-01T10:05:00Z",
                "sampled_value": [
                    {"value": energy_wh, "measurand": "Energy.Active.Import.Register"}
                ],
            }
        ]
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=extra.pop("timestamp", "2026-03-01T10:00:00Z"),
        trigger_reason=extra.pop("trigger_reason", "Authorized"),
        seq_no=seq,
        transaction_info={"transaction_id": tx, **extra.pop("info", {})},
        meter_value=values,
        **extra,
    )


def meter16(connector: int, energy_wh: float, tx: int | None = None) -> Any:
    return call16.MeterValues(
        connector_id=connector,
        transaction_id=tx,
        meter_value=[
            {"timestamp": "2026-03-01T10:30:00Z", "sampled_value": [{"value": str(energy_wh)}]}
        ],
    )


async def test_201_started_without_register_takes_the_first_reading(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = support_evse(server, "CS1")
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await cs.call(tx_event("Started", "t1", 0, evse={"id": 1, "connector_id": 1}))
            await cs.call(tx_event("Updated", "t1", 1, 10_000, trigger_reason="MeterValuePeriodic"))
            await cs.call(tx_event("Updated", "t1", 2, 12_500, trigger_reason="MeterValuePeriodic"))
            assert (await wallbox.read()).session_wh == 2500.0
            await cs.call(tx_event("Ended", "t1", 3, 14_000, timestamp="2026-03-01T11:00:00Z"))
        (row,) = hooks.sessions.list()
        assert row["meter_start_wh"] == 10_000.0
        assert row["energy_wh"] == 4000.0


async def test_running_transaction_survives_an_ampshare_restart(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, _):
        support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as box:
            start = await box.call(
                call16.StartTransaction(
                    connector_id=1,
                    id_tag="ALICE",
                    meter_start=1000,
                    timestamp="2026-03-01T10:00:00Z",
                )
            )
    # ampshare restarted: the box reconnects without booting and reports meter values
    async with running_server(tmp_path) as (server, hooks):
        wallbox = support_evse(server, "BOX1")
        async with connect(server.port, "BOX1", boot=False, status=False) as box:
            await box.call(meter16(1, 4000, start.transaction_id))
            reading = await wallbox.read()
            assert reading.user == "ALICE"
            assert reading.session_wh == 3000.0
            await box.call(
                call16.StopTransaction(
                    meter_stop=5000,
                    timestamp="2026-03-01T11:00:00Z",
                    transaction_id=start.transaction_id,
                )
            )
        (row,) = hooks.sessions.list()
        assert row["energy_wh"] == 4000.0 and row["stopped_at"] is not None


async def test_201_running_transaction_survives_an_ampshare_restart(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        support_evse(server, "CS1")
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            token = {"id_token": "BOB", "type": "ISO14443"}
            await cs.call(
                tx_event("Started", "t7", 0, 500, evse={"id": 1, "connector_id": 1}, id_token=token)
            )
    async with running_server(tmp_path) as (server, hooks):
        wallbox = support_evse(server, "CS1")
        async with connect(server.port, "CS1", version="2.0.1", boot=False, status=False) as cs:
            await cs.call(tx_event("Updated", "t7", 1, 2500, trigger_reason="MeterValuePeriodic"))
            reading = await wallbox.read()
            assert (reading.user, reading.session_wh) == ("BOB", 2000.0)
            await cs.call(tx_event("Ended", "t7", 2, 3000, timestamp="2026-03-01T11:00:00Z"))
        (row,) = hooks.sessions.list()
        assert row["energy_wh"] == 2500.0


async def test_box_rebooting_mid_session_closes_it(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        wallbox = support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as box:
            await ready(server, "BOX1")
            await box.call(
                call16.StartTransaction(
                    connector_id=1, id_tag="T", meter_start=0, timestamp="2026-03-01T10:00:00Z"
                )
            )
            await box.call(meter16(1, 2000))
            await box.call(
                call16.BootNotification(charge_point_vendor="Vend", charge_point_model="M1")
            )
            await until(lambda: hooks.sessions.list()[0]["stopped_at"] is not None)
            assert (await wallbox.read()).user is None
        (row,) = hooks.sessions.list()
        assert row["stop_reason"] == "Reboot" and row["energy_wh"] == 2000.0


async def test_201_power_loss_closes_the_session(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        support_evse(server, "CS1")
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await cs.call(tx_event("Started", "t1", 0, 100, evse={"id": 1, "connector_id": 1}))
            await cs.call(
                call201.BootNotification(
                    charging_station={"vendor_name": "Vend", "model": "M2"}, reason="PowerUp"
                )
            )
            await until(lambda: hooks.sessions.list()[0]["stopped_at"] is not None)
        assert hooks.sessions.list()[0]["stop_reason"] == "PowerLoss"


async def test_new_transaction_on_a_busy_evse_closes_the_old_one(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = support_evse(server, "CS1")
        async with connect(server.port, "CS1", version="2.0.1") as cs:
            await cs.call(tx_event("Started", "old", 0, 100, evse={"id": 1, "connector_id": 1}))
            await cs.call(
                tx_event(
                    "Started",
                    "new",
                    0,
                    900,
                    evse={"id": 1, "connector_id": 1},
                    timestamp="2026-03-01T10:30:00Z",
                )
            )
            assert (await wallbox.read()).session_wh == 0.0
        old, new = hooks.sessions.list()
        assert old["stopped_at"] is not None and old["energy_wh"] == 800.0
        assert new["stopped_at"] is None and new["meter_start_wh"] == 900.0


async def test_16_start_on_a_busy_connector_closes_the_old_session(tmp_path: Path) -> None:
    async with running_server(tmp_path, unknown_tags="accept") as (server, hooks):
        support_evse(server, "BOX1")
        async with connect(server.port, "BOX1") as box:
            for minute, meter in ((0, 100), (30, 900)):
                await box.call(
                    call16.StartTransaction(
                        connector_id=1,
                        id_tag="T",
                        meter_start=meter,
                        timestamp=f"2026-03-01T10:{minute:02d}:00Z",
                    )
                )
        old, new = hooks.sessions.list()
        assert old["stopped_at"] is not None and old["stop_reason"] == "Other"
        assert old["energy_wh"] == 800.0
        assert new["stopped_at"] is None
