"""The users part of the facade: RFID users, teach-in, session reports, self-service.

A mixin of manager.service.Service, kept apart so each file stays about one thing; it uses the
facade's store, lock, users table, teach-in window and session store.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import secrets
import time
from collections.abc import Callable
from typing import Any

from manager import session_report
from manager.auth import LoginThrottle, Throttled, verify_password
from manager.config import InvalidInput, NotFound, new_id
from manager.model import ChargeStatus
from manager.tagdesk import TagDesk
from manager.teachin import TeachIn
from manager.users import UserBook, UserConfig, user_input

log = logging.getLogger("ampshare.service")

#: how long a login link works (it works once)
LINK_DAYS = 7


#: why a start from the dashboard was refused, as the API says it
_REFUSED = {
    "user_disabled": "is disabled",
    "user_expired": "has expired",
    "wrong_box": "may not use this wallbox",
    "no_tag": "has no tag",
    "backend_refused": "refused by the billing backend ({status})",
}


class UsersFacade:
    store: Any
    users: UserBook
    teach: TeachIn
    desk: TagDesk | None
    control: Any
    events: Any
    device_listeners: list[Callable[[], None]]
    sessions: Any
    _lock: asyncio.Lock

    def devices_changed(self) -> None:
        """A wallbox was added, changed or removed: followers (local lists) catch up."""
        for listener in self.device_listeners:
            try:
                listener()
            except Exception:
                log.exception("a follower of the device list failed")

    def list_sessions(self, **filters: str | None) -> list[dict[str, Any]]:
        raise NotImplementedError

    async def update_device(self, device_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        raise NotImplementedError

    def get_device(self, device_id: str) -> dict[str, Any]:
        raise NotImplementedError

    async def station_action(
        self, charge_box_id: str, action: str, params: Any, who: str
    ) -> dict[str, Any]:
        raise NotImplementedError

    # -- users ---------------------------------------------------------------------------
    def list_users(self) -> list[dict[str, Any]]:
        return [u.public() for u in self.users.all()]

    def get_user(self, user_id: str) -> dict[str, Any]:
        return self._user(user_id).public()

    def _user(self, user_id: str) -> UserConfig:
        user = self.users.get(user_id)
        if user is None:
            raise NotFound(f"no user {user_id!r}")
        return user

    def _evse_ids(self) -> list[str]:
        return [d["id"] for d in self.store.devices() if d.get("kind") == "evse"]

    async def create_user(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            uid = new_id(data, {u.id for u in self.users.all()})
            fields = user_input(data, None)
            user = self.users.check(fields, user_id=uid, creating=True, devices=self._evse_ids())
            self.users.put(user)
        log.info("user %s added with %d tag(s)", user.id, len(user.tags))
        return user.public()

    async def update_user(self, user_id: str, patch: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(patch, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            old = self._user(user_id)
            if "id" in patch and patch["id"] != user_id:
                raise InvalidInput.one(
                    "id", "cannot be changed; delete and add instead", "immutable"
                )
            fields = user_input(patch, old)
            user = self.users.check(
                fields, user_id=user_id, creating=False, devices=self._evse_ids()
            )
            self.users.put(user)
        return user.public()

    async def delete_user(self, user_id: str) -> None:
        async with self._lock:
            if not self.users.delete(user_id):
                raise NotFound(f"no user {user_id!r}")

    # -- teach-in: the next unknown card goes to one user ------------------------------------
    def start_teach_in(self, user_id: object) -> dict[str, Any]:
        if not isinstance(user_id, str) or self.users.get(user_id) is None:
            raise InvalidInput.one("user", f"no user {user_id!r}")
        return self.teach.start(user_id)

    def teach_in_status(self) -> dict[str, Any]:
        return self.teach.status()

    def cancel_teach_in(self) -> dict[str, Any]:
        self.teach.cancel()
        return self.teach.status()

    @staticmethod
    def session_totals(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return session_report.totals(rows)

    @staticmethod
    def session_totals_by(rows: list[dict[str, Any]], by: str) -> list[dict[str, Any]]:
        return session_report.totals_by(rows, by)

    @staticmethod
    def signed_export(rows: list[dict[str, Any]]) -> str:
        return session_report.signed_export(rows)

    # -- self-service: a user's own login, sessions and charge modes -------------------------
    async def verify_user(self, name: str, password: str, client: str) -> str | None:
        """The id of the user with this name and password (None: wrong); throttled per client
        like the admin login."""
        throttle = self._user_throttle()
        wait = throttle.wait(client)
        if wait > 0:
            raise Throttled(wait)
        user = self.users.by_name(name)
        stored = user.password_hash if user is not None and user.enabled else None
        ok = stored is not None and await asyncio.to_thread(verify_password, password, stored)
        if not ok or user is None:
            throttle.failed(client)
            log.warning("failed user login from %s", client)
            return None
        throttle.succeeded(client)
        return user.id

    def _user_throttle(self) -> LoginThrottle:
        found: LoginThrottle | None = getattr(self, "_users_throttle", None)
        if found is None:
            found = LoginThrottle()
            self._users_throttle = found
        return found

    async def create_login_link(self, user_id: str) -> dict[str, Any]:
        """A one-time login token for this user, valid LINK_DAYS days; replaces an older one."""
        async with self._lock:
            user = self._user(user_id)
            token = secrets.token_urlsafe(24)
            expires = int(time.time()) + LINK_DAYS * 86400
            digest = hashlib.sha256(token.encode()).hexdigest()
            update = {"login_link_hash": digest, "login_link_expires": expires}
            self.users.put(user.model_copy(update=update))
        return {"token": token, "path": f"/login/link/{token}", "expires": expires}

    async def redeem_login_link(self, token: str) -> str | None:
        """The user id the link logs in (once); None for an unknown, used or expired link."""
        digest = hashlib.sha256(token.encode()).hexdigest()
        async with self._lock:
            user = next((u for u in self.users.all() if u.login_link_hash == digest), None)
            if user is None:
                return None
            self.users.put(user.model_copy(update={"login_link_hash": None,
                                                   "login_link_expires": None}))  # fmt: skip
        if not user.enabled or (user.login_link_expires or 0) < time.time():
            return None
        return user.id

    def me(self, user_id: str) -> dict[str, Any]:
        """What a user sees of themselves: name, tags, and the boxes they may use."""
        user = self._user(user_id)
        boxes = [
            {"id": d["id"], "name": d["name"], "charge_mode": d.get("charge_mode", "now")}
            for d in self.store.devices()
            if d.get("kind") == "evse" and (not user.evses or d["id"] in user.evses)
        ]
        return {"id": user.id, "name": user.name, "tags": user.tags, "evses": boxes}

    def my_sessions(self, user_id: str, **filters: str | None) -> list[dict[str, Any]]:
        user = self._user(user_id)
        rows = self.list_sessions(**{**filters, "user": user.name})
        return [r for r in rows if r.get("user") == user.name]

    def my_sessions_csv(self, user_id: str, **filters: str | None) -> str:
        rows = self.my_sessions(user_id, **filters)
        return self.sessions.to_csv(rows) if self.sessions is not None else ""

    async def set_my_charge_mode(self, user_id: str, evse_id: str, mode: object) -> dict[str, Any]:
        allowed = {b["id"] for b in self.me(user_id)["evses"]}
        if evse_id not in allowed:
            raise NotFound(f"no wallbox {evse_id!r} for this user")
        await self.update_device(evse_id, {"charge_mode": mode})
        return next(b for b in self.me(user_id)["evses"] if b["id"] == evse_id)

    # -- start as a user: an admin releases a box for someone from the dashboard --------------
    async def start_for_user(self, evse_id: str, user_id: object, who: str) -> dict[str, Any]:
        """Start charging at a wallbox as `user_id`, with the user's first tag: an OCPP box gets
        RemoteStart, another box is released as if the card had been presented (while its car
        stays plugged in). The billing backend of a box with a gateway gets Authorize first.
        Raises NotFound, InvalidInput (refused, no car), StationOffline/StationTimeout."""
        device = self.get_device(evse_id)
        if device.get("kind") != "evse":
            raise NotFound(f"no wallbox {evse_id!r}")
        if not isinstance(user_id, str) or self.users.get(user_id) is None:
            raise InvalidInput.one("user", f"no user {user_id!r}")
        if self.desk is None:
            raise NotFound("authorization is not running")
        ocpp = device.get("driver") == "ocpp"
        if not ocpp and not self._plugged(evse_id):
            raise InvalidInput.one("evse", "no car plugged in")
        user = self._user(user_id)
        verdict, tag = await self.desk.start_for(evse_id, user)
        if not verdict.accepted or tag is None:
            words = _REFUSED.get(verdict.reason or "", "refused ({status})")
            raise InvalidInput.one("user", words.format(status=verdict.status))
        status = "Accepted"
        if ocpp:
            params = {"id_tag": tag, "connector_id": int(device.get("connector_id", 1))}
            answer = await self.station_action(str(device["address"]), "remote_start", params, who)
            status = str(answer["status"])
        self.events(
            "started_as_user",
            f"{who}: {device.get('name', evse_id)} started as {user.name} ({tag}): {status}",
            device=evse_id,
            params={"user": user.name, "tag": tag, "status": status, "by": who},
        )
        return {"evse": evse_id, "user": user.id, "tag": tag, "status": status}

    def _plugged(self, evse_id: str) -> bool:
        st = self.control.evses.get(evse_id) if self.control is not None else None
        r = st.reading if st is not None and st.online else None
        return r is not None and r.status in (ChargeStatus.CONNECTED, ChargeStatus.CHARGING)
