"""Station management for the facade: admin actions on charge points, audited.

Every action, also a refused or unanswered one, is written to the audit log (who, when, box,
request, answer) and shown on the events page. A reservation the box accepted is also held in
the allocation (the reserved wallbox is kept free).
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any

from manager.audit import AuditLog
from manager.config import InvalidInput
from manager.model import (
    EventSink,
    StationActions,
    StationInputError,
    StationOffline,
    StationTimeout,
)
from manager.reservations import Reservations
from manager.transfers import Transfers

log = logging.getLogger(__name__)


class UnknownStationAction(KeyError):
    pass


_SECRET = re.compile(r"password|authorizationkey|secret|privatekey", re.IGNORECASE)


def redact(data: Any) -> Any:
    """A copy for the audit log without secrets: the value of a configuration key or variable
    whose name says it is a password or key (AuthorizationKey, BasicAuthPassword, ...)."""
    if isinstance(data, list):
        return [redact(item) for item in data]
    if not isinstance(data, dict):
        return data
    names = [data.get("key"), (data.get("variable") or {}).get("name")]
    secret = any(isinstance(n, str) and _SECRET.search(n) for n in names)
    out = {}
    for k, v in data.items():
        hidden = secret and k in ("value", "attributeValue", "variableAttribute")
        out[k] = "***" if hidden else redact(v)
    return out


class Stations:
    def __init__(
        self,
        actions: StationActions | None,
        audit: AuditLog,
        events: EventSink,
        devices: Callable[[], list[dict[str, Any]]],
        reservations: Reservations,
        transfers: Transfers,
        http_port: int = 8080,
    ) -> None:
        self.transfers = transfers
        self.http_port = http_port
        self.actions = actions
        self.audit = audit
        self.events = events
        self.devices = devices
        self.reservations = reservations

    async def run(self, cb_id: str, action: str, params: Any, who: str) -> dict[str, Any]:
        """The box's answer; raises UnknownStationAction, InvalidInput, StationOffline,
        StationTimeout."""
        if self.actions is None or action not in self.actions.actions:
            raise UnknownStationAction(f"no station action {action!r}")
        try:
            answer = await self.actions.run(
                cb_id, action, self._with_location(cb_id, action, params)
            )
        except StationInputError as exc:
            await self._audit(who, cb_id, action, params, "invalid", {"errors": exc.errors})
            raise InvalidInput(exc.errors) from None
        except StationOffline as exc:
            await self._audit(who, cb_id, action, params, "offline", {"error": str(exc)})
            raise
        except StationTimeout as exc:
            await self._audit(who, cb_id, action, params, "no_answer", {"error": str(exc)})
            raise
        await self._audit(who, cb_id, action, params, str(answer["status"]), answer["payload"])
        self._follow(cb_id, action, params, answer)
        return answer

    def _with_location(self, cb_id: str, action: str, params: Any) -> Any:
        """Firmware and logs travel through a one-time URL on ampshare's own web server."""
        if action not in ("firmware", "logs") or not isinstance(params, dict):
            return params
        if "location" in params:
            raise StationInputError([{"field": "location", "message": "set by ampshare"}])
        info = self.actions.identity(cb_id) if self.actions is not None else None
        if info is None or not info.get("connected"):
            raise StationOffline(f"{cb_id} is not connected")
        host = str(info.get("server_address") or "127.0.0.1")
        base = f"http://{f'[{host}]' if ':' in host else host}:{self.http_port}/transfer/"
        rest = {k: v for k, v in params.items() if k != "file_id"}
        if action == "logs":
            return {**rest, "location": base + self.transfers.ticket("upload", cb_id)}
        file_id = params.get("file_id")
        if not isinstance(file_id, str) or self.transfers.firmware_file(file_id) is None:
            raise StationInputError([{"field": "file_id", "message": "upload the firmware first"}])
        return {**rest, "location": base + self.transfers.ticket("download", cb_id, file_id)}

    async def _audit(
        self, who: str, cb_id: str, action: str, params: Any, status: str, answer: Any
    ) -> None:
        request, answer = redact(params), redact(answer)
        await asyncio.to_thread(self.audit.record, who, cb_id, action, request, status, answer)
        self.events(
            "station_action",
            f"{who}: {action} on {cb_id}: {status}",
            device=cb_id,
            params={"who": who, "action": action, "status": status},
        )

    def _follow(self, cb_id: str, action: str, params: Any, answer: dict[str, Any]) -> None:
        """What an accepted action means for ampshare itself."""
        if answer["status"] != "Accepted":
            return
        payload = answer["payload"]
        if action == "reserve":
            connector = int(params.get("connector_id") or 0)
            until = datetime.fromisoformat(str(payload["expires"]).replace("Z", "+00:00"))
            for device in self._devices_of(cb_id, connector):
                self.reservations.add(
                    device, int(payload["reservation_id"]), str(params["id_tag"]),
                    until.timestamp(),
                )  # fmt: skip
        elif action == "cancel_reservation":
            self.reservations.cancel(int(params["reservation_id"]))

    def _devices_of(self, cb_id: str, connector: int) -> list[str]:
        """Configured wallboxes of this box (connector 0: all of them)."""
        return [
            str(d["id"])
            for d in self.devices()
            if d.get("driver") == "ocpp"
            and d.get("address") == cb_id
            and (connector == 0 or int(d.get("connector_id", 1)) == connector)
        ]

    def station(self, cb_id: str) -> dict[str, Any] | None:
        """Identity and transfers of a box seen since start, with its configured devices."""
        info = self.actions.identity(cb_id) if self.actions is not None else None
        if info is None:
            return None
        return {
            **info,
            "devices": self._devices_of(cb_id, 0),
            "log_files": self.transfers.list("logs", cb_id),
        }
