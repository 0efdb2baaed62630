"""The OCPP gateway end to end: a real `ampshare serve` and the Node ocpp-rpc backend (strict)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from gateway_backend import INTEROP, Backend, node
from manager_process import ManagerProcess

pytestmark = pytest.mark.slow

MEASURANDS = "Energy.Active.Import.Register,Power.Active.Import,Current.Import,Voltage"
#: box.js authorizes a good and a bad tag through the gateway
AUTHORIZED = {"event": "authorized", "tag": "Accepted", "bad": "Invalid"}


@pytest.fixture
def backend() -> Iterator[Backend]:
    b = Backend(rejectTags=["BADCARD", "STAFF1"])
    try:
        yield b
    finally:
        b.stop()


def sim_box(backend: Backend, client_id: str = "GW1", **extra: Any) -> dict[str, Any]:
    return {
        "kind": "evse",
        "driver": "sim-evse",
        "id": "box",
        "name": "Carport",
        "car": "3p16",
        "max_current_a": 16,
        "gateway_url": backend.url,
        "gateway_client_id": client_id,
        "gateway_password": backend.cfg["password"],
        **extra,
    }


def evse(state: dict[str, Any], dev_id: str = "box") -> dict[str, Any]:
    return next(e for e in state["evses"] if e["id"] == dev_id)


def why(state: dict[str, Any], dev_id: str = "box") -> str:
    """The box's reason in words (English: the test's requests ask for no language)."""
    return str(evse(state, dev_id)["reason"]["text"])


def serve(path: Path) -> ManagerProcess:
    proc = ManagerProcess("serve", data_dir=path)
    proc.wait_ready()
    return proc


class NodeBox:
    """A scripted ocpp-rpc box (tests/interop) on ampshare's OCPP port, driven step by step:
    it prints one JSON event a line and waits for "go" between its phases."""

    def __init__(self, script: str, port: int, *args: str) -> None:
        self.script = script
        self.proc = subprocess.Popen(
            [node(), script, str(port), *args],
            cwd=INTEROP, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )  # fmt: skip
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.stdin, self.stdout = self.proc.stdin, self.proc.stdout

    def step(self, kind: str) -> dict[str, Any]:
        for _ in range(50):
            line = self.stdout.readline()
            assert line, f"{self.script} ended early"
            event = json.loads(line)
            assert event["event"] != "error", event
            if event["event"] == kind:
                return event  # type: ignore[no-any-return]
        raise AssertionError(f"no {kind}")

    def go(self) -> None:
        self.stdin.write("go\n")
        self.stdin.flush()

    def finish(self) -> None:
        """Let the script end and check that it ended well."""
        self.go()
        assert self.proc.wait(timeout=10) == 0

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=5)


def test_sim_box_appears_as_a_charge_point_and_is_capped(tmp_path: Path, backend: Backend) -> None:
    mgr = serve(tmp_path / "data")
    try:
        created = mgr.api.post("/api/devices", json=sim_box(backend))
        assert created.status_code == 201, created.text
        assert created.json()["gateway_password_set"] is True
        assert "gateway_password" not in created.json()

        boot = backend.wait("call", method="BootNotification", identity="GW1")
        assert boot["params"]["chargePointVendor"] == "ampshare"
        backend.wait("call", method="Authorize")
        start = backend.wait("call", method="StartTransaction")
        assert start["params"]["connectorId"] == 1
        assert backend.wait_until(
            lambda: any(
                c["params"]["status"] == "Charging" for c in backend.calls("StatusNotification")
            )
        )
        state = mgr.wait_for(lambda s: evse(s)["gateway"] and evse(s)["gateway"]["connected"])
        gw = evse(state)["gateway"]
        assert gw["error"] is None and gw["queued"] == 0 and gw["since"]

        # the backend configures meter values: kept and used
        for key, value in (
            ("MeterValueSampleInterval", "1"),
            ("MeterValuesSampledData", MEASURANDS),
        ):
            reply = backend.call("GW1", "ChangeConfiguration", {"key": key, "value": value})
            assert reply["result"]["status"] == "Accepted"
        bad = backend.call(
            "GW1", "ChangeConfiguration", {"key": "MeterValuesSampledData", "value": "SoC.Bogus"}
        )
        assert bad["result"]["status"] == "Rejected"
        mv = backend.wait_until(
            lambda: [
                c
                for c in backend.calls("MeterValues")
                if len(c["params"]["meterValue"][0]["sampledValue"]) >= 8
            ]
        )[0]
        assert mv["params"]["transactionId"] == 1000
        measurands = {s["measurand"] for s in mv["params"]["meterValue"][0]["sampledValue"]}
        assert measurands == set(MEASURANDS.split(","))
        conf = backend.call(
            "GW1", "GetConfiguration", {"key": ["MeterValueSampleInterval", "Nope"]}
        )
        assert conf["result"]["configurationKey"][0]["value"] == "1"
        assert conf["result"]["unknownKey"] == ["Nope"]

        # the backend's ChargePointMaxProfile becomes a cap on this box
        profile = {
            "connectorId": 0,
            "csChargingProfiles": {
                "chargingProfileId": 7,
                "stackLevel": 1,
                "chargingProfilePurpose": "ChargePointMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": {
                    "startSchedule": "2020-01-01T00:00:00Z",
                    "chargingRateUnit": "A",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 8.0}],
                },
            },
        }
        assert backend.call("GW1", "SetChargingProfile", profile)["result"]["status"] == "Accepted"
        state = mgr.wait_for(lambda s: evse(s)["setpoint_a"] <= 8.0 and "billing backend" in why(s))
        assert why(state) == "limited by the billing backend to 8 A"
        assert evse(state)["gateway"]["limit_a"] == 8.0
        composite = backend.call("GW1", "GetCompositeSchedule", {"connectorId": 0, "duration": 600})
        assert composite["result"]["status"] == "Accepted"
        assert composite["result"]["chargingSchedule"]["chargingSchedulePeriod"][0]["limit"] == 8.0
        clear = backend.call("GW1", "ClearChargingProfile", {"id": 7})
        assert clear["result"]["status"] == "Accepted"
        mgr.wait_for(lambda s: "billing backend" not in why(s))

        # a changed setting reconnects at once; the running transaction goes on
        boots = len(backend.calls("BootNotification"))
        assert mgr.api.patch("/api/devices/box", json={"name": "Carport 2"}).status_code == 200
        backend.wait_until(lambda: len(backend.calls("BootNotification")) > boots)
        assert not backend.calls("StopTransaction") and len(backend.calls("StartTransaction")) == 1

        # triggers and remote stop
        n = len(backend.calls("StatusNotification"))
        trig = backend.call("GW1", "TriggerMessage", {"requestedMessage": "StatusNotification"})
        assert trig["result"]["status"] == "Accepted"
        backend.wait_until(lambda: len(backend.calls("StatusNotification")) > n)
        for msg in ("MeterValues", "Heartbeat", "DiagnosticsStatusNotification",
                    "FirmwareStatusNotification", "BootNotification"):  # fmt: skip
            n = len(backend.calls(msg))
            trig = backend.call("GW1", "TriggerMessage", {"requestedMessage": msg})
            assert trig["result"]["status"] == "Accepted"
            backend.wait_until(lambda msg=msg, n=n: len(backend.calls(msg)) > n)
        stop = backend.call("GW1", "RemoteStopTransaction", {"transactionId": 1000})
        assert stop["result"]["status"] == "Accepted"
        ended = backend.wait("call", method="StopTransaction")
        assert ended["params"]["transactionId"] == 1000 and ended["params"]["reason"] == "Remote"
        mgr.wait_for(lambda s: why(s) == "stopped by the billing backend")
        unlock = backend.call("GW1", "UnlockConnector", {"connectorId": 1})
        assert unlock["result"]["status"] == "NotSupported"

        # a remote start with the backend's tag starts a new transaction (no Authorize needed)
        started = backend.call("GW1", "RemoteStartTransaction", {"idTag": "REMOTE1"})
        assert started["result"]["status"] == "Accepted"
        second = backend.wait_until(lambda: backend.calls("StartTransaction")[1:])[0]
        assert second["params"]["idTag"] == "REMOTE1"
        mgr.wait_for(lambda s: "billing backend" not in why(s))
        # a reset ends the transaction and boots again
        boots = len(backend.calls("BootNotification"))
        assert backend.call("GW1", "Reset", {"type": "Soft"})["result"]["status"] == "Accepted"
        backend.wait_until(lambda: len(backend.calls("BootNotification")) > boots)
        reset_stop = backend.calls("StopTransaction")[-1]["params"]
        assert reset_stop["transactionId"] == 1001 and reset_stop["reason"] == "SoftReset"

        # a box that does not answer is Faulted, a disabled one Unavailable
        def last_status() -> str:
            return str(backend.calls("StatusNotification")[-1]["params"]["status"])

        assert mgr.api.patch("/api/devices/box", json={"offline": True}).status_code == 200
        backend.wait_until(lambda: last_status() == "Faulted")
        assert mgr.api.patch("/api/devices/box", json={"enabled": False}).status_code == 200
        backend.wait_until(lambda: last_status() == "Unavailable")
        assert not backend.events("strict")
    finally:
        mgr.stop()


def test_outage_and_restart_deliver_each_message_once_in_order(tmp_path: Path) -> None:
    """The backend dies during a transaction, ampshare restarts while it is down, it returns."""
    first = Backend(txStart=1000)
    data = tmp_path / "data"
    mgr = serve(data)
    second: Backend | None = None
    try:
        assert mgr.api.post("/api/devices", json=sim_box(first)).status_code == 201
        first.wait("call", method="StartTransaction")
        reply = first.call(
            "GW1", "ChangeConfiguration", {"key": "MeterValueSampleInterval", "value": "1"}
        )
        assert reply["result"]["status"] == "Accepted"
        first.wait_until(lambda: len(first.calls("MeterValues")) >= 2)
        first.kill()
        mgr.wait_for(lambda s: evse(s)["gateway"]["queued"] >= 3, timeout_s=20)
        mgr.stop()  # ampshare restarts while the backend is still down
        mgr = serve(data)
        state = mgr.wait_for(lambda s: evse(s)["gateway"] is not None)
        assert evse(state)["gateway"]["connected"] is False
        assert evse(state)["gateway"]["queued"] >= 3
        mgr.wait_for(lambda s: evse(s)["setpoint_a"] > 0)  # charging goes on, locally managed
        second = Backend(port=first.port, txStart=2000)
        second.wait("call", method="StartTransaction", timeout_s=45)
        # the queue drains (a fresh meter value a second may be waiting its turn)
        mgr.wait_for(lambda s: evse(s)["gateway"]["queued"] <= 1, timeout_s=30)
        second.wait_until(
            lambda: any(
                c["params"].get("transactionId") == 2000 for c in second.calls("MeterValues")
            )
        )

        replayed = [c for c in second.calls() if c["method"] in ("MeterValues", "StartTransaction",
                                                                  "StopTransaction")]  # fmt: skip
        old = [c for c in replayed if c["params"].get("transactionId") == 1000]
        assert old and old[-1]["method"] == "StopTransaction"
        assert old[-1]["params"]["reason"] in ("PowerLoss", "Reboot")
        assert all(c["method"] == "MeterValues" for c in old[:-1])
        # in order: everything of the old transaction before the new one starts
        start_at = next(i for i, c in enumerate(replayed) if c["method"] == "StartTransaction")
        assert start_at == len(old)
        assert all(c["params"]["transactionId"] == 2000 for c in replayed[start_at + 1 :])

        # each message once: no meter value of the old transaction reached both backends twice
        def stamps(b: Backend) -> list[str]:
            return [
                c["params"]["meterValue"][0]["timestamp"]
                for c in b.calls("MeterValues")
                if c["params"].get("transactionId") == 1000
            ]

        before, after = stamps(first), stamps(second)
        assert len(after) >= 3 and len(set(after)) == len(after)
        # what was queued during the outage arrived once; the one message that may have been on
        # the wire when the backend died (its answer lost) is the only one sent again
        assert set(before) & set(after) <= {before[-1]}
        assert sorted(after) == after
        assert not second.events("strict") and not first.events("strict")
    finally:
        mgr.stop()
        first.stop()
        if second is not None:
            second.stop()


def test_ocpp_box_is_relayed_unaltered(tmp_path: Path, backend: Backend) -> None:
    """An ocpp-rpc box on ampshare's server: transaction, signed data, DataTransfer pass."""
    mgr = serve(tmp_path / "data")
    box: NodeBox | None = None
    try:
        device = {
            "kind": "evse", "driver": "ocpp", "id": "signed", "name": "Signed box",
            "address": "BOX7", "gateway_url": backend.url, "gateway_client_id": "RELAY7",
            "gateway_password": backend.cfg["password"],
        }  # fmt: skip
        assert mgr.api.post("/api/devices", json=device).status_code == 201
        box = NodeBox("box.js", mgr.ocpp_port, "BOX7")

        box.step("booted")
        backend.wait_until(
            lambda: any(
                c["params"].get("chargePointSerialNumber") == "SN-4711"
                for c in backend.calls("BootNotification")
            )
        )
        boot = backend.calls("BootNotification")[-1]["params"]
        assert boot == {
            "chargePointVendor": "Interop",
            "chargePointModel": "SignedBox",
            "chargePointSerialNumber": "SN-4711",
            "firmwareVersion": "1.2.3",
        }
        box.go()
        assert box.step("authorized") == {
            "event": "authorized",
            "tag": "Accepted",
            "bad": "Invalid",
        }
        backend.wait_until(lambda: len(backend.calls("Authorize")) >= 2)
        assert [c["params"]["idTag"] for c in backend.calls("Authorize")] == ["CARD1", "BADCARD"]
        local_tx = box.step("started")["transactionId"]
        dt = box.step("data_transfer")["reply"]
        assert dt == {"status": "Accepted", "data": 'echo:{"receipt":"0042","amount_cents":1234}'}
        sent = backend.wait("call", method="DataTransfer")["params"]
        assert sent == {"vendorId": "com.example.ecterminal", "messageId": "Payment",
                        "data": '{"receipt":"0042","amount_cents":1234}'}  # fmt: skip
        start = backend.wait("call", method="StartTransaction")["params"]
        assert (start["idTag"], start["meterStart"], start["connectorId"]) == ("CARD1", 1000, 1)
        mv = backend.wait_until(
            lambda: [c for c in backend.calls("MeterValues") if "transactionId" in c["params"]]
        )[0]["params"]
        assert mv["transactionId"] == 1000  # the backend's id, not ampshare's
        signed = mv["meterValue"][0]["sampledValue"][1]
        assert signed["format"] == "SignedData" and signed["value"].startswith("OCMF|")

        unlock = backend.call("RELAY7", "UnlockConnector", {"connectorId": 1})
        assert unlock["result"]["status"] == "Unlocked"
        to_box = backend.call("RELAY7", "DataTransfer", {"vendorId": "com.example", "data": "hi"})
        assert to_box["result"] == {"status": "Accepted", "data": "box:hi"}
        stop = backend.call("RELAY7", "RemoteStopTransaction", {"transactionId": 1000})
        assert stop["result"]["status"] == "Accepted"
        assert box.step("remote_stop")["transactionId"] == local_tx

        box.go()
        originals = box.step("stopped")["signed"]
        ended = backend.wait("call", method="StopTransaction")["params"]
        assert ended["transactionId"] == 1000 and ended["meterStop"] == 3500
        assert ended["transactionData"][0]["sampledValue"][0]["value"] == originals[1]
        assert signed["value"] == originals[0]
        assert backend.wait_until(
            lambda: any(
                c["params"]["status"] == "Finishing" for c in backend.calls("StatusNotification")
            )
        )
        assert not backend.events("strict")
        box.finish()
    finally:
        if box is not None:
            box.kill()
        mgr.stop()


