"""Where every presented tag arrives: OCPP boxes ask here, the control loop reports the tags
of boxes with a reader. Decides with the Authorizer (and the billing backend for `gateway`
boxes), feeds teach-in, logs refused attempts as events, and remembers how each tag was
authorized so the session records it.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from manager.authorize import ACCEPTED, Authorizer, Decision, mode_of
from manager.teachin import TeachIn
from manager.users import UserConfig

log = logging.getLogger(__name__)

#: how many recent decisions are kept for sessions to pick up
_MEMORY = 256
#: how long an OCPP box has to begin what a start from the dashboard asked for (s)
REMOTE_S = 180.0


class BackendTags(Protocol):
    """The billing gateways, as far as tags are concerned (devices/ocpp/gateway_hub.py): the
    backend's idTagInfo for a relayed box's tag, after the gateway's cache and its per-box
    fallback setting (None: no gateway relays this box)."""

    async def box_authorize(self, cb_id: str, payload: dict[str, Any]) -> dict[str, Any] | None: ...

    async def authorize(self, evse_id: str, tag: str) -> str | None:
        """Authorize `tag` at this box's backend (a start from the dashboard); None: no
        gateway for this box."""
        ...


class TagDesk:
    def __init__(
        self,
        authorizer: Authorizer,
        teach: TeachIn,
        devices: Callable[[], Iterable[Mapping[str, Any]]],
        events: Callable[..., None],
        gateways: BackendTags | None = None,
    ) -> None:
        self.auth = authorizer
        self.teach = teach
        self.devices = devices
        self.events = events
        self.gateways = gateways
        self.recent: dict[tuple[str, str], Decision] = {}
        #: boxes without OCPP started from the dashboard: box -> the user's tag, while plugged
        self.starts: dict[str, str] = {}
        #: OCPP boxes sent RemoteStart from the dashboard: (box, tag) -> until (monotonic)
        self.remote: dict[tuple[str, str], float] = {}
        self._refused_seen: set[tuple[str, str]] = set()

    def ocpp_devices(self, cb_id: str, connector: int | None) -> list[Mapping[str, Any]]:
        return [
            d
            for d in self.devices()
            if d.get("kind") == "evse"
            and d.get("driver") == "ocpp"
            and d.get("enabled", True)
            and d.get("address") == cb_id
            and (connector is None or int(d.get("connector_id", 1)) == connector)
        ]

    async def check_ocpp(
        self, cb_id: str, connector: int | None, tag: str | None, protocol: str | None
    ) -> str | None:
        """The status for a tag at an OCPP box; None: a `free` box (the server's policy)."""
        devices = self.ocpp_devices(cb_id, connector)
        if not devices:
            return None
        if tag:
            self.teach.offer(tag, str(devices[0]["id"]))
        verdict = self._remote_start(devices, tag) or await self.decide(tag, devices)
        self._note(devices, tag, verdict)
        if verdict.method == "free":
            return None
        return verdict.for_protocol(protocol)

    async def decide(self, tag: str | None, devices: list[Mapping[str, Any]]) -> Decision:
        gateway = [d for d in devices if mode_of(d) == "gateway"]
        if not gateway or not tag or self.gateways is None:
            return self.auth.decide(tag, devices)
        known = self.recent.get((str(gateway[0]["id"]), tag))
        if known is not None and known.accepted and known.method == "backend":
            return known  # the Authorize just before: not asked twice
        cb_id = str(gateway[0].get("address", ""))
        info = await self.gateways.box_authorize(cb_id, {"idTag": tag})
        if info is None:  # the gateway is not relaying this box (yet): the local users decide
            local = self.auth.check_user(self.auth.users.by_tag(tag), [str(gateway[0]["id"])])
            return Decision(local.status, local.user, "fallback", local.reason)
        status = str(info.get("status") or "Invalid")
        reason = None if status == ACCEPTED else "backend_refused"
        return Decision(status, self.auth.users.by_tag(tag), "backend", reason)

    def seen(self, evse_id: str, tag: str | None) -> None:
        """A box with a reader reports the tag of its plugged-in car (control loop)."""
        device = self.auth.device(evse_id)
        if device is None or not tag:
            return
        self.teach.offer(tag, evse_id)
        if mode_of(device) == "local":
            self._note([device], tag, self.auth.decide(tag, [device]))

    async def start_for(self, evse_id: str, user: UserConfig) -> tuple[Decision, str | None]:
        """A start from the dashboard for `user` at this box: the users table decides, then the
        billing backend (Authorize with the user's tag) if the box has a gateway. Remembered,
        so the box's own Authorize is not asked twice and the session says `remote`."""
        device = self.auth.device(evse_id)
        verdict = self.auth.check_user(user, [evse_id])
        tag = user.tags[0] if user.tags else None
        if not verdict.accepted:
            return replace(verdict, method="remote"), tag
        if device is None or tag is None:
            return Decision("Invalid", user, "remote", "no_tag"), tag
        status = await self.gateways.authorize(evse_id, tag) if self.gateways else None
        if status is not None and status != ACCEPTED:
            verdict = Decision(status, user, "remote", "backend_refused")
        else:
            verdict = Decision(ACCEPTED, user, "remote")
        self._note([device], tag, verdict)
        if verdict.accepted and device.get("driver") == "ocpp":
            self.remote = {k: t for k, t in self.remote.items() if t > time.monotonic()}
            self.remote[(evse_id, tag)] = time.monotonic() + REMOTE_S
        elif verdict.accepted:
            self.starts[evse_id] = tag
        return verdict, tag

    def _remote_start(self, devices: list[Mapping[str, Any]], tag: str | None) -> Decision | None:
        """The box begins what the dashboard asked for: already decided (users, backend)."""
        for d in devices:
            key = (str(d["id"]), tag or "")
            if self.remote.get(key, 0.0) > time.monotonic():
                return self.recent.get(key)
        return None

    def started(self, evse_id: str, plugged: bool) -> str | None:
        """The tag a start from the dashboard gave this box, while its car stays plugged in."""
        if not plugged:
            self.starts.pop(evse_id, None)
            return None
        return self.starts.get(evse_id)

    def local_list(self, cb_id: str) -> dict[str, dict[str, Any]] | None:
        """The cards a `local` OCPP box should know offline, with the status it would get."""
        devices = [d for d in self.ocpp_devices(cb_id, None) if mode_of(d) == "local"]
        if not devices:
            return None
        ids = {str(d["id"]) for d in devices}
        out: dict[str, dict[str, Any]] = {}
        for user in self.auth.users.all():
            if user.evses and not ids & set(user.evses):
                continue
            status = self.auth.check_user(user, ids).status
            expiry = user.expires.isoformat().replace("+00:00", "Z") if user.expires else None
            for tag in user.tags:
                out[tag] = {"status": status, "expiry": expiry}
        return out

    def session_facts(self, evse_id: str, tag: str | None) -> dict[str, str | None]:
        """Who charges at a box without OCPP, and how that was decided, for its session."""
        device = self.auth.device(evse_id)
        verdict = self.auth.decide(tag, [device]) if device is not None else None
        if verdict is None:
            return {"user": tag, "method": None, "result": None}
        if tag and self.starts.get(evse_id) == tag:
            verdict = Decision(verdict.status, verdict.user, "remote", verdict.reason)
        user = verdict.user.name if verdict.user is not None else None
        return {"user": user, "method": verdict.method, "result": verdict.status}

    def _note(self, devices: list[Mapping[str, Any]], tag: str | None, verdict: Decision) -> None:
        for d in devices:
            key = (str(d["id"]), tag or "")
            self.recent[key] = verdict
            if verdict.accepted:
                self._refused_seen.discard(key)
            elif key not in self._refused_seen:  # once per tag and box, not every cycle
                if len(self._refused_seen) >= _MEMORY * 4:
                    self._refused_seen.clear()  # bounded, even if a box sends endless tags
                self._refused_seen.add(key)
                self._refused(d, tag, verdict)
        while len(self.recent) > _MEMORY:
            self.recent.pop(next(iter(self.recent)))

    def _refused(self, device: Mapping[str, Any], tag: str | None, verdict: Decision) -> None:
        name = device.get("name", device["id"])
        self.events(
            "tag_refused",
            f"{name}: tag {tag or '-'} refused ({verdict.status}, {verdict.reason})",
            device=str(device["id"]),
            params={"tag": tag, "box": device["id"], "status": verdict.status,
                    "reason": verdict.reason},
        )  # fmt: skip

    def method_of(self, evse_id: str, tag: str | None) -> tuple[str | None, str | None]:
        """How the last decision on this tag at this box went: (method, status)."""
        verdict = self.recent.get((evse_id, tag or ""))
        if verdict is None:
            return None, None
        return verdict.method, verdict.status
