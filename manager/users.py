"""RFID users: the stored model, its rules, and the table with an O(1) index by tag.

A tag belongs to at most one user. OCPP compares id tags case-insensitively (CiString), so the
index and the uniqueness rule use the upper-case form; the tag is stored as typed.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from manager.auth import MIN_PASSWORD, check_new_password, hash_password
from manager.config import ID_PATTERN, InvalidInput
from manager.invalid import problem
from manager.model import Problem

log = logging.getLogger(__name__)

#: OCPP 2.0.1 IdToken.idToken is string(36); 1.6 idTag is CiString20
TAG_MAX_201 = 36
TAG_MAX_16 = 20
ChargeMode = Literal["off", "now", "minpv", "pv", "plan"]


def tag_key(tag: str) -> str:
    """The form tags are compared in (OCPP CiString: case-insensitive)."""
    return tag.upper()


def tag_problem(tag: object) -> str | None:
    """Why OCPP cannot carry this tag (None: it can)."""
    if not isinstance(tag, str) or not tag:
        return "must be a non-empty text"
    if len(tag) > TAG_MAX_201:
        return f"at most {TAG_MAX_201} characters (OCPP 2.0.1; 1.6 allows {TAG_MAX_16})"
    if any(not (0x20 < ord(c) < 0x7F) for c in tag):
        return "only printable ASCII without spaces (OCPP idTag)"
    return None


class UserConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)

    id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=64)
    tags: list[str] = Field(default_factory=list, max_length=20, description="RFID tags")
    pin: str | None = Field(None, pattern=r"^\d{4,8}$", description="PIN, 4-8 digits")
    evses: list[str] = Field(
        default_factory=list, description="Wallboxes (device ids) allowed; empty: all"
    )
    max_current_a: float | None = Field(None, ge=6, le=80, description="Max current (A)")
    phases: Literal[1, 3] | None = Field(None, description="Phases to charge with")
    charge_mode: ChargeMode | None = Field(None, description="Charge mode for this user")
    priority: int | None = Field(None, ge=0, le=9, description="Higher is served first")
    expires: datetime | None = Field(None, description="No longer accepted from then on")
    enabled: bool = Field(True, description="Off: every tag of this user is blocked")
    #: hash of the self-service password (write-only; empty: no password login)
    password_hash: str | None = Field(None, json_schema_extra={"writeOnly": True})
    #: sha256 of the one open login link and when it ends (unix time)
    login_link_hash: str | None = Field(None, json_schema_extra={"writeOnly": True})
    login_link_expires: int | None = None

    @model_validator(mode="before")
    @classmethod
    def _migrate(cls, data: Any) -> Any:
        """The old single `id_tag` becomes the first of `tags`."""
        if isinstance(data, Mapping) and "id_tag" in data:
            data = dict(data)
            old = data.pop("id_tag")
            tags = list(data.get("tags") or [])
            if old is not None and old not in tags:
                tags.insert(0, old)
            data["tags"] = tags
        return data

    @field_validator("tags")
    @classmethod
    def _tags(cls, tags: list[str]) -> list[str]:
        seen: set[str] = set()
        for tag in tags:
            problem = tag_problem(tag)
            if problem:
                raise Problem("bad_tag", f"{tag!r}: {problem}", tag=tag)
            if tag_key(tag) in seen:
                raise Problem("tag_twice", f"{tag!r} is listed twice", tag=tag)
            seen.add(tag_key(tag))
        return tags

    @field_validator("evses")
    @classmethod
    def _evses(cls, evses: list[str]) -> list[str]:
        return list(dict.fromkeys(evses))

    @field_validator("expires")
    @classmethod
    def _aware(cls, value: datetime | None) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)  # a time without offset is UTC
        return value

    def expired(self, now: datetime) -> bool:
        return self.expires is not None and now >= self.expires

    def public(self) -> dict[str, Any]:
        """As the API shows it: the PIN and the password are write-only."""
        hidden = {"pin", "password_hash", "login_link_hash", "login_link_expires"}
        out = self.model_dump(mode="json", exclude=hidden)
        out["pin_set"] = self.pin is not None
        out["password_set"] = bool(self.password_hash)
        return out


def _field(data: Mapping[str, Any], index: int) -> str:
    """Name the tag field the way the input named it (old clients send `id_tag`)."""
    return "id_tag" if "id_tag" in data and "tags" not in data else f"tags.{index}"


class Change:
    """One edit of the users table, as local-list followers need it: tag -> user or None."""

    def __init__(self, before: UserConfig | None, after: UserConfig | None) -> None:
        self.before = before
        self.after = after


class UserBook:
    """The users table in memory, with the index by tag; every write goes to the store first.

    `store` needs `users()`, `put_user(user)` and `delete_user(id)`.
    """

    def __init__(self, store: Any) -> None:
        self.store = store
        self._users: dict[str, UserConfig] = {u.id: u for u in store.users()}
        self._by_tag: dict[str, str] = {}
        self.listeners: list[Callable[[Change], None]] = []
        self._reindex()

    def _reindex(self) -> None:
        self._by_tag = {tag_key(t): u.id for u in self._users.values() for t in u.tags}

    def all(self) -> list[UserConfig]:
        return list(self._users.values())

    def get(self, user_id: str) -> UserConfig | None:
        return self._users.get(user_id)

    def by_tag(self, tag: str) -> UserConfig | None:
        uid = self._by_tag.get(tag_key(tag))
        return self._users.get(uid) if uid is not None else None

    def by_name(self, name: str) -> UserConfig | None:
        key = name.strip().casefold()
        return next((u for u in self._users.values() if u.name.casefold() == key), None)

    # -- validation ----------------------------------------------------------------------
    def check(
        self,
        data: Mapping[str, Any],
        *,
        user_id: str,
        creating: bool,
        devices: Iterable[str],
        now: datetime | None = None,
    ) -> UserConfig:
        """The user `data` describes, or InvalidInput with every mistake at once."""
        errors: list[dict[str, str]] = []
        user: UserConfig | None = None
        try:
            user = UserConfig.model_validate({**data, "id": user_id})
        except ValidationError as exc:
            errors += InvalidInput.from_pydantic(exc).errors
        errors += self._cross_errors(data, user_id, set(devices))
        name = data.get("name")
        twin = self.by_name(name) if isinstance(name, str) else None
        if twin is not None and twin.id != user_id:  # sessions are filed by name
            errors.append(problem("name", "name_taken", "another user has this name"))
        if creating and user is not None and user.expired(now or datetime.now(UTC)):
            errors.append(problem("expires", "in_the_past", "lies in the past"))
        if errors or user is None:
            raise InvalidInput(errors)
        return user

    def _cross_errors(
        self, data: Mapping[str, Any], user_id: str, devices: set[str]
    ) -> list[dict[str, str]]:
        """Rules across the table: a tag of another user, a wallbox that does not exist."""
        errors: list[dict[str, str]] = []
        tags = list(data.get("tags") or []) if isinstance(data.get("tags"), list) else []
        if isinstance(data.get("id_tag"), str) and data["id_tag"] not in tags:
            tags.insert(0, data["id_tag"])
        for i, tag in enumerate(tags):
            owner = self.by_tag(tag) if isinstance(tag, str) else None
            if owner is not None and owner.id != user_id:
                msg = f"{tag!r} belongs to {owner.name}"
                errors.append(problem(_field(data, i), "tag_taken", msg, tag=tag, user=owner.name))
        evses = data.get("evses")
        if isinstance(evses, list):
            for i, evse in enumerate(evses):
                if isinstance(evse, str) and evse not in devices:
                    msg = f"no wallbox {evse!r}"
                    errors.append(problem(f"evses.{i}", "unknown_wallbox", msg, id=evse))
        return errors

    # -- writes --------------------------------------------------------------------------
    def put(self, user: UserConfig) -> None:
        before = self._users.get(user.id)
        self.store.put_user(user)
        self._users[user.id] = user
        self._reindex()
        self._tell(Change(before, user))

    def delete(self, user_id: str) -> bool:
        before = self._users.get(user_id)
        if before is None or not self.store.delete_user(user_id):
            return False
        del self._users[user_id]
        self._reindex()
        self._tell(Change(before, None))
        return True

    def _tell(self, change: Change) -> None:
        for listener in list(self.listeners):
            try:
                listener(change)
            except Exception:
                log.exception("a follower of the users table failed")


def user_input(data: Mapping[str, Any], old: UserConfig | None) -> dict[str, Any]:
    """API input merged over the stored user: `pin` and `password` are write-only ("" keeps,
    null clears); a new password is checked and stored as a hash."""
    fields = dict(data)
    for key in ("pin_set", "password_set", "login_link_hash", "login_link_expires"):
        fields.pop(key, None)
    stored = old.model_dump(mode="json") if old is not None else {}
    stored.pop("id", None)
    if old is not None and "id_tag" in fields and "tags" not in fields:
        fields["tags"] = []  # PATCH with the old field replaces the tags
    if fields.get("pin") == "":
        fields.pop("pin")
    password = fields.pop("password", "")
    if password is None:
        fields["password_hash"] = None
    elif password != "":
        fields["password_hash"] = _password_hash(password)
    return {**stored, **fields}


def _password_hash(password: object) -> str:
    if not isinstance(password, str):
        raise InvalidInput.one("password", "must be a text", "string_type")
    try:
        check_new_password(password)
    except ValueError as exc:
        raise InvalidInput.one("password", str(exc), "password_short", min=MIN_PASSWORD) from None
    return hash_password(password)