def test_ocpp201_transaction_events_variables_and_cap(tmp_path: Path) -> None:
    backend = Backend(protocols=["ocpp2.0.1"])
    mgr = serve(tmp_path / "data")
    try:
        box = sim_box(backend, "GW201", gateway_protocol="ocpp2.0.1")
        assert mgr.api.post("/api/devices", json=box).status_code == 201
        boot = backend.wait("call", method="BootNotification", identity="GW201")
        assert boot["params"]["chargingStation"]["vendorName"] == "ampshare"
        started = backend.wait_until(
            lambda: [
                c
                for c in backend.calls("TransactionEvent")
                if c["params"]["eventType"] == "Started"
            ]
        )[0]["params"]
        tx = started["transactionInfo"]["transactionId"]
        assert started["seqNo"] == 0 and started["idToken"]["idToken"] == "GW201"
        values = [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"},
             "attributeValue": "1"},
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedMeasurands"},
             "attributeValue": MEASURANDS},
            {"component": {"name": "Nope"}, "variable": {"name": "Nope"}, "attributeValue": "1"},
        ]  # fmt: skip
        reply = backend.call("GW201", "SetVariables", {"setVariableData": values})
        statuses = [r["attributeStatus"] for r in reply["result"]["setVariableResult"]]
        assert statuses == ["Accepted", "Accepted", "UnknownVariable"]
        got = backend.call("GW201", "GetVariables", {"getVariableData": [
            {"component": {"name": "SampledDataCtrlr"}, "variable": {"name": "TxUpdatedInterval"}}
        ]})  # fmt: skip
        assert got["result"]["getVariableResult"][0]["attributeValue"] == "1"
        updated = backend.wait_until(
            lambda: [
                c["params"]
                for c in backend.calls("TransactionEvent")
                if c["params"]["eventType"] == "Updated"
                and len(c["params"]["meterValue"][0]["sampledValue"]) >= 8
            ]
        )[0]
        assert updated["transactionInfo"]["transactionId"] == tx and updated["seqNo"] >= 1
        profile = {
            "evseId": 0,
            "chargingProfile": {
                "id": 3, "stackLevel": 0, "chargingProfilePurpose": "ChargingStationMaxProfile",
                "chargingProfileKind": "Absolute",
                "chargingSchedule": [{
                    "id": 1, "chargingRateUnit": "A", "startSchedule": "2020-01-01T00:00:00Z",
                    "chargingSchedulePeriod": [{"startPeriod": 0, "limit": 10.0}],
                }],
            },
        }  # fmt: skip
        assert (
            backend.call("GW201", "SetChargingProfile", profile)["result"]["status"] == "Accepted"
        )
        mgr.wait_for(lambda s: why(s) == "limited by the billing backend to 10 A")
        comp = backend.call("GW201", "GetCompositeSchedule", {"evseId": 0, "duration": 300})
        assert comp["result"]["schedule"]["chargingSchedulePeriod"][0]["limit"] == 10.0
        # below the car's minimum the box pauses, and the tile still names the backend
        schedule = profile["chargingProfile"]["chargingSchedule"][0]  # type: ignore[index]
        schedule["chargingSchedulePeriod"][0]["limit"] = 4.0
        assert (
            backend.call("GW201", "SetChargingProfile", profile)["result"]["status"] == "Accepted"
        )
        state = mgr.wait_for(lambda s: why(s) == "limited by the billing backend to 4 A")
        assert evse(state)["target_a"] == 0
        for msg in ("MeterValues", "FirmwareStatusNotification", "Heartbeat"):
            trig = backend.call("GW201", "TriggerMessage", {"requestedMessage": msg})
            assert trig["result"]["status"] == "Accepted"
            backend.wait("call", method=msg)
        stop = backend.call("GW201", "RequestStopTransaction", {"transactionId": tx})
        assert stop["result"]["status"] == "Accepted"
        ended = backend.wait_until(
            lambda: [
                c for c in backend.calls("TransactionEvent") if c["params"]["eventType"] == "Ended"
            ]
        )[0]["params"]
        assert ended["transactionInfo"]["stoppedReason"] == "Remote"
        seqs = [c["params"]["seqNo"] for c in backend.calls("TransactionEvent")]
        assert seqs == list(range(len(seqs)))
        statuses = {c["params"]["connectorStatus"] for c in backend.calls("StatusNotification")}
        assert "Occupied" in statuses
        avail = backend.call("GW201", "ChangeAvailability", {"operationalStatus": "Inoperative"})
        assert avail["result"]["status"] == "Accepted"
        backend.wait_until(
            lambda: (
                backend.calls("StatusNotification")[-1]["params"]["connectorStatus"]
                == "Unavailable"
            )
        )
        assert not backend.events("strict")
    finally:
        mgr.stop()
        backend.stop()


