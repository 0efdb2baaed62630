"""OCPP 2.0.1 cost and display: running cost (CostUpdated) and the total at the end, stored
with the session; the current reason on the box's display."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from station_support import node_station
from test_ocpp_support import evse, running_server, until

from devices.ocpp.station import StationDesk
from manager.station_display import MESSAGE_ID, ReasonDisplay


def event(kind: str, seq: int, wh: float) -> dict[str, Any]:
    return {
        "eventType": kind,
        "timestamp": "2026-01-01T10:00:00Z",
        "triggerReason": "MeterValuePeriodic" if kind == "Updated" else "Authorized",
        "seqNo": seq,
        "transactionInfo": {"transactionId": "TX-9", "chargingState": "Charging"},
        "evse": {"id": 1, "connectorId": 1},
        "meterValue": [
            {
                "timestamp": "2026-01-01T10:00:00Z",
                "sampledValue": [
                    {"value": wh, "measurand": "Energy.Active.Import.Register",
                     "unitOfMeasure": {"unit": "Wh"}}
                ],
            }
        ],
    }  # fmt: skip


async def test_running_cost_and_total_are_sent_and_stored(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        server.station.tariff_per_kwh = 0.30
        wallbox = evse(server, "COST1")
        async with node_station(server.port, "COST1", "2.0.1") as box:
            await until(lambda: (c := server.connection("COST1")) is not None and c.ready)
            await box.call("TransactionEvent", event("Started", 0, 1000))
            await box.call("TransactionEvent", event("Updated", 1, 3000))
            update = await box.request("CostUpdated")
            assert update == {"totalCost": 0.6, "transactionId": "TX-9"}
            ended = await box.call("TransactionEvent", event("Ended", 2, 4000))
            assert ended["result"]["totalCost"] == 0.9
        [session] = hooks.sessions.list()
        assert (session["energy_wh"], session["cost"], session["tariff_per_kwh"]) == (
            3000.0,
            0.9,
            0.30,
        )
        assert "0.9" in hooks.sessions.to_csv([session]).splitlines()[1].split(",")[-1]
        await wallbox.close()


async def test_no_tariff_no_cost(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        wallbox = evse(server, "COST2")
        async with node_station(server.port, "COST2", "2.0.1") as box:
            await until(lambda: (c := server.connection("COST2")) is not None and c.ready)
            await box.call("TransactionEvent", event("Started", 0, 1000))
            await box.call("TransactionEvent", event("Updated", 1, 3000))
            ended = await box.call("TransactionEvent", event("Ended", 2, 4000))
            assert "totalCost" not in ended["result"]
            assert not box.requests("CostUpdated")
        assert "cost" not in hooks.sessions.list()[0]
        await wallbox.close()


async def test_reason_shown_on_201_displays_only(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, _):
        desk = StationDesk(server)
        devices = [
            {"id": "wb1", "driver": "ocpp", "kind": "evse", "address": "SHOW", "connector_id": 1},
            {"id": "wb2", "driver": "ocpp", "kind": "evse", "address": "OLD16"},
        ]
        enabled = [False]
        show = ReasonDisplay(desk, lambda: devices, lambda: enabled[0])
        snapshot = {
            "evses": [
                {"id": "wb1", "name": "Garage", "reason": "Solar surplus: 8 A"},
                {"id": "wb2", "name": "Old", "reason": "no car"},
            ]
        }
        async with (
            node_station(server.port, "SHOW", "2.0.1") as box,
            node_station(server.port, "OLD16", "1.6") as old,
        ):
            for cb in ("SHOW", "OLD16"):
                await until(lambda cb=cb: (c := server.connection(cb)) is not None and c.ready)
            show(snapshot)  # option off: nothing
            enabled[0] = True
            show(snapshot)
            sent = await box.request("SetDisplayMessage")
            assert sent["message"]["id"] == MESSAGE_ID + 1
            assert sent["message"]["message"]["content"] == "Garage: Solar surplus: 8 A"
            show(snapshot)  # unchanged: not sent again
            await asyncio.sleep(0.2)
            assert len(box.requests("SetDisplayMessage")) == 1
            assert not old.requests("SetDisplayMessage")


async def test_box_ending_a_reservation_frees_the_wallbox(tmp_path: Path) -> None:
    async with running_server(tmp_path) as (server, hooks):
        ended: list[int] = []
        server.station.on_reservation_end = ended.append
        async with node_station(server.port, "RSV", "2.0.1") as box:
            await until(lambda: (c := server.connection("RSV")) is not None and c.ready)
            update = {"reservationId": 5, "reservationUpdateStatus": "Expired"}
            await box.call("ReservationStatusUpdate", update)
            assert ended == [5]
            assert "reservation" in hooks.kinds()
