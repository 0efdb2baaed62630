"""The users part of the facade: RFID users, teach-in, session reports, self-service.

A mixin of manager.service.Service, kept apart so each file stays about one thing; it uses the
facade's store, lock, users table, teach-in window and session store.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from manager import session_report
from manager.config import InvalidInput
from manager.teachin import TeachIn
from manager.users import UserBook, UserConfig, user_input

log = logging.getLogger("ampshare.service")


class NotFound(KeyError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class UsersFacade:
    store: Any
    users: UserBook
    teach: TeachIn
    sessions: Any
    _lock: asyncio.Lock

    def _new_id(self, data: dict[str, Any], taken: set[str]) -> str:
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
            uid = self._new_id(data, {u.id for u in self.users.all()})
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
                raise InvalidInput.one("id", "cannot be changed; delete and add instead")
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
    def signed_export(rows: list[dict[str, Any]]) -> str:
        return session_report.signed_export(rows)