def test_ocpp201_box_is_relayed_unaltered(tmp_path: Path) -> None:
    """A 2.0.1 station: its TransactionEvents with signedMeterValue and its DataTransfer pass."""
    backend = Backend(protocols=["ocpp2.0.1"])
    mgr = serve(tmp_path / "data")
    box: NodeBox | None = None
    try:
        device = {
            "kind": "evse", "driver": "ocpp", "id": "s201", "name": "Station 201",
            "address": "ST201", "gateway_url": backend.url, "gateway_client_id": "RELAY201",
            "gateway_password": backend.cfg["password"], "gateway_protocol": "ocpp2.0.1",
        }  # fmt: skip
        assert mgr.api.post("/api/devices", json=device).status_code == 201
        box = NodeBox("box201.js", mgr.ocpp_port, "ST201")

        box.step("booted")
        backend.wait_until(
            lambda: any(
                c["params"]["chargingStation"].get("serialNumber") == "SN-201"
                for c in backend.calls("BootNotification")
            )
        )
        box.go()
        assert box.step("data_transfer")["reply"]["status"] == "Accepted"
        signed = box.step("stopped")["signed"]
        sent = backend.wait("call", method="DataTransfer")["params"]
        assert sent["data"] == {"receipt": "0042", "amount_cents": 1234}
        backend.wait_until(lambda: len(backend.calls("TransactionEvent")) >= 2)
        events = backend.calls("TransactionEvent")
        assert [e["params"]["eventType"] for e in events] == ["Started", "Ended"]
        for e in events:
            assert e["params"]["transactionInfo"]["transactionId"] == "TX-201-1"
            assert e["params"]["meterValue"][0]["sampledValue"][0]["signedMeterValue"] == signed
        assert not backend.events("strict")
        box.finish()
    finally:
        if box is not None:
            box.kill()
        mgr.stop()
        backend.stop()


