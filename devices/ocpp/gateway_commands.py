"""The billing backend's commands to the gateway, for both OCPP versions.

Same design as the server side (devices/ocpp/routing.py, docs/ocpp.md "Design"): each request is
checked against the official JSON schema, handed to its `@handles` method with the payload
exactly as sent, and answered. One method serves a command in both versions; what differs is a
few field names (`Words`). The answers a backend sees are the ones the `ocpp` library's
ChargePoint gave before: same fields, same CALLERROR codes (1.6 spells FormationViolation).
"""

from __future__ import annotations

import inspect
import json
import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from devices.ocpp import gateway_v16, gateway_v201
from devices.ocpp.connection import ComplaintLog
from devices.ocpp.errors import BadMessage
from devices.ocpp.gateway_profiles import iso
from devices.ocpp.gateway_v201 import VARIABLES
from devices.ocpp.routing import check, compact, handles, route_table

if TYPE_CHECKING:
    from devices.ocpp.gateway import Gateway

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Words:
    """What the two versions call the same thing in the backend's commands."""

    format_error: str
    evse: str  # the connector / EVSE number of a command
    profile: str  # the profile in SetChargingProfile
    unlock_failed: str  # UnlockConnector answer when no box answers
    triggers: frozenset[str]


WORDS = {
    "1.6": Words(
        gateway_v16.FORMAT_ERROR,
        "connectorId",
        "csChargingProfiles",
        "NotSupported",
        frozenset(gateway_v16.TRIGGERS),
    ),
    "2.0.1": Words(
        gateway_v201.FORMAT_ERROR,
        "evseId",
        "chargingProfile",
        "UnlockFailed",
        frozenset(gateway_v201.TRIGGERS),
    ),
}


