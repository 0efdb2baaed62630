"""OCPP 2.0.1 as the gateway speaks it: TransactionEvent, variables, the backend's commands."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ocpp.v201.enums import Action

from devices.ocpp.gateway_profiles import iso

if TYPE_CHECKING:
    from devices.ocpp.gateway_queue import Entry, GatewayQueue

SUBPROTOCOL = "ocpp2.0.1"
FORMAT_ERROR = "FormatViolation"
ACTIONS = frozenset(a.value for a in Action)

#: 1.6 connector status words -> 2.0.1 connector status
CONNECTOR_STATUS = {
    "Available": "Available",
    "Unavailable": "Unavailable",
    "Faulted": "Faulted",
    "Reserved": "Reserved",
}
#: 1.6 stop reason -> (2.0.1 stoppedReason, triggerReason)
STOP_REASONS = {
    "EVDisconnected": ("EVDisconnected", "EVDeparted"),
    "Remote": ("Remote", "RemoteStop"),
    "PowerLoss": ("PowerLoss", "AbnormalCondition"),
    "Reboot": ("Reboot", "AbnormalCondition"),
    "SoftReset": ("ImmediateReset", "ResetCommand"),
    "HardReset": ("ImmediateReset", "ResetCommand"),
    "ImmediateReset": ("ImmediateReset", "ResetCommand"),
    "OnIdleReset": ("ImmediateReset", "ResetCommand"),
    "Local": ("Local", "StopAuthorized"),
}
#: 2.0.1 variables (component, variable) <-> the gateway's configuration keys
VARIABLES = {
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): "MeterValuesSampledData",
    ("SampledDataCtrlr", "TxUpdatedInterval"): "MeterValueSampleInterval",
    ("AlignedDataCtrlr", "Measurands"): "MeterValuesSampledData",
    ("OCPPCommCtrlr", "HeartbeatInterval"): "HeartbeatInterval",
    ("OCPPCommCtrlr", "MessageAttempts"): "TransactionMessageAttempts",
    ("OCPPCommCtrlr", "MessageAttemptInterval"): "TransactionMessageRetryInterval",
    ("AuthCacheCtrlr", "Enabled"): "AuthorizationCacheEnabled",
}
TRIGGERS = {"BootNotification", "StatusNotification", "MeterValues", "Heartbeat",
            "FirmwareStatusNotification", "LogStatusNotification"}  # fmt: skip


def _token(tag: str) -> dict[str, str]:
    return {"idToken": tag[:36], "type": "ISO14443"}


class Messages:
    version = "2.0.1"
    END_ACTIONS = frozenset({"TransactionEvent"})

    @staticmethod
    def boot(ident: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        if ident.get("raw"):  # an OCPP box: exactly what it sent
            return "BootNotification", ident["raw"]
        station: dict[str, Any] = {
            "vendorName": (ident.get("vendor") or "ampshare")[:50],
            "model": (ident.get("model") or "ampshare gateway")[:20],
        }
        if ident.get("serial"):
            station["serialNumber"] = str(ident["serial"])[:25]
        if ident.get("firmware"):
            station["firmwareVersion"] = str(ident["firmware"])[:50]
        return "BootNotification", {"reason": "PowerUp", "chargingStation": station}

    @staticmethod
    def status(connector: int, word: str, info: str | None, ts: float) -> tuple[str, Any]:
        return "StatusNotification", {
            "timestamp": iso(ts),
            "connectorStatus": CONNECTOR_STATUS.get(word, "Occupied"),
            "evseId": 1,
            "connectorId": 1,
        }

    @staticmethod
    def authorize(tag: str) -> tuple[str, dict[str, Any]]:
        return "Authorize", {"idToken": _token(tag)}

    @staticmethod
    def auth_result(reply: dict[str, Any]) -> tuple[str, str | None]:
        info = reply.get("idTokenInfo") or {}
        return str(info.get("status")), info.get("cacheExpiryDateTime")

    @staticmethod
    def sample(measurand: str, value: float, unit: str, phase: str | None) -> dict[str, Any]:
        sv: dict[str, Any] = {
            "value": round(value, 1),
            "context": "Sample.Periodic",
            "measurand": measurand,
            "unitOfMeasure": {"unit": unit},
        }
        if phase:
            sv["phase"] = phase
        return sv

    @staticmethod
    def _event(kind: str, trigger: str, ts: float, **extra: Any) -> tuple[str, dict[str, Any]]:
        p = {
            "eventType": kind,
            "timestamp": iso(ts),
            "triggerReason": trigger,
            "seqNo": 0,
            "transactionInfo": {"transactionId": ""},
            **extra,
        }
        return "TransactionEvent", p

    @classmethod
    def start(cls, connector: int, tag: str, meter_wh: float, ts: float) -> tuple[str, Any]:
        begin = cls.sample("Energy.Active.Import.Register", meter_wh, "Wh", None)
        begin["context"] = "Transaction.Begin"
        return cls._event(
            "Started",
            "Authorized",
            ts,
            idToken=_token(tag),
            evse={"id": 1, "connectorId": 1},
            meterValue=[{"timestamp": iso(ts), "sampledValue": [begin]}],
        )

    @classmethod
    def meter(cls, connector: int, sampled: list[dict[str, Any]], ts: float) -> tuple[str, Any]:
        return cls._event(
            "Updated", "MeterValuePeriodic", ts,
            meterValue=[{"timestamp": iso(ts), "sampledValue": sampled}],
        )  # fmt: skip

    @staticmethod
    def plain_meter(sampled: list[dict[str, Any]], ts: float) -> tuple[str, Any]:
        """Meter values outside a TransactionEvent (a TriggerMessage)."""
        return "MeterValues", {"evseId": 1, "meterValue": [{"timestamp": iso(ts),
                                                            "sampledValue": sampled}]}  # fmt: skip

    @classmethod
    def stop(cls, tag: str | None, meter_wh: float, ts: float, reason: str) -> tuple[str, Any]:
        stopped, trigger = STOP_REASONS.get(reason, ("Other", "AbnormalCondition"))
        end = cls.sample("Energy.Active.Import.Register", meter_wh, "Wh", None)
        end["context"] = "Transaction.End"
        action, p = cls._event(
            "Ended", trigger, ts, meterValue=[{"timestamp": iso(ts), "sampledValue": [end]}]
        )
        p["transactionInfo"]["stoppedReason"] = stopped
        return action, p

    @staticmethod
    def stamp(payload: dict[str, Any], tx: dict[str, Any], *, offline: bool) -> dict[str, Any]:
        """2.0.1: the station numbers its events and names the transaction itself."""
        payload = {**payload, "seqNo": int(tx.get("seq", 0))}
        tx["seq"] = payload["seqNo"] + 1
        payload["transactionInfo"] = {**payload["transactionInfo"], "transactionId": tx["key"]}
        if offline:
            payload["offline"] = True
        return payload

    @staticmethod
    def outgoing(entry: Entry, tx_ids: dict[str, Any]) -> dict[str, Any] | None:
        return entry.payload

    @staticmethod
    def answered(entry: Entry, reply: dict[str, Any], queue: GatewayQueue) -> None:
        return None

    @staticmethod
    def idle_status(message: str) -> tuple[str, dict[str, Any]]:
        return message, {"status": "Idle"}