def test_ocpp_box_local_user_charges_unbilled(tmp_path: Path, backend: Backend) -> None:
    """The backend refuses a tag of a local user: the box may charge, nothing is billed."""
    mgr = serve(tmp_path / "data")
    box: NodeBox | None = None
    try:
        assert mgr.api.post("/api/users", json={"name": "Staff", "id_tag": "STAFF1"}).is_success
        device = {
            "kind": "evse", "driver": "ocpp", "id": "staffbox", "name": "Staff box",
            "address": "BOX8", "gateway_url": backend.url, "gateway_client_id": "RELAY8",
            "gateway_password": backend.cfg["password"], "gateway_auth_fallback": "local",
        }  # fmt: skip
        assert mgr.api.post("/api/devices", json=device).status_code == 201
        box = NodeBox("box.js", mgr.ocpp_port, "BOX8", "STAFF1")

        box.step("booted")
        backend.wait("call", method="BootNotification", identity="RELAY8")
        box.go()
        assert box.step("authorized") == {
            "event": "authorized",
            "tag": "Accepted",
            "bad": "Invalid",
        }
        box.step("data_transfer")
        backend.wait_until(
            lambda: any(
                c["params"]["status"] == "Unavailable" for c in backend.calls("StatusNotification")
            )
        )
        box.go()
        box.step("stopped")
        backend.wait("call", method="DataTransfer")  # later messages still reach the backend
        assert not backend.calls("StartTransaction") and not backend.calls("StopTransaction")
        assert not [c for c in backend.calls("MeterValues") if "transactionId" in c["params"]]
        box.finish()
    finally:
        if box is not None:
            box.kill()
        mgr.stop()
