"""The user's configuration on disk (TinyDB, atomic writes), one table per kind of thing."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError
from tinydb import Query

from manager.config import (
    SCHEMA_VERSION,
    CircuitConfig,
    InvalidInput,
    Settings,
    check_tree,
    valid_id,
)
from manager.modeconfig import migrate_device
from manager.store import CorruptDataError, open_db
from manager.users import UserConfig

CONFIG_FILE = "config.json"
MIN_SECRET_BYTES = 16


def _first_error(exc: ValidationError | InvalidInput) -> str:
    """One short phrase for the operator: the first wrong field and why."""
    if isinstance(exc, InvalidInput):
        err = exc.errors[0]
        return f"{err['field']}: {err['message']}"
    err = exc.errors()[0]
    field = ".".join(str(p) for p in err["loc"]) or "value"
    return f"{field}: {err['msg']}"


def _whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_meta(path: Path, row: dict[str, Any]) -> None:
    _check_version(path, row.get("schema_version"))
    _check_secret(path, row.get("secret"))
    if not isinstance(row.get("admin_hash") or "", str):
        raise CorruptDataError(f"data file {path}: the admin password hash is not text")
    revoked = row.get("revoked_sessions") or {}
    if not _whole(row.get("session_generation", 0)):
        raise CorruptDataError(f"data file {path}: the session generation is not a number")
    if not isinstance(revoked, dict) or not all(_whole(v) for v in revoked.values()):
        raise CorruptDataError(f"data file {path}: the ended sessions are not a table of times")


def _check_version(path: Path, version: object) -> None:
    if not _whole(version) or version == 0:
        raise CorruptDataError(f"data file {path} has no valid schema version")
    assert isinstance(version, int)
    if version > SCHEMA_VERSION:
        raise CorruptDataError(
            f"data file {path} is from a newer ampshare (schema {version} > {SCHEMA_VERSION})"
        )


def _check_secret(path: Path, secret: object) -> None:
    try:
        ok = isinstance(secret, str) and len(bytes.fromhex(secret)) >= MIN_SECRET_BYTES
    except ValueError:
        ok = False
    if not ok:
        raise CorruptDataError(
            f"data file {path}: the session secret is not {MIN_SECRET_BYTES}+ bytes of hex"
        )


class ConfigStore:
    """Reads and writes settings, circuits, devices, users and the admin credentials.

    Every method that changes something is one TinyDB write, which is one atomic file replace:
    an acknowledged change is on disk, and a power cut leaves the old or the new file.
    """

    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / CONFIG_FILE
        self.db = open_db(self.path)
        row = self.db.table("meta").get(doc_id=1)
        if row is None and self.db.tables() - {"meta"}:
            raise CorruptDataError(f"data file {self.path} has no schema version")
        if row is not None:
            _check_meta(self.path, dict(row))
            self._check_contents()
        else:  # a new file: validated by construction
            meta = {"schema_version": SCHEMA_VERSION, "secret": secrets.token_hex(32)}
            self.db.table("meta").insert(meta)

    def _check_contents(self) -> None:
        """Everything stored loads, or CorruptDataError names the file and the first fault."""
        rows: list[tuple[str, type[BaseModel], dict[str, Any]]] = [
            ("settings", Settings, dict(row)) for row in self.db.table("settings").all()
        ]
        rows += [("circuits", CircuitConfig, row) for row in self._all("circuits")]
        rows += [("users", UserConfig, row) for row in self._all("users")]
        for table, model, row in rows:
            try:
                model.model_validate(row)
            except ValidationError as exc:
                raise CorruptDataError(
                    f"data file {self.path}: {table} entry {row.get('id', '')!r} is invalid "
                    f"({_first_error(exc)})"
                ) from None
        for device in self._all("devices"):
            if not isinstance(device.get("id"), str) or not valid_id(device["id"]):
                raise CorruptDataError(f"data file {self.path}: a device has no valid id")
        try:
            check_tree(self.circuits())
        except InvalidInput as exc:
            raise CorruptDataError(f"data file {self.path}: {_first_error(exc)}") from None

    def migrate_users(self) -> None:
        """Users stored with the old single `id_tag` get it as `tags` (validated above)."""
        for row in self._all("users"):
            if "id_tag" in row:
                self.put_user(UserConfig.model_validate(row))

    def check_devices(self, check: Callable[[dict[str, Any]], object]) -> None:
        """Runs each stored device through `check` (the drivers' validation) before start-up."""
        for device in self._all("devices"):
            try:
                check(migrate_device(device))
            except InvalidInput as exc:
                raise CorruptDataError(
                    f"data file {self.path}: device {device['id']!r} is invalid "
                    f"({_first_error(exc)})"
                ) from None

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
        """A new password also ends every login session, in the same write."""
        generation, _ = self.session_ledger()
        change = {"admin_hash": value, "session_generation": generation + 1, "revoked_sessions": {}}
        self.db.table("meta").update(change, doc_ids=[1])

    def session_ledger(self) -> tuple[int, dict[str, int]]:
        """The login session generation and the sessions ended early (id -> expiry)."""
        meta = self._meta()
        return int(meta.get("session_generation", 0)), dict(meta.get("revoked_sessions") or {})

    def save_session_ledger(self, generation: int, revoked: dict[str, int]) -> None:
        change = {"session_generation": generation, "revoked_sessions": revoked}
        self.db.table("meta").update(change, doc_ids=[1])

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

    def put_user(self, user: UserConfig) -> None:
        row = user.model_dump(mode="json")
        table = self.db.table("users")

        def replace(doc: dict[str, Any]) -> None:  # one write, and old fields do not linger
            doc.clear()
            doc.update(row)

        if not table.update(replace, Query().id == user.id):
            table.insert(row)

    def delete_user(self, user_id: str) -> bool:
        return self._delete("users", user_id)
