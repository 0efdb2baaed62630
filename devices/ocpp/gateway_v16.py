"""OCPP 1.6J as the gateway speaks it: the messages it sends and the backend's commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.routing import on
from ocpp.v16 import ChargePoint
from ocpp.v16 import call_result as res
from ocpp.v16.enums import Action

from devices.ocpp.connection import ComplaintLog, WireLog
from devices.ocpp.gateway_profiles import iso

if TYPE_CHECKING:
    from devices.ocpp.gateway import Gateway
    from devices.ocpp.gateway_queue import Entry, GatewayQueue

SUBPROTOCOL = "ocpp1.6"
FORMAT_ERROR = "FormationViolation"
TX_ACTIONS = frozenset({"StartTransaction", "StopTransaction"})
TRIGGERS = {
    "BootNotification",
    "StatusNotification",
    "MeterValues",
    "Heartbeat",
    "DiagnosticsStatusNotification",
    "FirmwareStatusNotification",
}
ACTIONS = frozenset(a.value for a in Action)


class Messages:
    """Payloads the gateway sends, as the 1.6 schemas want them."""

    version = "1.6"
    END_ACTIONS = frozenset({"StopTransaction"})

    @staticmethod
    def outgoing(entry: Entry, tx_ids: dict[str, Any]) -> dict[str, Any] | None:
        """The payload as sent: later messages of a transaction carry the backend's id."""
        if entry.tx is None or entry.action == "StartTransaction":
            return entry.payload
        backend_id = tx_ids.get(entry.tx)
        if backend_id is None:
            return None
        return {**entry.payload, "transactionId": backend_id}

    @staticmethod
    def answered(entry: Entry, reply: dict[str, Any], queue: GatewayQueue) -> None:
        if entry.action == "StartTransaction" and entry.tx and "transactionId" in reply:
            queue.set_tx_id(entry.tx, reply["transactionId"])

    @staticmethod
    def stamp(payload: dict[str, Any], tx: dict[str, Any], *, offline: bool) -> dict[str, Any]:
        return payload

    @staticmethod
    def idle_status(message: str) -> tuple[str, dict[str, Any]]:
        return message, {"status": "Idle"}

    @staticmethod
    def boot(ident: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if ident.get("raw"):  # an OCPP box: exactly what it sent
            return "BootNotification", ident["raw"]
        p = {
            "chargePointVendor": (ident.get("vendor") or "ampshare")[:20],
            "chargePointModel": (ident.get("model") or "ampshare gateway")[:20],
        }
        if ident.get("serial"):
            p["chargePointSerialNumber"] = str(ident["serial"])[:25]
        if ident.get("firmware"):
            p["firmwareVersion"] = str(ident["firmware"])[:50]
        return "BootNotification", p

    @staticmethod
    def status(connector: int, word: str, info: str | None, ts: float) -> tuple[str, Any]:
        p: dict[str, Any] = {
            "connectorId": connector,
            "errorCode": "OtherError" if word == "Faulted" else "NoError",
            "status": word,
            "timestamp": iso(ts),
        }
        if info:
            p["info"] = info[:50]
        return "StatusNotification", p

    @staticmethod
    def authorize(tag: str) -> tuple[str, dict[str, Any]]:
        return "Authorize", {"idTag": tag[:20]}

    @staticmethod
    def auth_result(reply: dict[str, Any]) -> tuple[str, str | None]:
        info = reply.get("idTagInfo") or {}
        return str(info.get("status")), info.get("expiryDate")

    @staticmethod
    def start(connector: int, tag: str, meter_wh: float, ts: float) -> tuple[str, Any]:
        return "StartTransaction", {
            "connectorId": connector,
            "idTag": tag[:20],
            "meterStart": round(meter_wh),
            "timestamp": iso(ts),
        }

    @staticmethod
    def meter(connector: int, sampled: list[dict[str, Any]], ts: float) -> tuple[str, Any]:
        return "MeterValues", {
            "connectorId": connector,
            "meterValue": [{"timestamp": iso(ts), "sampledValue": sampled}],
        }

    @classmethod
    def plain_meter(cls, sampled: list[dict[str, Any]], ts: float) -> tuple[str, Any]:
        """Meter values outside the transaction queue (a TriggerMessage)."""
        return cls.meter(1, sampled, ts)

    @staticmethod
    def stop(tag: str | None, meter_wh: float, ts: float, reason: str) -> tuple[str, Any]:
        p: dict[str, Any] = {
            "meterStop": round(meter_wh),
            "timestamp": iso(ts),
            "reason": reason,
        }
        if tag:
            p["idTag"] = tag[:20]
        return "StopTransaction", p

    @staticmethod
    def sample(measurand: str, value: float, unit: str, phase: str | None) -> dict[str, Any]:
        sv = {
            "value": f"{value:.1f}" if unit != "Wh" else str(round(value)),
            "context": "Sample.Periodic",
            "measurand": measurand,
            "unit": unit,
        }
        if phase:
            sv["phase"] = phase
        return sv


class Router(ChargePoint):
    """The backend's commands, routed and schema-checked by the `ocpp` library."""

    def __init__(self, gw: Gateway, ws: Any) -> None:
        super().__init__(gw.settings.client_id, ws, logger=WireLog(ComplaintLog(gw.id)))
        self.gw = gw

    def _raw(self, uid: str) -> dict[str, Any]:
        return self.gw.link_raw(uid)

    async def _send(self, message: str) -> None:
        """1.6 names the error FormationViolation (the library uses 2.0.1's FormatViolation)."""
        if message.startswith("[4") and '"FormatViolation"' in message[:80]:
            message = message.replace('"FormatViolation"', '"FormationViolation"', 1)
        await super()._send(message)

    @on(Action.remote_start_transaction)
    async def _remote_start(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        if p.get("connectorId", 1) != 1:
            return res.RemoteStartTransaction(status="Rejected")
        status = await self.gw.remote_start(str(p["idTag"]), p.get("chargingProfile"))
        return res.RemoteStartTransaction(status=status)

    @on(Action.remote_stop_transaction)
    async def _remote_stop(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        return res.RemoteStopTransaction(status=await self.gw.remote_stop(p["transactionId"]))

    @on(Action.set_charging_profile)
    def _set_profile(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        status = self.gw.set_profile(int(p["connectorId"]), p["csChargingProfiles"])
        return res.SetChargingProfile(status=status)

    @on(Action.clear_charging_profile)
    def _clear_profile(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        criteria = {
            "id": p.get("id"),
            "connector": p.get("connectorId"),
            "purpose": p.get("chargingProfilePurpose"),
            "stack": p.get("stackLevel"),
        }
        return res.ClearChargingProfile(status=self.gw.clear_profiles(criteria))

    @on(Action.get_composite_schedule)
    def _composite(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        connector, duration = int(p["connectorId"]), int(p["duration"])
        if connector > 1:
            return res.GetCompositeSchedule(status="Rejected")
        start, periods = self.gw.composite(duration)
        schedule = {
            "duration": duration,
            "startSchedule": iso(start),
            "chargingRateUnit": "A",
            "chargingSchedulePeriod": periods,
        }
        return res.GetCompositeSchedule(
            status="Accepted",
            connector_id=connector,
            schedule_start=iso(start),
            charging_schedule=schedule,
        )

    @on(Action.change_configuration)
    def _change_configuration(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        status = self.gw.change_key(str(p["key"]), str(p["value"]))
        return res.ChangeConfiguration(status=status)

    @on(Action.get_configuration)
    def _get_configuration(self, call_unique_id: str, **_: Any) -> Any:
        keys = self._raw(call_unique_id).get("key") or []
        known, unknown = self.gw.get_keys(keys)
        items = [{"key": k, "readonly": ro, "value": v} for k, v, ro in known]
        return res.GetConfiguration(configuration_key=items, unknown_key=unknown or None)

    @on(Action.trigger_message)
    def _trigger(self, call_unique_id: str, **_: Any) -> Any:
        msg = str(self._raw(call_unique_id)["requestedMessage"])
        if msg not in TRIGGERS:
            return res.TriggerMessage(status="NotImplemented")
        self.gw.trigger(msg)
        return res.TriggerMessage(status="Accepted")

    @on(Action.change_availability)
    def _availability(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        if int(p["connectorId"]) > 1:
            return res.ChangeAvailability(status="Rejected")
        return res.ChangeAvailability(status=self.gw.set_operative(p["type"] == "Operative"))

    @on(Action.reset)
    def _reset(self, call_unique_id: str, **_: Any) -> Any:
        kind = str(self._raw(call_unique_id)["type"])
        self.gw.reset(f"{kind}Reset")
        return res.Reset(status="Accepted")

    @on(Action.unlock_connector)
    async def _unlock(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        status = await self.gw.relay_command("UnlockConnector", p)
        return res.UnlockConnector(status=str((status or {}).get("status") or "NotSupported"))

    @on(Action.data_transfer)
    async def _data_transfer(self, call_unique_id: str, **_: Any) -> Any:
        p = self._raw(call_unique_id)
        reply = await self.gw.relay_command("DataTransfer", p)
        if reply is None:
            return res.DataTransfer(status="Rejected")
        return res.DataTransfer(status=str(reply.get("status")), data=reply.get("data"))

    @on(Action.clear_cache)
    def _clear_cache(self, **_: Any) -> Any:
        self.gw.clear_cache()
        return res.ClearCache(status="Accepted")
