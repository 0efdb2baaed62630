"""OCPP 1.6J as the gateway speaks it: the messages it sends and the backend's commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.v16.enums import Action

from devices.ocpp.gateway_profiles import iso

if TYPE_CHECKING:
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
