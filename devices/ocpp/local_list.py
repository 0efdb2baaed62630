"""The boxes' own lists of known cards (OCPP local authorization list), kept in step with the
users table, so a box can authorize known cards while ampshare is unreachable.

Per box: GetLocalListVersion first. If the box holds the version we last sent, only the
difference goes out (Differential, version + 1); otherwise, or after VersionMismatch/Failed,
the whole list (Full). Large lists go in chunks of the box's maximum per message. What was
sent is kept on disk, so a restart of ampshare still sends only differences.

The manager says what a box should hold through `hooks.local_list(charge_box_id)`:
`{tag: {"status": ..., "expiry": iso or None}}`, or None when the box needs no list.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from devices.ocpp.connection import CallTimeout, NotConnected, OcppCallError, OcppConnection

log = logging.getLogger(__name__)

DEFAULT_CHUNK = 100
Entries = dict[str, dict[str, Any]]


def _int(value: Any, default: int) -> int:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


class LocalLists:
    def __init__(self, hooks: Any, data_dir: Path) -> None:
        self.hooks = hooks
        self.path = Path(data_dir) / "ocpp" / "local_lists.json"
        self.sent: dict[str, dict[str, Any]] = self._load()
        self._locks: dict[str, asyncio.Lock] = {}
        #: per box: (the connection it was checked on, has a list, chunk size); dropped after
        #: a refusal, so the next sync asks the version again and may send it all
        self._checked: dict[str, tuple[OcppConnection, bool, int]] = {}

    # ------------------------------------------------------------------ disk

    def _load(self) -> dict[str, dict[str, Any]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            log.warning(
                "local lists %s unreadable (%s): every box gets a full list", self.path, exc
            )
            return {}
        return data if isinstance(data, dict) else {}

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".local_lists.", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as fh:
                json.dump(self.sent, fh, separators=(",", ":"))
                fh.flush()
                os.fsync(fh.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    # ------------------------------------------------------------------ sync

    async def sync(self, conn: OcppConnection) -> None:
        """Bring this box's list in step; errors are logged, never raised."""
        lock = self._locks.setdefault(conn.id, asyncio.Lock())
        async with lock:
            try:
                await self._sync(conn)
            except (NotConnected, asyncio.CancelledError):
                return
            except (CallTimeout, OcppCallError) as exc:
                log.warning("%s: local list not updated: %s", conn.id, exc)
                self.forget(conn)
            except Exception:
                log.exception("%s: local list update failed", conn.id)

    async def _sync(self, conn: OcppConnection) -> None:
        want = self.hooks.local_list(conn.id)
        if want is None or conn.closed:
            return
        v16 = conn.record.protocol == "1.6"
        if v16:
            want = {t: e for t, e in want.items() if len(t) <= 20}  # CiString20
        checked = self._checked.get(conn.id)
        full = False
        if checked is None or checked[0] is not conn:
            version = await self._box_version(conn, v16)
            if version is None:
                self._checked[conn.id] = (conn, False, 0)
                return
            checked = (conn, True, await self._enable(conn, v16))
            self._checked[conn.id] = checked
            full = self.sent.get(conn.id, {}).get("version") != version
            if full:
                self.sent[conn.id] = {"version": version, "entries": {}}
        if not checked[1]:
            return  # the box has no local list
        await self._send(conn, v16, want, full, checked[2])

    async def _box_version(self, conn: OcppConnection, v16: bool) -> int | None:
        try:
            reply = await conn.request("GetLocalListVersion", {})
        except OcppCallError as exc:
            if exc.code in ("NotImplemented", "NotSupported"):
                log.info("%s: no local authorization list (%s)", conn.id, exc.code)
                return None
            raise
        version = _int(reply.get("listVersion" if v16 else "versionNumber"), -1)
        if version < 0:
            log.info("%s: no local authorization list (version %s)", conn.id, version)
            return None
        return version

    async def _enable(self, conn: OcppConnection, v16: bool) -> int:
        """Switch local authorization on; returns the entries allowed per message."""
        if v16:
            for key in ("LocalAuthListEnabled", "LocalAuthorizeOffline"):
                await conn.try_request("ChangeConfiguration", {"key": key, "value": "true"})
            reply = await conn.try_request("GetConfiguration", {"key": ["SendLocalListMaxLength"]})
            keys = (reply or {}).get("configurationKey") or []
            value = next((k.get("value") for k in keys if isinstance(k, dict)), None)
            return max(1, _int(value, DEFAULT_CHUNK))
        variables = [
            ("LocalAuthListCtrlr", "Enabled"),
            ("AuthCacheCtrlr", "Enabled"),
            ("AuthCtrlr", "LocalAuthorizeOffline"),
        ]
        data = [
            {"component": {"name": c}, "variable": {"name": v}, "attributeValue": "true"}
            for c, v in variables
        ]
        await conn.try_request("SetVariables", {"setVariableData": data})
        reply = await conn.try_request(
            "GetVariables",
            {"getVariableData": [{"component": {"name": "LocalAuthListCtrlr"},
                                  "variable": {"name": "ItemsPerMessage"}}]},
        )  # fmt: skip
        results = (reply or {}).get("getVariableResult") or [{}]
        return max(1, _int(results[0].get("attributeValue"), DEFAULT_CHUNK))

    async def _send(
        self, conn: OcppConnection, v16: bool, want: Entries, full: bool, chunk: int
    ) -> None:
        state = self.sent.setdefault(conn.id, {"version": 0, "entries": {}})
        have: Entries = state["entries"]
        if full:
            items = [(t, want[t]) for t in sorted(want)]
            first, rest = items[:chunk], items[chunk:]
            await self._update(conn, v16, "Full", first, state)
            have = state["entries"]
            changes = rest
        else:
            changes = [(t, e) for t, e in sorted(want.items()) if have.get(t) != e]
            changes += [(t, None) for t in sorted(have) if t not in want]
        for i in range(0, len(changes), chunk):
            await self._update(conn, v16, "Differential", changes[i : i + chunk], state)

    async def _update(
        self,
        conn: OcppConnection,
        v16: bool,
        kind: str,
        items: list[tuple[str, dict[str, Any] | None]],
        state: dict[str, Any],
    ) -> None:
        version = int(state["version"]) + 1
        entries = [_entry(tag, info, v16) for tag, info in items]
        if v16:
            payload = {"listVersion": version, "updateType": kind,
                       "localAuthorizationList": entries}  # fmt: skip
        else:
            payload = {"versionNumber": version, "updateType": kind,
                       "localAuthorizationList": entries}  # fmt: skip
        reply = await conn.request("SendLocalList", payload)
        status = reply.get("status")
        if status != "Accepted":
            self.forget(conn)  # next time: ask the version, and send it all if it differs
            raise OcppCallError("SendLocalList", str(status), f"{kind} list v{version} refused")
        held = {} if kind == "Full" else dict(state["entries"])
        for tag, info in items:
            if info is None:
                held.pop(tag, None)
            else:
                held[tag] = info
        state["version"], state["entries"] = version, held
        self._save()
        log.info("%s: local list v%d (%s, %d entries)", conn.id, version, kind, len(items))

    def forget(self, conn: OcppConnection) -> None:
        self._checked.pop(conn.id, None)


def _entry(tag: str, info: dict[str, Any] | None, v16: bool) -> dict[str, Any]:
    if v16:
        out: dict[str, Any] = {"idTag": tag}
        if info is not None:
            out["idTagInfo"] = {"status": info["status"]}
            if info.get("expiry"):
                out["idTagInfo"]["expiryDate"] = info["expiry"]
        return out
    out = {"idToken": {"idToken": tag, "type": "ISO14443"}}
    if info is not None:
        status = info["status"]
        out["idTokenInfo"] = {"status": status}
        if info.get("expiry"):
            out["idTokenInfo"]["cacheExpiryDateTime"] = info["expiry"]
    return out
