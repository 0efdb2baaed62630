"""Editing the RFID users: a name and a tag each, no tag twice.

Part of the facade (`manager.service.Service` inherits it).
"""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import ValidationError

from manager.config import InvalidInput, NotFound, UserConfig, new_id
from manager.configstore import ConfigStore


class UserEdits:
    store: ConfigStore
    _lock: asyncio.Lock

    def list_users(self) -> list[dict[str, Any]]:
        return [u.model_dump(mode="json") for u in self.store.users()]

    async def create_user(self, data: dict[str, Any]) -> dict[str, Any]:
        if not isinstance(data, dict):
            raise InvalidInput.one("body", "expected a JSON object")
        async with self._lock:
            users = self.store.users()
            taken = {u.id for u in users}
            try:
                user = UserConfig.model_validate({**data, "id": new_id(data, taken)})
            except ValidationError as exc:
                raise InvalidInput.from_pydantic(exc) from None
            if self.store.user_by_tag(user.id_tag) is not None:
                raise InvalidInput.one("id_tag", "this tag belongs to another user")
            self.store.put_user(user)
        return user.model_dump(mode="json")

    async def delete_user(self, user_id: str) -> None:
        async with self._lock:
            if not self.store.delete_user(user_id):
                raise NotFound(f"no user {user_id!r}")
