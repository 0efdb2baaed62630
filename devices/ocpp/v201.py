"""OCPP 2.0.1: messages from the station, set-up after boot, and requests ampshare sends.

In 2.0.1 the station creates transaction ids; a session is keyed by "<ChargeBox ID>|<id>" so a
repeated or late TransactionEvent finds its session again, also after a restart.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from ocpp.v201.enums import Action

from devices.ocpp.connection import BadMessage, OcppConnection, boot_accepted
from devices.ocpp.meter import (
    MeterFormatError,
    MeterSample,
    parse_meter_values,
)
from devices.ocpp.routing import handles
from devices.ocpp.state import (
    ConnectorLimit,
    ConnectorState,
)
from devices.ocpp.v16 import _int, _units

log = logging.getLogger(__name__)

_ACTIONS = frozenset(a.value for a in Action)
_SMART = "SmartChargingCtrlr"
_SAMPLED = "SampledDataCtrlr"
#: the meter settings ampshare makes (OcppConnection.configure_meter), as SampledDataCtrlr names
METER_VARIABLES = {"interval": "TxUpdatedInterval", "measurands": "TxUpdatedMeasurands"}


def _var(component: str, variable: str) -> dict[str, Any]:
    return {"component": {"name": component}, "variable": {"name": variable}}


class V201Connection(OcppConnection):
    version = "2.0.1"
    FORMAT_ERROR = "FormatViolation"
    RPC_ERROR = "RpcFrameworkError"
    STATUS_TRIGGER: ClassVar[dict[str, Any]] = {
        "requestedMessage": "StatusNotification",
        "evse": {"id": 1, "connectorId": 1},
    }

    def _known_actions(self) -> frozenset[str]:
        return _ACTIONS

    def _message_type_error(self) -> str:
        return "MessageTypeNotSupported"

    # ------------------------------------------------------------------ from the station

    @handles("BootNotification", strict=False)
    def on_boot(self, p: dict[str, Any]) -> dict[str, Any]:
        station = p.get("chargingStation")
        if not isinstance(station, dict):
            raise BadMessage("ProtocolError", "chargingStation is required")
        vendor, model = station.get("vendorName"), station.get("model")
        if not isinstance(vendor, str) or not isinstance(model, str):
            raise BadMessage("ProtocolError", "vendorName and model are required")
        rec = self.record
        rec.vendor, rec.model = vendor, model
        serial, fw = station.get("serialNumber"), station.get("firmwareVersion")
        rec.serial = str(serial) if serial is not None else None
        rec.firmware = str(fw) if fw is not None else None
        log.info(
            "%s: boot from %s %s (firmware %s, %s)", self.id, vendor, model, fw, p.get("reason")
        )
        self.rebooted("PowerLoss" if p.get("reason") == "PowerUp" else "Reboot")
        return boot_accepted(self.host.settings.heartbeat_s)

    @handles("Authorize")
    async def on_authorize(self, p: dict[str, Any]) -> dict[str, Any]:
        relayed = await self.host.relay_authorize(self.id, p)  # a billing backend decides
        if relayed is not None:
            return {"idTokenInfo": relayed}
        token = (p.get("idToken") or {}).get("idToken")
        return {"idTokenInfo": {"status": await self.check_tag(token)}}

    @handles("NotifyEvent")
    def on_notify_event(self, p: dict[str, Any]) -> dict[str, Any]:
        for ev in p.get("eventData") or []:
            log.info(
                "%s: event %s.%s = %s (%s)",
                self.id,
                (ev.get("component") or {}).get("name"),
                (ev.get("variable") or {}).get("name"),
                ev.get("actualValue"),
                ev.get("trigger"),
            )
        return {}

    @handles("NotifyChargingLimit")
    def on_charging_limit(self, p: dict[str, Any]) -> dict[str, Any]:
        source = (p.get("chargingLimit") or {}).get("chargingLimitSource")
        log.info("%s: external charging limit from %s on EVSE %s", self.id, source, p.get("evseId"))
        return {}

    def _on_status(self, p: dict[str, Any]) -> dict[str, Any]:
        eid, status = p.get("evseId"), p.get("connectorStatus")
        if eid is None or status is None:
            raise BadMessage("OccurrenceConstraintViolation", "evseId and connectorStatus required")
        if type(eid) is not int or eid < 0 or not isinstance(status, str):
            raise BadMessage(self.TYPE_ERROR, "evseId must be an integer, connectorStatus a string")
        state = self.record.connector(eid)
        state.status = status
        self.record.status_seen = True
        self.status_seen.set()
        return {}

    def _on_meter_values(self, p: dict[str, Any]) -> dict[str, Any]:
        eid = p.get("evseId")
        if eid is None:
            raise BadMessage("OccurrenceConstraintViolation", "evseId is required")
        if type(eid) is not int or eid < 0:
            raise BadMessage(self.TYPE_ERROR, "evseId must be an integer")
        sample = self.parse_meter(p)
        self.apply_sample(self.record.connector(eid), sample)
        return {}

    @handles("NotifyReport")
    def on_notify_report(self, p: dict[str, Any]) -> dict[str, Any]:
        self.on_report(p)
        return {}

    def on_report(self, p: dict[str, Any]) -> None:
        caps = self.record.caps
        for item in p.get("reportData") or []:
            comp = (item.get("component") or {}).get("name")
            var = (item.get("variable") or {}).get("name")
            attrs = item.get("variableAttribute") or []
            value = next(
                (a.get("value") for a in attrs if a.get("type", "Actual") == "Actual"), None
            )
            if comp == _SMART and var == "ProfileStackLevel":
                caps.max_stack_level = _int(value)
            elif comp == _SMART and var == "RateUnit" and value:
                caps.rate_units = _units(str(value))

    @handles("TransactionEvent")
    async def on_transaction_event(self, p: dict[str, Any]) -> dict[str, Any]:
        self.after_reply(self.reply_sent)
        info = p["transactionInfo"]
        tx = str(info["transactionId"])
        tag = (p.get("idToken") or {}).get("idToken")
        try:
            sample = parse_meter_values(p.get("meterValue") or [])
        except MeterFormatError:
            sample = MeterSample()
        if self.configured():  # an unconfigured box stores nothing
            try:
                await self._record_transaction(p, tx, tag, sample)
            except (ValueError, ConnectorLimit) as exc:
                raise BadMessage("PropertyConstraintViolation", str(exc)) from None
        if not tag and self.refusal() is None:
            return {}
        evse_no = (p.get("evse") or {}).get("id")
        number = evse_no if type(evse_no) is int else None
        status = await self.check_tag(tag, "TransactionEvent", number)
        if status != "Accepted" and p["eventType"] != "Ended":
            self.stop_after_reply(tx)
        return {"idTokenInfo": {"status": status}}

    async def _record_transaction(
        self, p: dict[str, Any], tx: str, tag: str | None, sample: MeterSample
    ) -> None:
        info = p["transactionInfo"]
        state = self._find_transaction(tx)
        if state is None or state.session_id is None:
            state = await self._start_session(p, tx, tag, sample, state)
        if tag and not state.id_tag:
            state.id_tag = tag
        if info.get("chargingState"):
            state.charging_state = info["chargingState"]
        self.apply_sample(state, sample)
        if p["eventType"] == "Ended":
            log.info("%s: transaction %s (session %s) ended", self.id, tx, state.session_id)
            await self.end_session(state, info.get("stoppedReason") or "Local", p["timestamp"])

    def _find_transaction(self, tx: str) -> ConnectorState | None:
        return next((s for s in self.record.connectors.values() if s.transaction_id == tx), None)

    async def _start_session(
        self,
        p: dict[str, Any],
        tx: str,
        tag: str | None,
        sample: MeterSample,
        state: ConnectorState | None,
    ) -> ConnectorState:
        """The EVSE of a new transaction, its session started (once); a transaction the box
        left open there ends where this one starts."""
        if state is None:
            evse_id = (p.get("evse") or {}).get("id")
            if evse_id is None:
                log.info("%s: transaction %s without EVSE id, assuming EVSE 1", self.id, tx)
            state = self.record.connector(evse_id if isinstance(evse_id, int) else 1)
            if state.transaction_id is not None and state.transaction_id != tx:
                log.info("%s: transaction %s replaces %s", self.id, tx, state.transaction_id)
                if sample.energy_wh is not None:
                    state.energy_wh = sample.energy_wh
                await self.end_session(state, "Other", p["timestamp"])
        start = sample.energy_wh if sample.energy_wh is not None else state.energy_wh
        connector = next((n for n, s in self.record.connectors.items() if s is state), 1)
        sid = await asyncio.to_thread(
            self.host.hooks.sessions.start,
            self.id,
            connector,
            tag,
            p["timestamp"],
            start,
            key=f"{self.id}|{tx}",
            box=self.id,
        )
        if state.session_id != sid:
            state.signed = []
        state.transaction_id, state.session_id = tx, sid
        state.id_tag, state.meter_start_wh = tag, start
        log.info("%s: transaction %s (session %d) started", self.id, tx, sid)
        return state

    # ------------------------------------------------------------------ set-up after boot

    async def read_setup(self) -> dict[str, Any]:
        wanted = [
            _var(_SMART, "ProfileStackLevel"),
            _var(_SMART, "RateUnit"),
            _var(_SMART, "Phases3to1"),
            _var(_SAMPLED, "TxUpdatedInterval"),
            _var(_SAMPLED, "TxUpdatedMeasurands"),
        ]
        reply = await self.try_request("GetVariables", {"getVariableData": wanted})
        values: dict[str, Any] = {}
        for item in (reply or {}).get("getVariableResult") or []:
            if isinstance(item, dict) and item.get("attributeStatus") == "Accepted":
                values[(item.get("variable") or {}).get("name")] = item.get("attributeValue")
        caps = self.record.caps
        if "ProfileStackLevel" in values:
            caps.max_stack_level = _int(values["ProfileStackLevel"])
        if values.get("RateUnit"):
            caps.rate_units = _units(str(values["RateUnit"]))
        if "Phases3to1" in values:
            caps.phase_switching = str(values["Phases3to1"]).lower() == "true"
        return {which: values.get(name) for which, name in METER_VARIABLES.items()}

    async def set_meter(self, which: str, value: str) -> str | None:
        return await self._set_variable(_SAMPLED, METER_VARIABLES[which], value)

    async def _set_variable(self, component: str, variable: str, value: str) -> str | None:
        data = [{**_var(component, variable), "attributeValue": value}]
        reply = await self.try_request("SetVariables", {"setVariableData": data})
        results = (reply or {}).get("setVariableResult") or []
        if not results or not isinstance(results[0], dict):
            return None
        return str(results[0].get("attributeStatus"))

    # ------------------------------------------------------------------ requests to the station

    async def _stop_request(self, transaction_id: int | str) -> str:
        payload = {"transactionId": str(transaction_id)}
        return str((await self.request("RequestStopTransaction", payload)).get("status"))

    async def change_availability(self, evse: int, operative: bool) -> str:
        payload: dict[str, Any] = {"operationalStatus": "Operative" if operative else "Inoperative"}
        if evse:
            payload["evse"] = {"id": evse}
        return str((await self.request("ChangeAvailability", payload)).get("status"))
