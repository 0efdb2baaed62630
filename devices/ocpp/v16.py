"""OCPP 1.6J: messages from the box, set-up after boot, and requests ampshare sends."""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from ocpp.exceptions import PropertyConstraintViolationError, ProtocolError
from ocpp.routing import after, on
from ocpp.v16 import ChargePoint as _ChargePoint16
from ocpp.v16 import call_result
from ocpp.v16.enums import Action

from devices.ocpp.connection import BadMessage, OcppConnection, now_iso
from devices.ocpp.meter import CURRENT, ENERGY, POWER, VOLTAGE
from devices.ocpp.state import (
    DEFAULT_PROFILE_BASE,
    TX_PROFILE_BASE,
    ConnectorLimit,
    ConnectorState,
)

log = logging.getLogger(__name__)

WANTED_MEASURANDS = (ENERGY, POWER, CURRENT, VOLTAGE)
CONFIG_KEYS = (
    "ChargeProfileMaxStackLevel",
    "ChargingScheduleAllowedChargingRateUnit",
    "NumberOfConnectors",
    "ConnectorSwitch3to1PhaseSupported",
    "MeterValuesSampledData",
    "MeterValueSampleInterval",
)
_ACTIONS = frozenset(a.value for a in Action)


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


def schedule_start() -> str:
    """Start of an Absolute schedule: a minute ago, so the box applies it at once."""
    start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=1)
    return start.isoformat().replace("+00:00", "Z")


