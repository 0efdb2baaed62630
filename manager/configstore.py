"""The user's configuration on disk (TinyDB, atomic writes), one table per kind of thing."""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any

from tinydb import Query

from manager.config import SCHEMA_VERSION, CircuitConfig, Settings, UserConfig
from manager.modeconfig import migrate_device
from manager.store import CorruptDataError, open_db

CONFIG_FILE = "config.json"


class ConfigStore:
    """Reads and writes settings, circuits, devices, users and the admin credentials.

    Every method that changes something is one TinyDB write, which is one atomic file replace:
    an acknowledged change is on disk, and a power cut leaves the old or the new file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / CONFIG_FILE
        self.db = open_db(self.path)
        meta = self.db.table("meta")
        row = meta.get(doc_id=1)
        if row is None:
            if len(self.db.tables() - {"meta"}) == 0:
                meta.insert({"schema_version": SCHEMA_VERSION, "secret": secrets.token_hex(32)})
            else:
                raise CorruptDataError(f"data file {self.path} has no schema version")
        elif int(row.get("schema_version", 0)) > SCHEMA_VERSION:
            raise CorruptDataError(
                f"data file {self.path} is from a newer ampshare "
                f"(schema {row['schema_version']} > {SCHEMA_VERSION})"
            )

    def close(self) -> None:
        self.db.close()

    # -- meta ----------------------------------------------------------------------------
    def _meta(self) -> dict[str, Any]:
        return dict(self.db.table("meta").get(doc_id=1) or {})

    def session_secret(self) -> bytes:
        return bytes.fromhex(str(self._meta()["secret"]))

    def admin_hash(self) -> str | None:
        value = self._meta().get("admin_hash")
        return str(value) if value else None

    def set_admin_hash(self, value: str) -> None:
        self.db.table("meta").update({"admin_hash": value}, doc_ids=[1])

    # -- settings ------------------------------------------------------------------------
    def settings(self) -> Settings:
        row = self.db.table("settings").get(doc_id=1)
        return Settings.model_validate(dict(row)) if row else Settings()

    def save_settings(self, settings: Settings) -> None:
        table = self.db.table("settings")
        data = settings.model_dump(mode="json")
        if table.get(doc_id=1) is None:
            table.insert(data)
        else:
            table.update(data, doc_ids=[1])

    # -- keyed tables --------------------------------------------------------------------
    def _all(self, name: str) -> list[dict[str, Any]]:
        return [dict(row) for row in self.db.table(name).all()]

    def _put(self, name: str, item: dict[str, Any]) -> None:
        self.db.table(name).upsert(item, Query().id == item["id"])

    def _delete(self, name: str, item_id: str) -> bool:
        return bool(self.db.table(name).remove(Query().id == item_id))

    def circuits(self) -> list[CircuitConfig]:
        return [CircuitConfig.model_validate(row) for row in self._all("circuits")]

    def put_circuit(self, circuit: CircuitConfig) -> None:
        self._put("circuits", circuit.model_dump(mode="json"))

    def delete_circuit(self, circuit_id: str) -> bool:
        return self._delete("circuits", circuit_id)

    def devices(self) -> list[dict[str, Any]]:
        return [migrate_device(d) for d in self._all("devices")]

    def put_device(self, device: dict[str, Any]) -> None:
        self._put("devices", device)

    def delete_device(self, device_id: str) -> bool:
        return self._delete("devices", device_id)

    def users(self) -> list[UserConfig]:
        return [UserConfig.model_validate(row) for row in self._all("users")]

    def user_by_tag(self, id_tag: str) -> UserConfig | None:
        for user in self.users():
            if user.id_tag == id_tag:
                return user
        return None

    def put_user(self, user: UserConfig) -> None:
        self._put("users", user.model_dump(mode="json"))

    def delete_user(self, user_id: str) -> bool:
        return self._delete("users", user_id)