class Commands:
    """Routes and answers the backend's requests on one link."""

    ROUTES: ClassVar[dict[str, tuple[str, bool]]] = {}

    def __init__(self, gw: Gateway, ws: Any) -> None:
        self.gw = gw
        self.ws = ws
        self.version: str = gw.msgs.version
        self.words = WORDS[self.version]
        self.complaints = ComplaintLog(f"{gw.id} gateway")  # a chatty backend cannot fill the log
        #: the commands this version has (the link answers others NotSupported/NotImplemented)
        self.route_map = {a: r for a, r in self.ROUTES.items() if a in gw.dialect.ACTIONS}

    async def route_message(self, raw: str) -> None:
        """Answer one CALL (the link checked the frame and that the action is routed)."""
        _, uid, action, payload = json.loads(raw)
        try:
            frame: list[Any] = [3, uid, await self._answer(action, payload)]
        except BadMessage as exc:
            self.complaints.warning(
                log, "%s: refused %s from the backend: %s", self.gw.id, action, exc
            )
            code = self.words.format_error if exc.code == "FormatViolation" else exc.code
            frame = [4, uid, code, exc.description, {}]
        except Exception as exc:  # a bug costs one answer, never the link
            self.complaints.warning(
                log, "%s: %s from the backend failed: %r", self.gw.id, action, exc
            )
            frame = [4, uid, "InternalError", "An unexpected error occurred.", {}]
        await self.ws.send(json.dumps(frame, separators=(",", ":"), ensure_ascii=False))

    async def _answer(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        name, _ = self.ROUTES[action]
        check(self.version, action, payload)
        answer = getattr(self, name)(payload)
        result = compact(await answer if inspect.isawaitable(answer) else answer)
        check(self.version, action, result, reply=True)
        return result  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ transactions

    @handles("RemoteStartTransaction")
    @handles("RequestStartTransaction")
    async def remote_start(self, p: dict[str, Any]) -> dict[str, Any]:
        if p.get(self.words.evse, 1) != 1:
            return {"status": "Rejected"}
        tag = p["idTag"] if self.version == "1.6" else p["idToken"]["idToken"]
        return {"status": await self.gw.remote_start(str(tag), p.get("chargingProfile"))}

    @handles("RemoteStopTransaction")
    @handles("RequestStopTransaction")
    async def remote_stop(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": await self.gw.remote_stop(p["transactionId"])}

    # ------------------------------------------------------------------ smart charging

    @handles("SetChargingProfile")
    def set_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        words = self.words
        return {"status": self.gw.set_profile(int(p[words.evse]), p[words.profile])}

    @handles("ClearChargingProfile")
    def clear_profile(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.version == "1.6":
            crit, profile_id, evse = p, p.get("id"), p.get("connectorId")
        else:
            crit = p.get("chargingProfileCriteria") or {}
            profile_id, evse = p.get("chargingProfileId"), crit.get("evseId")
        criteria = {
            "id": profile_id,
            "connector": evse,
            "purpose": crit.get("chargingProfilePurpose"),
            "stack": crit.get("stackLevel"),
        }
        return {"status": self.gw.clear_profiles(criteria)}

    @handles("GetCompositeSchedule")
    def composite(self, p: dict[str, Any]) -> dict[str, Any]:
        evse, duration = int(p[self.words.evse]), int(p["duration"])
        if evse > 1:
            return {"status": "Rejected"}
        start, periods = self.gw.composite(duration)
        schedule: dict[str, Any] = {"duration": duration}
        if self.version == "1.6":
            schedule["startSchedule"] = iso(start)
        else:
            schedule = {"evseId": evse, **schedule, "scheduleStart": iso(start)}
        schedule |= {"chargingRateUnit": "A", "chargingSchedulePeriod": periods}
        if self.version == "1.6":
            return {
                "status": "Accepted",
                "connectorId": evse,
                "scheduleStart": iso(start),
                "chargingSchedule": schedule,
            }
        return {"status": "Accepted", "schedule": schedule}

    # ------------------------------------------------------------------ configuration

    @handles("ChangeConfiguration")
    def change_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        return {"status": self.gw.change_key(str(p["key"]), str(p["value"]))}

    @handles("GetConfiguration")
    def get_configuration(self, p: dict[str, Any]) -> dict[str, Any]:
        known, unknown = self.gw.get_keys(p.get("key") or [])
        items = [{"key": k, "readonly": ro, "value": v} for k, v, ro in known]
        return {"configurationKey": items, "unknownKey": unknown or None}

    @handles("GetVariables")
    def get_variables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in p["getVariableData"]:
            key = VARIABLES.get((item["component"]["name"], item["variable"]["name"]))
            found = key is not None and key in self.gw.config.keys
            result = {
                "attributeStatus": "Accepted" if found else "UnknownVariable",
                "component": item["component"],
                "variable": item["variable"],
            }
            if found and key is not None:
                result["attributeValue"] = self.gw.config.keys[key]
            results.append(result)
        return {"getVariableResult": results}

    @handles("SetVariables")
    def set_variables(self, p: dict[str, Any]) -> dict[str, Any]:
        results = []
        for item in p["setVariableData"]:
            key = VARIABLES.get((item["component"]["name"], item["variable"]["name"]))
            status = "UnknownVariable"
            if key is not None:
                changed = self.gw.change_key(key, str(item["attributeValue"]))
                status = "Accepted" if changed == "Accepted" else "Rejected"
            results.append(
                {"attributeStatus": status, "component": item["component"],
                 "variable": item["variable"]}
            )  # fmt: skip
        return {"setVariableResult": results}

    # ------------------------------------------------------------------ the box

    @handles("TriggerMessage")
    def trigger(self, p: dict[str, Any]) -> dict[str, Any]:
        msg = str(p["requestedMessage"])
        if msg not in self.words.triggers:
            return {"status": "NotImplemented"}
        self.gw.trigger(msg)
        return {"status": "Accepted"}

    @handles("ChangeAvailability")
    def availability(self, p: dict[str, Any]) -> dict[str, Any]:
        if self.version == "1.6":
            evse, word = int(p["connectorId"]), p["type"]
        else:
            evse, word = int((p.get("evse") or {}).get("id", 0)), p["operationalStatus"]
        if evse > 1:
            return {"status": "Rejected"}
        return {"status": self.gw.set_operative(word == "Operative")}

    @handles("Reset")
    def reset(self, p: dict[str, Any]) -> dict[str, Any]:
        self.gw.reset(f"{p['type']}Reset")
        return {"status": "Accepted"}

    @handles("UnlockConnector")
    async def unlock(self, p: dict[str, Any]) -> dict[str, Any]:
        reply = await self.gw.relay_command("UnlockConnector", p)
        return {"status": str((reply or {}).get("status") or self.words.unlock_failed)}

    @handles("DataTransfer")
    async def data_transfer(self, p: dict[str, Any]) -> dict[str, Any]:
        reply = await self.gw.relay_command("DataTransfer", p)
        if reply is None:
            return {"status": "Rejected"}
        return {"status": str(reply.get("status")), "data": reply.get("data")}

    @handles("ClearCache")
    def clear_cache(self, p: dict[str, Any]) -> dict[str, Any]:
        self.gw.clear_cache()
        return {"status": "Accepted"}


Commands.ROUTES = route_table(Commands)


def in_backend_version(msgs: Any, tag: str, payload: dict[str, Any]) -> dict[str, Any]:
    """An Authorize in the backend's version: a 1.6 box's (or the dashboard's `idTag`) behind a
    2.0.1 backend gets an `idToken`, and the reverse; the same version is relayed as sent."""
    built: dict[str, Any] = msgs.authorize(tag)[1]
    return payload if ("idTag" in payload) == ("idTag" in built) else built