class _Routes(_ChargePoint16):
    """Schema validation and routing of the non-hot requests by the `ocpp` library.

    Handlers read the raw camelCase payload from the connection, so signed meter data stays
    exactly as the box sent it.
    """

    def __init__(self, conn: V16Connection) -> None:
        super().__init__(conn.id, conn.ws, logger=conn.wire_log)
        self.conn = conn

    @on(Action.boot_notification, skip_schema_validation=True)
    def _boot(self, **_: Any) -> Any:
        return self.conn.on_boot(self.conn._raw_payload)

    @on(Action.authorize)
    async def _authorize(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        relayed = await self.conn.host.relay_authorize(self.id, p)  # a billing backend decides
        if relayed is not None:
            return call_result.Authorize(id_tag_info=relayed)
        return call_result.Authorize(
            id_tag_info={"status": await self.conn.check_tag(p.get("idTag"))}
        )

    @on(Action.start_transaction)
    async def _start(self, **_: Any) -> Any:
        return await self.conn.on_start_transaction(self.conn._raw_payload)

    @after(Action.start_transaction)
    def _after_start(self, **_: Any) -> None:
        self.conn.reply_sent()

    @on(Action.stop_transaction)
    async def _stop(self, **_: Any) -> Any:
        return await self.conn.on_stop_transaction(self.conn._raw_payload)

    @on(Action.data_transfer)
    async def _data_transfer(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        log.info("%s: DataTransfer from %s (%s)", self.id, p.get("vendorId"), p.get("messageId"))
        reply = await self.conn.host.relay_data_transfer(self.id, p)  # to a billing backend
        if reply is not None:
            return call_result.DataTransfer(status=reply.get("status"), data=reply.get("data"))
        return call_result.DataTransfer(status="UnknownVendorId")

    @on(Action.firmware_status_notification)
    def _firmware(self, **_: Any) -> Any:
        log.info("%s: firmware status %s", self.id, self.conn._raw_payload.get("status"))
        return call_result.FirmwareStatusNotification()

    @on(Action.diagnostics_status_notification)
    def _diagnostics(self, **_: Any) -> Any:
        log.info("%s: diagnostics status %s", self.id, self.conn._raw_payload.get("status"))
        return call_result.DiagnosticsStatusNotification()

    @on(Action.security_event_notification)
    def _security(self, **_: Any) -> Any:
        p = self.conn._raw_payload
        text = f"security event {p.get('type')}: {p.get('techInfo') or ''}".strip(": ")
        log.warning("%s: %s", self.id, text)
        self.conn.event("security_event", text)
        return call_result.SecurityEventNotification()

    @on(Action.signed_firmware_status_notification)
    def _signed_firmware(self, **_: Any) -> Any:
        log.info("%s: firmware status %s", self.id, self.conn._raw_payload.get("status"))
        return call_result.SignedFirmwareStatusNotification()

    @on(Action.log_status_notification)
    def _log_status(self, **_: Any) -> Any:
        log.info("%s: log upload status %s", self.id, self.conn._raw_payload.get("status"))
        return call_result.LogStatusNotification()


class V16Connection(OcppConnection):
    version = "1.6"
    FORMAT_ERROR = "FormationViolation"
    RPC_ERROR = "ProtocolError"

    def _make_handler(self) -> _Routes:
        return _Routes(self)

    def _known_actions(self) -> frozenset[str]:
        return _ACTIONS

    # ------------------------------------------------------------------ from the box

    def on_boot(self, p: dict[str, Any]) -> Any:
        vendor, model = p.get("chargePointVendor"), p.get("chargePointModel")
        if not isinstance(vendor, str) or not isinstance(model, str):
            raise ProtocolError(details={"cause": "chargePointVendor and chargePointModel needed"})
        rec = self.record
        rec.vendor, rec.model = vendor, model
        serial = p.get("chargePointSerialNumber") or p.get("chargeBoxSerialNumber")
        rec.serial = str(serial) if serial is not None else None
        fw = p.get("firmwareVersion")
        rec.firmware = str(fw) if fw is not None else None
        log.info("%s: boot from %s %s (firmware %s)", self.id, vendor, model, rec.firmware)
        self.rebooted("Reboot")
        return call_result.BootNotification(
            current_time=now_iso(), interval=self.host.settings.heartbeat_s, status="Accepted"
        )

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

    async def on_start_transaction(self, p: dict[str, Any]) -> Any:
        cid, tag = p["connectorId"], p["idTag"]
        status = await self.check_tag(tag, "StartTransaction", cid if type(cid) is int else None)
        if not self.configured():  # never stored: an unconfigured box stores nothing
            self.stop_after_reply(0)
            return call_result.StartTransaction(transaction_id=0, id_tag_info={"status": status})
        try:
            state = self.record.connector(cid)
        except ConnectorLimit as exc:
            raise PropertyConstraintViolationError(details={"cause": str(exc)}) from None
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
            raise PropertyConstraintViolationError(details={"cause": str(exc)}) from None
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
        return call_result.StartTransaction(transaction_id=sid, id_tag_info={"status": status})

    async def on_stop_transaction(self, p: dict[str, Any]) -> Any:
        tx = p["transactionId"]
        state = next((s for s in self.record.connectors.values() if s.transaction_id == tx), None)
        if state is None:  # never another box's session, nor one closed already
            log.info("%s: StopTransaction for %s, not open on this box: ignored", self.id, tx)
        else:
            await self._stop_session(p, state)
        tag = p.get("idTag")
        info = {"status": self.authorize_tag(tag, "StopTransaction")} if tag else None
        return call_result.StopTransaction(id_tag_info=info)

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
            raise PropertyConstraintViolationError(details={"cause": str(exc)}) from None
        state.energy_wh = float(p["meterStop"])
        state.end_transaction()

    # ------------------------------------------------------------------ set-up after boot

    async def after_connect(self) -> None:
        await self._read_capabilities()
        await self.take_control()
        if not self.host.is_known(self.id):
            for c in range(1, (self.record.caps.connectors or 1) + 1):
                for pid in (DEFAULT_PROFILE_BASE + c, TX_PROFILE_BASE + c):
                    await self.try_request("ClearChargingProfile", {"id": pid})
        await self._configure_meter()
        if not self.status_seen.is_set():
            try:
                async with asyncio.timeout(self.STATUS_GRACE_S):
                    await self.status_seen.wait()
            except TimeoutError:
                log.info("%s: no StatusNotification yet, triggering one", self.id)
                await self.try_request("TriggerMessage", {"requestedMessage": "StatusNotification"})

    async def _read_capabilities(self) -> None:
        reply = await self.try_request("GetConfiguration", {"key": list(CONFIG_KEYS)})
        if reply is None:
            return
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
        self._config = values

    async def _configure_meter(self) -> None:
        values = getattr(self, "_config", {})
        interval = str(self.host.settings.sample_interval_s)
        if str(values.get("MeterValueSampleInterval")) != interval:
            await self.change_configuration("MeterValueSampleInterval", interval)
        current = [m.strip() for m in str(values.get("MeterValuesSampledData") or "").split(",")]
        if all(m in current for m in WANTED_MEASURANDS):
            self.record.caps.measurands = WANTED_MEASURANDS
            return
        accepted: list[str] = []
        for measurand in WANTED_MEASURANDS:  # some boxes reject one unknown measurand: probe
            status = await self.change_configuration(
                "MeterValuesSampledData", ",".join([*accepted, measurand])
            )
            if status in ("Accepted", "RebootRequired"):
                accepted.append(measurand)
            elif status is None:
                break
        self.record.caps.measurands = tuple(accepted)
        log.info("%s: meter values %s", self.id, ",".join(accepted) or "none accepted")

    # ------------------------------------------------------------------ requests to the box

    async def set_limit(
        self,
        connector: int,
        limit: float,
        unit: str,
        phases: int | None,
        *,
        profile_id: int,
        purpose: str,
        stack_level: int,
        relative: bool,
        transaction_id: int | str | None = None,
    ) -> tuple[str, str | None]:
        period: dict[str, Any] = {"startPeriod": 0, "limit": round(float(limit), 1)}
        if phases in (1, 2, 3):
            period["numberPhases"] = phases
        schedule: dict[str, Any] = {"chargingRateUnit": unit, "chargingSchedulePeriod": [period]}
        if not relative:
            schedule["startSchedule"] = schedule_start()
        profile: dict[str, Any] = {
            "chargingProfileId": profile_id,
            "stackLevel": stack_level,
            "chargingProfilePurpose": purpose,
            "chargingProfileKind": "Relative" if relative else "Absolute",
            "chargingSchedule": schedule,
        }
        if purpose == "TxProfile":
            profile["transactionId"] = transaction_id
        reply = await self.request(
            "SetChargingProfile", {"connectorId": connector, "csChargingProfiles": profile}
        )
        status = str(reply.get("status"))
        if status == "Accepted":
            self.record.installed.add(profile_id)
        return status, None

    async def clear_profile(self, profile_id: int) -> str:
        reply = await self.request("ClearChargingProfile", {"id": profile_id})
        status = str(reply.get("status"))
        if status == "Accepted":
            self.record.installed.discard(profile_id)
        return status

    async def change_configuration(self, key: str, value: str) -> str | None:
        reply = await self.try_request("ChangeConfiguration", {"key": key, "value": value})
        return None if reply is None else str(reply.get("status"))

    async def get_configuration(self, keys: list[str] | None = None) -> dict[str, Any]:
        return await self.request("GetConfiguration", {"key": keys} if keys else {})

    async def get_composite_schedule(
        self, connector: int, duration_s: int, unit: str | None = None
    ) -> dict[str, Any]:
        payload: dict[str, Any] = {"connectorId": connector, "duration": duration_s}
        if unit:
            payload["chargingRateUnit"] = unit
        return await self.request("GetCompositeSchedule", payload)

    async def trigger_message(self, message: str, connector: int | None = None) -> str:
        payload: dict[str, Any] = {"requestedMessage": message}
        if connector is not None:
            payload["connectorId"] = connector
        return str((await self.request("TriggerMessage", payload)).get("status"))

    async def remote_start(self, id_tag: str, connector: int | None = None) -> str:
        payload: dict[str, Any] = {"idTag": id_tag}
        if connector is not None:
            payload["connectorId"] = connector
        return str((await self.request("RemoteStartTransaction", payload)).get("status"))

    async def _stop_request(self, transaction_id: int | str) -> str:
        return await self.remote_stop(int(transaction_id))

    async def remote_stop(self, transaction_id: int) -> str:
        reply = await self.request("RemoteStopTransaction", {"transactionId": transaction_id})
        return str(reply.get("status"))

    async def reset(self, kind: str = "Soft") -> str:
        return str((await self.request("Reset", {"type": kind})).get("status"))

    async def change_availability(self, connector: int, operative: bool) -> str:
        kind = "Operative" if operative else "Inoperative"
        reply = await self.request("ChangeAvailability", {"connectorId": connector, "type": kind})
        return str(reply.get("status"))

    async def unlock_connector(self, connector: int) -> str:
        return str(
            (await self.request("UnlockConnector", {"connectorId": connector})).get("status")
        )
