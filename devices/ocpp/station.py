"""Admin actions on a connected charge point (configured or not), in either OCPP version.

`StationDesk.run(box, action, params)` checks the parameters (every mistake at once), sends the
version's request(s) and answers `{"status", "payload"}` with what the box really said. A box
that is not connected raises Offline; one that does not answer in time raises NoAnswer. Reports
that come in parts (2.0.1 GetBaseReport, GetChargingProfiles, GetDisplayMessages) are collected
from the StationInbox until the last part.
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from devices.ocpp.connection import CallTimeout, NotConnected, OcppCallError, OcppConnection
from devices.ocpp.station_inbox import StationInbox
from devices.ocpp.station_params import BadParams, check, check_payload, fields
from manager.model import StationOffline, StationTimeout

log = logging.getLogger(__name__)

#: how long to wait for the last part of a report after the box accepted the request (s)
REPORT_WAIT_S = 30.0

ACTIONS = (
    "profiles",
    "clear_profiles",
    "reset",
    "unlock",
    "availability",
    "trigger",
    "remote_start",
    "remote_stop",
    "configuration",
    "configure",
    "data_transfer",
    "reserve",
    "cancel_reservation",
    "display",
    "firmware",
    "logs",
    "certificates",
)


Offline = StationOffline
NoAnswer = StationTimeout


class UnknownAction(KeyError):
    pass


def _iso(dt: datetime) -> str:
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _answer(reply: dict[str, Any], status: str | None = None) -> dict[str, Any]:
    return {"status": status if status is not None else str(reply.get("status")), "payload": reply}


class StationDesk:
    """Sends admin actions to boxes through the OCPP server and returns their answers."""

    actions = ACTIONS

    def __init__(self, server: Any, report_wait_s: float = REPORT_WAIT_S) -> None:
        self.server = server
        self.report_wait_s = report_wait_s
        self._ids = itertools.count(int(time.time()) % 1_000_000 + 1)

    @property
    def inbox(self) -> StationInbox:
        return self.server.station  # type: ignore[no-any-return]

    def connection(self, cb_id: str) -> OcppConnection:
        conn = self.server.connection(cb_id)
        if conn is None:
            raise Offline(f"{cb_id} is not connected")
        return conn  # type: ignore[no-any-return]

    def next_id(self) -> int:
        return next(self._ids)

    async def run(self, cb_id: str, action: str, params: Any) -> dict[str, Any]:
        """The box's answer to `action`; raises UnknownAction, BadParams, Offline, NoAnswer."""
        if action not in ACTIONS:
            raise UnknownAction(action)
        conn = self.connection(cb_id)
        version = conn.version
        if action == "display" and version != "2.0.1":
            raise BadParams.one("action", "display messages need OCPP 2.0.1")
        values = check(params, fields(action, version))
        handler: Callable[[OcppConnection, dict[str, Any]], Awaitable[dict[str, Any]]]
        handler = getattr(self, f"_{action}")
        try:
            return await handler(conn, values)
        except CallTimeout as exc:
            raise NoAnswer(str(exc)) from None
        except NotConnected as exc:
            raise Offline(str(exc)) from None
        except OcppCallError as exc:
            return {
                "status": exc.code,
                "payload": {"error": exc.code, "description": exc.description},
            }

    async def send(self, conn: OcppConnection, action: str, payload: dict[str, Any]) -> Any:
        """One request, checked against the official schema first."""
        check_payload(action, conn.version, payload)
        return await conn.request(action, payload)

    async def _collect(
        self, conn: OcppConnection, kind: str, action: str, payload: dict[str, Any]
    ) -> dict[str, Any]:
        """A request answered by a report in parts: the reply, plus `parts` once accepted."""
        rid = payload["requestId"]
        coll = self.inbox.expect(conn.id, kind, rid)
        try:
            reply = await self.send(conn, action, payload)
            if reply.get("status") != "Accepted":
                return {"reply": reply, "parts": [], "complete": True}
            parts, complete = await self.inbox.gather(coll, self.report_wait_s)
        finally:
            self.inbox.forget(conn.id, kind, rid)
        return {"reply": reply, "parts": parts, "complete": complete}

    # ------------------------------------------------------------------ charging profiles

    def _connectors(self, conn: OcppConnection, wanted: int | None) -> list[int]:
        if wanted is not None:
            return [wanted]
        count = conn.record.caps.connectors or max([1, *conn.record.connectors])
        return list(range(0, min(count, 16) + 1))

    async def _profiles(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        v16 = conn.version == "1.6"
        schedules: dict[str, Any] = {}
        for c in self._connectors(conn, v["connector_id"]):
            payload: dict[str, Any] = {"connectorId" if v16 else "evseId": c,
                                       "duration": v["duration_s"]}  # fmt: skip
            if v["unit"]:
                payload["chargingRateUnit"] = v["unit"]
            schedules[str(c)] = await self.send(conn, "GetCompositeSchedule", payload)
        statuses = {str(r.get("status")) for r in schedules.values()}
        status = "Accepted" if "Accepted" in statuses else sorted(statuses)[0]
        result: dict[str, Any] = {"composite": schedules}
        if not v16:
            criteria: dict[str, Any] = {"requestId": self.next_id(), "chargingProfile": {}}
            if v["connector_id"] is not None:
                criteria["evseId"] = v["connector_id"]
            got = await self._collect(conn, "profiles", "GetChargingProfiles", criteria)
            result["report"] = got["reply"]
            result["profiles"] = [
                {"evse_id": part.get("evseId"), "source": part.get("chargingLimitSource"), **p}
                for part in got["parts"]
                for p in part.get("chargingProfile") or []
            ]
            if got["reply"].get("status") == "Accepted":
                status = "Accepted"
        return {"status": status, "payload": result}

    async def _clear_profiles(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        if conn.version == "1.6":
            payload = {
                k: v[f]
                for k, f in (
                    ("id", "id"),
                    ("connectorId", "connector_id"),
                    ("chargingProfilePurpose", "purpose"),
                    ("stackLevel", "stack_level"),
                )
                if v[f] is not None
            }
        else:
            crit = {
                k: v[f]
                for k, f in (
                    ("evseId", "connector_id"),
                    ("chargingProfilePurpose", "purpose"),
                    ("stackLevel", "stack_level"),
                )
                if v[f] is not None
            }
            payload = {"chargingProfileCriteria": crit} if crit else {}
            if v["id"] is not None:
                payload["chargingProfileId"] = v["id"]
        reply = await self.send(conn, "ClearChargingProfile", payload)
        if reply.get("status") == "Accepted":
            self._cleared(conn, v["id"])
        return _answer(reply)

    def _cleared(self, conn: OcppConnection, profile_id: int | None) -> None:
        """ampshare's own profiles may be gone too: a configured box under control gets its
        default-deny and setpoints again at once."""
        if profile_id is not None:
            conn.record.installed.discard(profile_id)
        else:
            conn.record.installed.clear()
        if conn.host.is_known(conn.id) and not conn.host.is_released(conn.id):
            conn.spawn(conn.take_control())

    # ------------------------------------------------------------------ box control

    async def _reset(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        return _answer(await self.send(conn, "Reset", {"type": v["type"]}))

    async def _unlock(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        if conn.version == "1.6":
            payload = {"connectorId": v["connector_id"]}
        else:
            payload = {"evseId": v["connector_id"], "connectorId": v["connector"]}
        return _answer(await self.send(conn, "UnlockConnector", payload))

    async def _availability(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        kind = "Operative" if v["operative"] else "Inoperative"
        c = v["connector_id"] or 0
        if conn.version == "1.6":
            payload: dict[str, Any] = {"connectorId": c, "type": kind}
        else:
            payload = {"operationalStatus": kind} | ({"evse": {"id": c}} if c else {})
        return _answer(await self.send(conn, "ChangeAvailability", payload))

    async def _trigger(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"requestedMessage": v["message"]}
        c = v["connector_id"]
        if conn.version == "1.6":
            if c is not None:
                payload["connectorId"] = c
        elif c is not None or v["message"] == "StatusNotification":
            payload["evse"] = {"id": c or 1, "connectorId": 1}
        return _answer(await self.send(conn, "TriggerMessage", payload))

    async def _remote_start(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        c = v["connector_id"]
        if conn.version == "1.6":
            payload: dict[str, Any] = {"idTag": v["id_tag"]}
            if c is not None:
                payload["connectorId"] = c
            return _answer(await self.send(conn, "RemoteStartTransaction", payload))
        payload = {
            "idToken": {"idToken": v["id_tag"], "type": "Central"},
            "remoteStartId": self.next_id(),
        }
        if c is not None:
            payload["evseId"] = c
        return _answer(await self.send(conn, "RequestStartTransaction", payload))

    async def _remote_stop(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        tx = v["transaction_id"]
        if tx is None:
            state = conn.record.connectors.get(v["connector_id"] or 1)
            tx = state.transaction_id if state is not None else None
        if tx is None:
            raise BadParams.one("transaction_id", "required: no transaction runs on the box")
        if conn.version == "1.6":
            if type(tx) is not int:
                raise BadParams.one("transaction_id", "expected a whole number")
            return _answer(await self.send(conn, "RemoteStopTransaction", {"transactionId": tx}))
        if not isinstance(tx, str | int) or isinstance(tx, bool):
            raise BadParams.one("transaction_id", "expected text")
        payload = {"transactionId": str(tx)}
        return _answer(await self.send(conn, "RequestStopTransaction", payload))

    # ------------------------------------------------------------------ configuration

    async def _configuration(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        if conn.version == "1.6":
            payload = {"key": v["keys"]} if v["keys"] else {}
            reply = await self.send(conn, "GetConfiguration", payload)
            return {"status": "Accepted", "payload": reply}
        request = {"requestId": self.next_id(), "reportBase": "FullInventory"}
        got = await self._collect(conn, "report", "GetBaseReport", request)
        data = [item for part in got["parts"] for item in part.get("reportData") or []]
        if v["keys"]:
            data = [d for d in data if _var_key(d) in v["keys"]]
        status = str(got["reply"].get("status"))
        if status == "Accepted" and not got["complete"]:
            status = "Incomplete"
        return {"status": status, "payload": {**got["reply"], "reportData": data}}

    async def _configure(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        key, value = v["key"], v["value"]
        if conn.version == "1.6":
            if len(key) > 50 or len(value) > 500:
                raise BadParams.one("key" if len(key) > 50 else "value", "too long for OCPP 1.6")
            reply = await self.send(conn, "ChangeConfiguration", {"key": key, "value": value})
            return _answer(reply)
        component, _, variable = key.partition(".")
        if not component or not variable:
            raise BadParams.one(
                "key", "expected Component.Variable, e.g. OCPPCommCtrlr.HeartbeatInterval"
            )
        data = {
            "component": {"name": component},
            "variable": {"name": variable},
            "attributeValue": value,
        }
        reply = await self.send(conn, "SetVariables", {"setVariableData": [data]})
        results = reply.get("setVariableResult") or [{}]
        return _answer(reply, str(results[0].get("attributeStatus")))

    # ------------------------------------------------------------------ misc

    async def _data_transfer(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        payload: dict[str, Any] = {"vendorId": v["vendor_id"]}
        if v["message_id"]:
            payload["messageId"] = v["message_id"]
        if v["data"] is not None:
            data = v["data"]
            if conn.version == "1.6" and not isinstance(data, str):
                raise BadParams.one("data", "OCPP 1.6 carries text only")
            payload["data"] = data
        return _answer(await self.send(conn, "DataTransfer", payload))

    async def _reserve(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        rid = v["reservation_id"] or self.next_id()
        expiry = _iso(datetime.now(UTC) + timedelta(minutes=v["minutes"]))
        c = v["connector_id"]
        if conn.version == "1.6":
            payload: dict[str, Any] = {
                "connectorId": c,
                "expiryDate": expiry,
                "idTag": v["id_tag"],
                "reservationId": rid,
            }
        else:
            payload = {
                "id": rid,
                "expiryDateTime": expiry,
                "idToken": {"idToken": v["id_tag"], "type": "Central"},
            } | ({"evseId": c} if c else {})
        reply = await self.send(conn, "ReserveNow", payload)
        reply = {**reply, "reservation_id": rid, "expires": expiry}
        return _answer(reply)

    async def _cancel_reservation(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        key = "reservationId"
        return _answer(await self.send(conn, "CancelReservation", {key: v["reservation_id"]}))

    async def _display(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        op = v["operation"]
        if op == "get":
            request = {"requestId": self.next_id()}
            got = await self._collect(conn, "display", "GetDisplayMessages", request)
            messages = [m for part in got["parts"] for m in part.get("messageInfo") or []]
            return _answer({**got["reply"], "messages": messages})
        if op == "clear":
            if v["id"] is None:
                raise BadParams.one("id", "required to clear a message")
            return _answer(await self.send(conn, "ClearDisplayMessage", {"id": v["id"]}))
        if not v["message"]:
            raise BadParams.one("message", "required")
        message: dict[str, Any] = {
            "id": v["id"] or self.next_id(),
            "priority": v["priority"],
            "message": {"format": "UTF8", "content": v["message"]},
        }
        if v["minutes"]:
            message["endDateTime"] = _iso(datetime.now(UTC) + timedelta(minutes=v["minutes"]))
        reply = await self.send(conn, "SetDisplayMessage", {"message": message})
        return _answer({**reply, "id": message["id"]})

    # ------------------------------------------------------------------ transfers

    def _retries(self, v: dict[str, Any]) -> dict[str, Any]:
        out = {"retries": v["retries"], "retryInterval": v["retry_interval_s"]}
        return {k: x for k, x in out.items() if x is not None}

    async def _firmware(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        """UpdateFirmware; the box reports progress in FirmwareStatusNotification."""
        when = _iso(datetime.now(UTC) + timedelta(seconds=v["retrieve_in_s"]))
        rid: int | None = None
        if conn.version == "1.6":
            payload = {"location": v["location"], "retrieveDate": when, **self._retries(v)}
        else:
            rid = self.next_id()
            firmware = {"location": v["location"], "retrieveDateTime": when}
            for key, field in (("signingCertificate", "signing_certificate"),
                               ("signature", "signature")):  # fmt: skip
                if v[field]:
                    firmware[key] = v[field]
            payload = {"requestId": rid, "firmware": firmware, **self._retries(v)}
        check_payload("UpdateFirmware", conn.version, payload)
        self.inbox.start_transfer(conn.id, "firmware", rid)  # before: progress may come at once
        reply = await self.send(conn, "UpdateFirmware", payload)
        status = str(reply.get("status", "Accepted"))  # 1.6 answers an empty object
        if not status.startswith("Accepted"):
            self.inbox.step(conn.id, "firmware", status, {})
        return _answer(reply, status)

    async def _logs(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        """GetDiagnostics (1.6) / GetLog (2.0.1): the box uploads to `location`."""
        rid: int | None = None
        if conn.version == "1.6":
            action, payload = "GetDiagnostics", {"location": v["location"], **self._retries(v)}
        else:
            rid = self.next_id()
            action, payload = (
                "GetLog",
                {
                    "logType": v["log_type"],
                    "requestId": rid,
                    "log": {"remoteLocation": v["location"]},
                    **self._retries(v),
                },
            )
        check_payload(action, conn.version, payload)
        self.inbox.start_transfer(conn.id, "logs", rid)
        reply = await self.send(conn, action, payload)
        if conn.version == "1.6":  # no fileName: the box has nothing to upload
            status = "Accepted" if reply.get("fileName") else "NoFile"
        else:
            status = str(reply.get("status"))
        if not status.startswith("Accepted"):
            self.inbox.step(conn.id, "logs", status, {})
        return _answer(reply, status)

    # ------------------------------------------------------------------ certificates

    async def _certificates(self, conn: OcppConnection, v: dict[str, Any]) -> dict[str, Any]:
        """Install ampshare's server CA on the box, list or delete its certificates, or ask it
        for a new CSR (answered by ampshare's local CA, see station_routes)."""
        op, v16 = v["operation"], conn.version == "1.6"
        ctype = v["certificate_type"]
        if op == "install":
            payload = {
                "certificateType": ctype or ("CentralSystemRootCertificate" if v16 else
                                             "CSMSRootCertificate"),
                "certificate": root_of(self.server.certificate_pem()),
            }  # fmt: skip
            return _answer(await self.send(conn, "InstallCertificate", payload))
        if op == "list":
            if v16:
                payload = {"certificateType": ctype or "CentralSystemRootCertificate"}
            else:
                payload = {"certificateType": [ctype]} if ctype else {}
            return _answer(await self.send(conn, "GetInstalledCertificateIds", payload))
        if op == "delete":
            needed = ("issuer_name_hash", "issuer_key_hash", "serial_number")
            missing = [{"field": f, "message": "required to delete"} for f in needed if not v[f]]
            if missing:
                raise BadParams(missing)
            data = {
                "hashAlgorithm": v["hash_algorithm"],
                "issuerNameHash": v["issuer_name_hash"],
                "issuerKeyHash": v["issuer_key_hash"],
                "serialNumber": v["serial_number"],
            }
            return _answer(
                await self.send(conn, "DeleteCertificate", {"certificateHashData": data})
            )
        if v16:
            payload = {"requestedMessage": "SignChargePointCertificate"}
            return _answer(await self.send(conn, "ExtendedTriggerMessage", payload))
        payload = {"requestedMessage": "SignChargingStationCertificate"}
        return _answer(await self.send(conn, "TriggerMessage", payload))

    # ------------------------------------------------------------------ for the Station page

    def identity(self, cb_id: str) -> dict[str, Any] | None:
        """What the Station page shows about a box seen since start (None: never seen)."""
        rec = self.server.record(cb_id)
        if rec is None:
            return None
        conn = self.server.connection(cb_id)
        info: dict[str, Any] = {
            "id": rec.id,
            "vendor": rec.vendor,
            "model": rec.model,
            "serial": rec.serial,
            "firmware": rec.firmware,
            "protocol": rec.protocol,
            "connected": conn is not None,
            "connected_since": None,
            "address": None,
            "security_profile": None,
            "known": self.server.is_known(cb_id),
            "server_address": None,
        }
        if conn is not None:
            info["connected_since"] = _iso(datetime.fromtimestamp(conn.connected_at, UTC))
            addr = conn.ws.remote_address
            info["address"] = f"{addr[0]}:{addr[1]}" if addr else None
            info["security_profile"] = security_profile(conn)
            local = conn.ws.local_address
            info["server_address"] = str(local[0]) if local else None
        for kind in ("firmware", "logs"):
            transfer = self.inbox.transfer(cb_id, kind)
            info[f"{kind}_transfer"] = (
                None if transfer is None else {"status": transfer.status, "steps": transfer.steps}
            )
        return info


def security_profile(conn: OcppConnection) -> int:
    """0 none, 1 password, 2 TLS + password, 3 TLS + client certificate."""
    transport = conn.ws.transport
    tls = transport.get_extra_info("ssl_object") is not None
    if tls and transport.get_extra_info("peercert"):
        return 3
    authenticated = bool(getattr(conn.ws, "ocpp_authenticated", False))
    if not authenticated:
        return 0
    return 2 if tls else 1


def root_of(chain_pem: str) -> str:
    """The last certificate of a PEM chain: the root a box should trust."""
    marker = "-----BEGIN CERTIFICATE-----"
    blocks = [marker + b for b in chain_pem.split(marker)[1:]]
    return blocks[-1].strip() + "\n" if blocks else chain_pem


def _var_key(item: dict[str, Any]) -> str:
    comp = (item.get("component") or {}).get("name")
    var = (item.get("variable") or {}).get("name")
    return f"{comp}.{var}"
