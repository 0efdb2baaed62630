"""OCPP 1.6J: messages from the box, set-up after boot, and requests ampshare sends."""

from __future__ import annotations

import asyncio
import logging
from typing import Any, ClassVar

from ocpp.v16.enums import Action

from devices.ocpp.connection import BadMessage, OcppConnection, boot_accepted
from devices.ocpp.routing import handles
from devices.ocpp.state import (
    ConnectorLimit,
    ConnectorState,
)

log = logging.getLogger(__name__)

CONFIG_KEYS = (
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "NumberOfConnectors",
    "ConnectorSwitch3to1PhaseSupported",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
)
_ACTIONS = frozenset(a.value for a in Action)
#: the meter settings ampshare makes (OcppConnection.configure_meter), as 1.6 keys
METER_KEYS = {"interval": "MeterValueSampleInterval", "measurands": "MeterValuesSampledData"}


def _int(value: Any) -> int | None:
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None


def _units(text: str) -> tuple[str, ...]:
    units = []
    for part in text.replace(";", ",").split(","):
        word = part.strip().lower()
        if word in ("current", "a"):
            units.append("A")
        elif word in ("power", "w"):
            units.append("W")
    return tuple(units)


class V16Connection(OcppConnection):
    version = "1.6"
    FORMAT_ERROR = "FormationViolation"
    RPC_ERROR = "ProtocolError"
    STATUS_TRIGGER: ClassVar[dict[str, Any]] = {"requestedMessage": "StatusNotification"}

    def _known_actions(self) -> frozenset[str]:
        return _ACTIONS

    # ------------------------------------------------------------------ from the box

    @handles("BootNotification", strict=False)
    def on_boot(self, p: dict[str, Any]) -> dict[str, Any]:
        vendor, model = p.get("chargePointVendor"), p.get("chargePointModel")
        if not isinstance(vendor, str) or not isinstance(model, str):
            raise BadMessage("ProtocolError", "chargePointVendor and chargePointModel needed")
        rec = self.record
        rec.vendor, rec.model = vendor, model
        serial = p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber")
        rec.serial = str(serial) if serial is not None else None
        fw = p.get("firmwareVersion")
        rec.firmware = str(fw) if fw is not None else None
        log.info("%s: boot from %s %s (firmware %s)", self.id, vendor, model, rec.firmware)
        self.rebooted("Reboot")
        return boot_accepted(self.host.settings.heartbeat_s)

    @handles("Authorize")
    async def on_authorize(self, p: dict[str, Any]) -> dict[str, Any]:
        relayed = await self.host.relay_authorize(self.id, p)  # a billing backend decides
        if relayed is not None:
            return {"idTagInfo": relayed}
        return {"idTagInfo": {"status": await self.check_tag(p.get("idTag"))}}

    @handles("SignedFirmwareStatusNotification")
    def on_signed_firmware(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.log_status("firmware", p)

    @handles("DiagnosticsStatusNotification")
    def on_diagnostics(self, p: dict[str, Any]) -> dict[str, Any]:
        return self.log_status("logs", p)

    def _on_status(self, p: dict[str, Any]) -> dict[str, Any]:
        cid, status = p.get("connectorId"), p.get("status")
        if cid is None or status is None:
            raise BadMessage("ProtocolError", "connectorId and status are required")
        if type(cid) is not int or cid < 0 or not isinstance(status, str):
            raise BadMessage(self.TYPE_ERROR, "connectorId must be an integer, status a string")
        state = self.record.connector(cid)
        state.status = status
        err = p.get("errorCode")
        state.error_code = err if isinstance(err, str) and err != "NoError" else None
        info = p.get("info") or p.get("vendorErrorCode")
        state.info = str(info) if info else None
        self.record.status_seen = True
        self.status_seen.set()
        return {}

    def _on_meter_values(self, p: dict[str, Any]) -> dict[str, Any]:
        cid = p.get("connectorId")
        if cid is None:
            raise BadMessage("ProtocolError", "connectorId is required")
        if type(cid) is not int or cid < 0:
            raise BadMessage(self.TYPE_ERROR, "connectorId must be an integer")
        sample = self.parse_meter(p)
        self.apply_sample(self.record.connector(cid), sample)
        return {}

    @handles("StartTransaction")
    async def on_start_transaction(self, p: dict[str, Any]) -> dict[str, Any]:
        self.after_reply(self.reply_sent)
        cid, tag = p["connectorId"], p["idTag"]
        status = await self.check_tag(tag, "StartTransaction", cid if type(cid) is int else None)
        if not self.configured():  # never stored: an unconfigured box stores nothing
            self.stop_after_reply(0)
            return {"transactionId": 0, "idTagInfo": {"status": status}}
        try:
            state = self.record.connector(cid)
        except ConnectorLimit as exc:
            raise BadMessage("PropertyConstraintViolation", str(exc)) from None
        meter = float(p["meterStart"])
        try:
            sid = await asyncio.to_thread(
                self.host.hooks.sessions.start,
                self.id,
                cid,
                tag,
                p["timestamp"],
                meter,
                key=f"ocpp|{self.id}|{cid}|{tag}|{p['timestamp']}|{meter}",
                box=self.id,
            )
        except ValueError as exc:
            raise BadMessage("PropertyConstraintViolation", str(exc)) from None
        if state.session_id is not None and state.session_id != sid:
            state.energy_wh = meter  # the box moved on without stopping it: it ended here
            await self.end_session(state, "Other", p["timestamp"])
        if state.session_id != sid:
            state.signed = []
        state.transaction_id = state.session_id = sid
        state.id_tag, state.meter_start_wh = tag, meter
        log.info(
            "%s: transaction %d started on connector %d (tag %s, %s)",
            self.id,
            sid,
            cid,
            tag,
            status,
        )
        if status != "Accepted":
            self.stop_after_reply(sid)
        return {"transactionId": sid, "idTagInfo": {"status": status}}

    @handles("StopTransaction")
    async def on_stop_transaction(self, p: dict[str, Any]) -> dict[str, Any]:
        tx = p["transactionId"]
        state = next((s for s in self.record.connectors.values() if s.transaction_id == tx), None)
        if state is None:  # never another box's session, nor one closed already
            log.info("%s: StopTransaction for %s, not open on this box: ignored", self.id, tx)
        else:
            await self._stop_session(p, state)
        tag = p.get("idTag")
        info = {"status": self.authorize_tag(tag, "StopTransaction")} if tag else None
        return {"idTagInfo": info}

    async def _stop_session(self, p: dict[str, Any], state: ConnectorState) -> None:
        signed = [
            sv
            for mv in p.get("transactionData") or []
            if isinstance(mv, dict)
            for sv in mv.get("sampledValue") or []
            if isinstance(sv, dict) and sv.get("format") == "SignedData"
        ]
        earlier = list(state.signed)
        try:
            await asyncio.to_thread(
                self.host.hooks.sessions.stop,
                state.session_id,
                p["timestamp"],
                float(p["meterStop"]),
                p.get("reason") or "Local",
                earlier + [s for s in signed if s not in earlier],
            )
        except ValueError as exc:
            raise BadMessage("PropertyConstraintViolation", str(exc)) from None
        state.energy_wh = float(p["meterStop"])
        state.end_transaction()

    # ------------------------------------------------------------------ set-up after boot

    async def read_setup(self) -> dict[str, Any]:
        reply = await self.try_request("GetConfiguration", {"key": list(CONFIG_KEYS)})
        if reply is None:
            return {}
        values = {
            str(item.get("key")): item.get("value")
            for item in reply.get("configurationKey") or []
            if isinstance(item, dict)
        }
        caps = self.record.caps
        caps.max_stack_level = _int(values.get("ChargeProfileMaxStackLevel"))
        caps.rate_units = _units(str(values.get("ChargingScheduleAllowedChargingRateUnit") or ""))
        caps.connectors = _int(values.get("NumberOfConnectors"))
        switch = values.get("ConnectorSwitch3to1PhaseSupported")
        caps.phase_switching = None if switch is None else str(switch).lower() == "true"
        return {which: values.get(key) for which, key in METER_KEYS.items()}

    async def set_meter(self, which: str, value: str) -> str | None:
        return await self.change_configuration(METER_KEYS[which], value)

    # ------------------------------------------------------------------ requests to the box

    async def change_configuration(self, key: str, value: str) -> str | None:
        reply = await self.try_request("ChangeConfiguration", {"key": key, "value": value})
        return None if reply is None else str(reply.get("status"))

    async def _stop_request(self, transaction_id: int | str) -> str:
        payload = {"transactionId": int(transaction_id)}
        return str((await self.request("RemoteStopTransaction", payload)).get("status"))

    async def change_availability(self, connector: int, operative: bool) -> str:
        kind = "Operative" if operative else "Inoperative"
        reply = await self.request("ChangeAvailability", {"connectorId": connector, "type": kind})
        return str(reply.get("status"))
